/**
 * From schema-valid data to a Scenario: applies every default (addresses, pod
 * IPs, veth names, traffic fields, flow names) and checks what a schema cannot
 * (overlapping ranges, addresses outside their prefix, duplicates, capacity,
 * endpoints and capture points that do not exist). Problems are collected, not
 * thrown; the loader attaches file positions. Each part lives in a file of its
 * own; this one runs them in order.
 */
import { EndpointIndex } from './endpoints.js';
import { checkSegmentOverlap, normalizeSegments } from './underlay-segments.js';
import { type RackPlan, planRacks, rackSegments } from './scale-racks.js';
import { formatCidr, formatIpv4 } from './ipv4.js';
import type { NodeConfig, Scenario } from './scenario.js';
import type { Issue } from './schema-check.js';
import { checkServiceLoad } from './service-load.js';
import { normalizeExternalHosts } from './external-hosts.js';
import { kubeProxyConfig, resolveServices, serviceCidr, serviceServers } from './services.js';
import { clusterCidr, networkPrefix, normalizeUnderlay } from './address-plan.js';
import { capturePoints } from './capture-points.js';
import { explicitNodes, scaleNodes } from './cluster-nodes.js';
import { cniSources, scenarioNetworks } from './cni-sources.js';
import { DEFAULTS } from './defaults.js';
import { overlayOptions } from './overlay-options.js';
import { Problems } from './problems.js';
import type { RawScenario } from './raw-scenario.js';
import { normalizeServers } from './servers.js';
import { normalizeTraffic } from './traffic-items.js';
import { tcpSettings } from './tcp-settings.js';

export interface Normalized {
  scenario: Scenario;
  issues: Issue[];
}

