/**
 * The bandwidth plugin (plugins/meta/bandwidth), chained: ingressRate/Burst
 * (toward the pod) become a tbf qdisc on the host veth, egressRate/Burst a tbf
 * on an ifb device ("bwp" + hash) fed from the host veth's ingress. Rates are
 * bit/s, bursts bits; the tbf limit is 25 ms at the rate plus the burst.
 * scenarios/build.ts turns them into models/devices/tbf.ts shapers on the host veth.
 */
import { createHash } from 'node:crypto';
import type { Fields } from './fields.js';
import { CNI_ERR, CniError, type BandwidthEntry, type PluginCall } from './plugin.js';
import type { CniResult } from './result.js';

export interface BandwidthConf {
  type: 'bandwidth';
  wantsBandwidth: boolean;
  entry: BandwidthEntry;
}

const LATENCY_MS = 25;

export function parseBandwidth(f: Fields): BandwidthConf {
  const caps = f.object('capabilities');
  let wants = false;
  if (caps !== undefined) {
    wants = caps.bool('bandwidth') ?? false;
    caps.done();
  }
  const entry: BandwidthEntry = {};
  for (const k of ['ingressRate', 'ingressBurst', 'egressRate', 'egressBurst'] as const) {
    const v = f.int(k, 0, Number.MAX_SAFE_INTEGER);
    if (v !== undefined) entry[k] = v;
  }
  f.done();
  return { type: 'bandwidth', wantsBandwidth: wants, entry };
}

function check(rate: number, burst: number, dir: string): void {
  if (rate > 0 && burst === 0) throw new CniError(CNI_ERR.invalidConfig, `if ${dir}Rate is set, ${dir}Burst must also be set`);
  if (burst > 0 && rate === 0) throw new CniError(CNI_ERR.invalidConfig, `if ${dir}Burst is set, ${dir}Rate must also be set`);
  // burst/8 bytes of bucket: tbf_change refuses an empty one (EINVAL), so ADD fails.
  if (burst > 0 && burst < 8) throw new CniError(CNI_ERR.internal, `${dir}Burst ${burst} is under one byte: tbf refuses an empty bucket (invalid argument)`);
  // rate/8 bytes per second, likewise.
  if (rate > 0 && rate < 8) throw new CniError(CNI_ERR.internal, `${dir}Rate ${rate} is under one byte per second: tbf refuses a zero rate (invalid argument)`);
}

export function bandwidthAdd(conf: BandwidthConf, call: PluginCall): CniResult {
  const prev = call.prevResult;
  if (prev === undefined) throw new CniError(CNI_ERR.invalidConfig, 'must be called as chained plugin');
  const e = conf.wantsBandwidth && call.att.bandwidth !== undefined ? call.att.bandwidth : conf.entry;
  const inRate = e.ingressRate ?? 0;
  const inBurst = e.ingressBurst ?? 0;
  const outRate = e.egressRate ?? 0;
  const outBurst = e.egressBurst ?? 0;
  check(inRate, inBurst, 'ingress');
  check(outRate, outBurst, 'egress');
  if (inRate === 0 && outRate === 0) return prev;
  const host = [...prev.interfaces].reverse().find((i) => i.sandbox === undefined && i.name !== call.wiring.hostVeth?.master);
  if (host === undefined) throw new CniError(CNI_ERR.internal, 'no host interface found in prevResult');
  const limit = (rate: number, burst: number): number => Math.floor(((rate / 8) * LATENCY_MS) / 1000 + burst / 8);
  const hash = createHash('sha512').update(call.network + call.att.containerId).digest('hex');
  const ifb = `bwp${hash}`.slice(0, 15);
  // The kernel gives the ifb a random locally administered MAC; here one from the same hash.
  const ifbMac = `0a:${hash.slice(0, 10).replace(/(..)(?!$)/g, '$1:')}`;
  call.wiring.shaping = {
    device: host.name,
    ...(inRate > 0 ? { ingress: { rateBps: inRate, burstBits: inBurst, limitBytes: limit(inRate, inBurst) } } : {}),
    ...(outRate > 0 ? { egress: { rateBps: outRate, burstBits: outBurst, limitBytes: limit(outRate, outBurst), ifb } } : {}),
  };
  if (outRate > 0) prev.interfaces.push({ name: ifb, mac: ifbMac, mtu: call.wiring.hostVeth?.mtu ?? 1500 });
  return prev;
}
