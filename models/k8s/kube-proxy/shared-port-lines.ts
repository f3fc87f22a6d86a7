/**
 * A Service port's rules as every node writes them when none of the port's
 * endpoints is on that node: the same text, so the first node writes it and
 * the others copy it (a cluster's nodes each sync 10,000 background
 * Services). Kept by the port's endpoint list as those nodes share it
 * (endpointsForPort), then by the node settings the writer reads.
 */
import type { EndpointInfo } from './endpoints.js';
import type { ServicePortInfo } from './service-port.js';

export class SharedPortLines<T> {
  private readonly byEndpoints = new WeakMap<readonly EndpointInfo[], Map<string, T>>();

  /**
   * The lines `write` makes for the port, written once for its endpoint list
   * and `settings` (the node's settings the writer reads, as a key), or null
   * when the port's lines are the node's own: a local endpoint changes them,
   * and load-balancer source ranges are checked against the node's IP.
   */
  get(svc: ServicePortInfo, endpoints: readonly EndpointInfo[], settings: string, write: () => T): T | null {
    if (svc.loadBalancerSourceRanges.length > 0 || endpoints.some((e) => e.isLocal)) return null;
    let bySettings = this.byEndpoints.get(endpoints);
    if (bySettings === undefined) this.byEndpoints.set(endpoints, (bySettings = new Map()));
    let lines = bySettings.get(settings);
    if (lines === undefined) bySettings.set(settings, (lines = write()));
    return lines;
  }
}