export function normalizeScenario(raw: RawScenario): Normalized {
  const problems = new Problems();
  const runtime = raw.runtime ?? DEFAULTS.runtime;
  const durationNs = problems.duration(raw.duration, DEFAULTS.duration, ['duration']);
  if (raw.duration !== undefined && durationNs === 0) problems.fail(['duration'], 'must be positive');

  const underlay = normalizeUnderlay(problems, raw, runtime);
  const cluster = clusterCidr(problems, raw, runtime, underlay.cidr);

  let nodes: NodeConfig[] = [];
  let racks: RackPlan | undefined;
  if (raw.nodes && raw.scale) {
    problems.fail(['scale'], 'give either nodes or scale, not both');
  } else if (raw.nodes) {
    nodes = explicitNodes(problems, raw, raw.nodes, runtime, underlay, cluster);
  } else if (raw.scale) {
    racks = planRacks(problems, raw, underlay.cidr);
    nodes = scaleNodes(problems, raw, raw.scale, runtime, underlay, cluster, racks);
  } else {
    problems.fail(['nodes'], 'is required (or scale, to generate nodes)', []);
  }
  cniSources(problems, raw, nodes);
  const segments =
    racks !== undefined
      ? rackSegments(racks, nodes)
      : normalizeSegments(nodes, {
          raw,
          rawNodes: raw.nodes ?? [],
          prefix: (text, path) => networkPrefix(problems, text, path, runtime),
          cluster,
          fail: problems.fail,
        });
  // Racks are segments: like explicit ones they leave no one underlay prefix or gateway (only the pool they were carved from).
  const racked = raw.nodes === undefined && raw.scale?.nodesPerRack !== undefined;
  const flatUnderlay = racked ? { ...underlay, cidr: undefined, gateway: undefined } : underlay;

  const externalHosts = normalizeExternalHosts(raw.externalHosts, nodes, flatUnderlay, problems.fail);
  const index = new EndpointIndex(nodes, flatUnderlay.gateway !== undefined ? formatIpv4(flatUnderlay.gateway) : '', externalHosts);
  // Services first: traffic may name them ("svc:<name>").
  const svcCidr = serviceCidr(raw.serviceCIDR, { ...(underlay.cidr ? { underlay: underlay.cidr } : {}), ...(cluster ? { cluster } : {}), nodes }, problems.fail);
  checkSegmentOverlap(segments, svcCidr, ['serviceCIDR'], problems.fail);
  const kubeProxy = kubeProxyConfig(raw.kubeProxy, problems.fail);
  const services = resolveServices(raw.services ?? [], svcCidr, nodes, problems.fail);
  for (const svc of services) index.services.set(svc.name, svc.clusterIP);
  const traffic = normalizeTraffic(problems, raw, index, nodes, durationNs);
  const capture = capturePoints(problems, raw, nodes, index, segments);
  const explicitServers = normalizeServers(problems, raw.servers, index);
  if (raw.serviceLoad !== undefined) {
    checkServiceLoad({ serviceLoad: { services: raw.serviceLoad.services, endpointsPerService: raw.serviceLoad.endpointsPerService ?? 2 }, serviceCIDR: svcCidr ? formatCidr(svcCidr) : '', services, nodes }, problems.fail);
  }
  const taken = new Set(explicitServers.map((x) => `${x.protocol ?? 'udp'}:${x.ns}:${x.port}`));
  const servers = [...explicitServers, ...serviceServers(services, taken)];

  const scenario: Scenario = {
    name: raw.name,
    ...(raw.description !== undefined ? { description: raw.description } : {}),
    seed: raw.seed ?? DEFAULTS.seed,
    durationNs,
    runtime,
    vethDelayNs: problems.duration(raw.vethDelay, DEFAULTS.vethDelay, ['vethDelay']),
    loopbackDelayNs: problems.duration(raw.loopbackDelay, DEFAULTS.loopbackDelay, ['loopbackDelay']),
    netfilterCosts: {
      ruleNs: problems.duration(raw.netfilter?.ruleCost, DEFAULTS.netfilter.ruleCost, ['netfilter', 'ruleCost']),
      conntrackNs: problems.duration(raw.netfilter?.conntrackCost, DEFAULTS.netfilter.conntrackCost, ['netfilter', 'conntrackCost']),
      natSetupNs: problems.duration(raw.netfilter?.natSetupCost, DEFAULTS.netfilter.natSetupCost, ['netfilter', 'natSetupCost']),
    },
    ...(raw.tcp !== undefined ? { tcp: tcpSettings(problems, raw.tcp) } : {}),
    mtu: raw.mtu ?? DEFAULTS.mtu,
    ...(cluster ? { clusterCIDR: formatCidr(cluster) } : {}),
    routing: raw.routing ?? DEFAULTS.routing,
    ...overlayOptions(problems, raw),
    underlay: {
      cidr: flatUnderlay.cidr ? formatCidr(flatUnderlay.cidr) : '',
      gateway: flatUnderlay.gateway !== undefined ? formatIpv4(flatUnderlay.gateway) : '',
      bandwidthBps: underlay.bandwidthBps,
      delayNs: underlay.delayNs,
      loss: underlay.loss,
      txQueueLen: underlay.txQueueLen,
      ...(segments !== undefined ? { segments } : {}),
    },
    nodes,
    ...(raw.scale && !raw.nodes
      ? {
          scale: {
            nodes: raw.scale.nodes,
            podsPerNode: raw.scale.podsPerNode ?? DEFAULTS.podsPerNode,
            ...(raw.scale.nodesPerRack !== undefined ? { nodesPerRack: raw.scale.nodesPerRack } : {}),
          },
        }
      : {}),
    ...(externalHosts.length > 0 ? { externalHosts } : {}),
    traffic,
    servers,
    serviceCIDR: svcCidr ? formatCidr(svcCidr) : (raw.serviceCIDR ?? ''),
    kubeProxy,
    ...(raw.networks !== undefined ? { networks: scenarioNetworks(problems, raw.networks) } : {}),
    services,
    ...(raw.serviceLoad !== undefined ? { serviceLoad: { services: raw.serviceLoad.services, endpointsPerService: raw.serviceLoad.endpointsPerService ?? 2 } } : {}),
    capture,
  };
  return { scenario, issues: problems.issues };
}
