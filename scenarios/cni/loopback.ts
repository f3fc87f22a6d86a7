/**
 * The loopback plugin (plugins/main/loopback): brings `lo` up in the sandbox
 * (podwire's namespaces always have lo 127.0.0.1/8). Chained after another
 * plugin it passes prevResult through unchanged; alone it reports lo.
 */
import type { Fields } from './fields.js';
import type { PluginCall } from './plugin.js';
import { emptyResult, type CniResult } from './result.js';

export interface LoopbackConf {
  type: 'loopback';
}

export function parseLoopback(f: Fields): LoopbackConf {
  f.done();
  return { type: 'loopback' };
}

export function loopbackAdd(_conf: LoopbackConf, call: PluginCall): CniResult {
  if (call.prevResult !== undefined) return call.prevResult;
  const r = emptyResult(call.cniVersion);
  r.interfaces.push({ name: call.att.ifName, mac: '00:00:00:00:00:00', sandbox: call.att.netns });
  r.ips.push({ interface: 0, address: '127.0.0.1/8' });
  return r;
}
