import type { NetDevice } from '../devices/net-device.js';
import { Netfilter, type NetfilterCosts } from '../netfilter/netfilter.js';
import type { AddrType, IpSet, NfPacket } from '../netfilter/types.js';
import { directedBroadcast, formatIpv4 } from '../wire/addr.js';
import { ipv4Dst, ipv4Protocol, ipv4Src, ipv4TotalLength, ipv4Ttl } from '../wire/ipv4.js';
import type { Netns } from './netns.js';
import { sendReject } from './reject.js';

/** Most LOG lines a namespace keeps (the kernel ring buffer is bounded too). */
const LOG_LIMIT = 10_000;

/**
 * Gives a namespace its Netfilter, wired to what matches and targets ask of
 * the host: address types from the local table, REJECT's answers, LOG lines.
 */
export function attachNetfilter(
  ns: Netns,
  opts: { costs?: NetfilterCosts; ipsets?: Map<string, IpSet>; conntrackMax?: number } = {},
): Netfilter {
  if (ns.netfilter !== null) return ns.netfilter;
  const nf = new Netfilter({
    now: () => ns.now(),
    rng: ns.component.random(`netfilter/${ns.name}`),
    conntrackRng: ns.component.random(`conntrack/${ns.name}`),
    addressType: (addr, dev) => addressType(ns, addr, dev ?? null),
    reject: (p, kind) => sendReject(ns, p, kind),
    log: (p, prefix, text) => {
      const line = `${prefix}${text || logLine(p)}`;
      if (ns.netfilterLog.length < LOG_LIMIT) ns.netfilterLog.push(`${ns.now()} ${line}`);
      // LOG and TRACE feed the tracer too: a packet the TRACE target marked is followed from here on.
      const tr = ns.ctx.tracer;
      if (tr !== null) {
        if (prefix.startsWith('TRACE:')) tr.watch(p.pkt);
        if (tr.wants(p.pkt)) tr.add(p.pkt, ns.name, 'log', line);
      }
    },
    ipsets: opts.ipsets ?? new Map(),
    ruleTrace: (pkt) => {
      const tr = ns.ctx.tracer;
      if (tr === null || !tr.wants(pkt)) return undefined;
      // By default the rules that matched and where chains ended (the steps that decided something).
      const all = tr.selector.allRules === true;
      return (s) => {
        if (all || s.matched || s.kind !== 'rule') {
          const action = s.verdict === null ? ' -> no match' : ` -> ${s.verdict}${s.target !== null ? ` ${s.target}` : ''}`;
          tr.add(pkt, ns.name, 'rule', `${s.table} ${s.chain} #${s.ruleNum}: ${s.rule}${action}`);
        }
      };
    },
  });
  if (opts.costs !== undefined) nf.costs = opts.costs;
  if (opts.conntrackMax !== undefined) nf.conntrackMax = opts.conntrackMax;
  ns.netfilter = nf;
  return nf;
}

/**
 * inet_addr_type / inet_dev_addr_type: what the local routing table says of an
 * address (optionally only counting local addresses of `dev`).
 */
export function addressType(ns: Netns, addr: number, dev: NetDevice | null): AddrType {
  if (addr === 0 || addr === 0xffffffff) return 'BROADCAST';
  if ((addr & 0xf0000000) >>> 0 === 0xe0000000) return 'MULTICAST';
  if (ns.isLocal(addr)) {
    if (dev === null) return 'LOCAL';
    const owner = addr >>> 24 === 127 ? ns.lo : ns.localDevice(addr);
    return owner === dev ? 'LOCAL' : 'UNICAST';
  }
  const devices = dev === null ? ns.devices.values() : [dev];
  for (const d of devices) for (const a of d.addrs) if (a.prefixLen < 31 && directedBroadcast(a.addr, a.prefixLen) === addr) return 'BROADCAST';
  return 'UNICAST';
}

/** The body of a LOG line, as nf_log_ip_packet prints it (the fields podwire knows). */
function logLine(p: NfPacket): string {
  const b = p.pkt.buf;
  const ip = p.ipOff;
  const proto = ipv4Protocol(b, ip);
  const name = proto === 1 ? 'ICMP' : proto === 6 ? 'TCP' : proto === 17 ? 'UDP' : String(proto);
  return (
    `IN=${p.inDev?.name ?? ''} OUT=${p.outDev?.name ?? ''} SRC=${formatIpv4(ipv4Src(b, ip))} DST=${formatIpv4(ipv4Dst(b, ip))} ` +
    `LEN=${ipv4TotalLength(b, ip)} TTL=${ipv4Ttl(b, ip)} PROTO=${name}`
  );
}
