/**
 * Runs a network configuration list for pod sandboxes on one node as a
 * runtime (libcni, used by containerd and CRI-O) does: ADD calls each plugin
 * in order with the list's name and cniVersion and the previous plugin's
 * result as prevResult, the last result being the attachment's; DEL calls them
 * in reverse with the cached ADD result as prevResult (SPEC.md "Execution of
 * Network Configuration Lists"). A failing plugin stops the list and the
 * error names it.
 *
 * `CniNode` is the node: host-local's stores, the nat table and bridges the
 * plugins leave, which the scenario builder turns into the node's namespace
 * (scenarios/expand.ts).
 */
import { createHash } from 'node:crypto';
import type { RouteSpec } from '../topology.js';
import { bandwidthAdd } from './bandwidth.js';
import { bridgeAdd, bridgeDel } from './bridge.js';
import type { CniConfList, PluginConf } from './conflist.js';
import { flannelAdd, flannelDel } from './flannel.js';
import { HostLocalState } from './host-local.js';
import { loopbackAdd } from './loopback.js';
import { NatTable } from './nat-table.js';
import { CNI_ERR, CniError, type Attachment, type BridgeDevice, type HostState, type PluginCall, type PodWiring, type VethEnd } from './plugin.js';
import { portmapAdd, portmapDel } from './portmap.js';
import { ptpAdd, ptpDel } from './ptp.js';
import type { CniResult } from './result.js';

/** What one ADD produced for a pod. */
export interface PodNetwork {
  result: CniResult;
  hostVeth: VethEnd;
  podIf: VethEnd;
  podRoutes: RouteSpec[];
  hostRoutes: RouteSpec[];
  shaping?: PodWiring['shaping'];
}

/** A failed ADD or DEL: the plugin (type and JSON path) and the CNI error. */
export class CniExecError extends Error {
  constructor(
    readonly file: string,
    readonly pluginPath: string,
    readonly type: string,
    readonly error: CniError,
  ) {
    super(`${file}: ${pluginPath === '' ? '' : `${pluginPath} `}(${type}): ${error.msg}`);
    this.name = 'CniExecError';
  }
}

/** The sandbox's container id as a runtime makes one: 64 hex digits, here a hash of node and pod. */
export function sandboxId(node: string, pod: string): string {
  return createHash('sha256').update(`podwire-sandbox/${node}/${pod}`).digest('hex');
}

export function sandboxNetns(id: string): string {
  return `/var/run/netns/cni-${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20, 32)}`;
}

export class CniNode implements HostState {
  readonly hostLocal = new HostLocalState();
  readonly nat = new NatTable();
  readonly bridges = new Map<string, BridgeDevice>();
  /** Cached ADD results, by "<containerId> <ifname>" (libcni's cache). */
  private readonly cache = new Map<string, { list: CniConfList; wiring: PodWiring; result: CniResult }>();

  constructor(readonly name: string) {}

  add(list: CniConfList, att: Attachment): PodNetwork {
    const key = `${att.containerId} ${att.ifName}`;
    if (this.cache.has(key)) throw new Error(`${list.file}: container ${att.containerId} already has ${att.ifName} (DEL it first)`);
    const wiring: PodWiring = { podRoutes: [], hostRoutes: [] };
    let prev: CniResult | undefined;
    for (const p of list.plugins) {
      const call: PluginCall = { network: list.name, cniVersion: list.cniVersion, att, host: this, wiring, ...(prev !== undefined ? { prevResult: prev } : {}) };
      try {
        prev = addOne(p.conf, call);
      } catch (e) {
        throw new CniExecError(list.file, p.path, p.conf.type, asCniError(e));
      }
    }
    if (wiring.hostVeth === undefined || wiring.podIf === undefined || prev === undefined) {
      throw new CniExecError(list.file, '', list.plugins.map((p) => p.conf.type).join(','), new CniError(CNI_ERR.invalidConfig, 'no plugin of the list created the pod interface (a bridge, ptp or flannel plugin is needed)'));
    }
    this.cache.set(key, { list, wiring, result: prev });
    return {
      result: prev,
      hostVeth: wiring.hostVeth,
      podIf: wiring.podIf,
      podRoutes: wiring.podRoutes,
      hostRoutes: wiring.hostRoutes,
      ...(wiring.shaping !== undefined ? { shaping: wiring.shaping } : {}),
    };
  }

  /** DEL: plugins in reverse order; deleting an unknown attachment is not an error (SPEC.md). */
  del(list: CniConfList, att: Attachment): void {
    const key = `${att.containerId} ${att.ifName}`;
    const cached = this.cache.get(key);
    const wiring: PodWiring = cached?.wiring ?? { podRoutes: [], hostRoutes: [] };
    for (const p of [...list.plugins].reverse()) {
      const call: PluginCall = { network: list.name, cniVersion: list.cniVersion, att, host: this, wiring, ...(cached !== undefined ? { prevResult: cached.result } : {}) };
      try {
        delOne(p.conf, call);
      } catch (e) {
        throw new CniExecError(list.file, p.path, p.conf.type, asCniError(e));
      }
    }
    this.cache.delete(key);
  }
}

function asCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  // skel wraps a plain error as code 999 (ErrInternal).
  return new CniError(CNI_ERR.internal, (e as Error).message);
}

function addOne(conf: PluginConf, call: PluginCall): CniResult {
  switch (conf.type) {
    case 'bridge':
      return bridgeAdd(conf, call);
    case 'ptp':
      return ptpAdd(conf, call);
    case 'flannel':
      return flannelAdd(conf, call);
    case 'loopback':
      return loopbackAdd(conf, call);
    case 'portmap':
      return portmapAdd(conf, call);
    case 'bandwidth':
      return bandwidthAdd(conf, call);
  }
}

function delOne(conf: PluginConf, call: PluginCall): void {
  switch (conf.type) {
    case 'bridge':
      return bridgeDel(conf, call);
    case 'ptp':
      return ptpDel(conf, call);
    case 'flannel':
      return flannelDel(conf, call);
    case 'portmap':
      return portmapDel(conf, call);
    case 'loopback':
    case 'bandwidth':
      // lo stays; the qdiscs and ifb go with the veth.
      return;
  }
}
