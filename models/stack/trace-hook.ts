import { HOOK_NAMES, type NfHook, NfVerdict } from '../netfilter/hooks.js';
import type { Packet } from '../packet.js';
import { ETH_HLEN } from '../wire/ethernet.js';
import { describeIpv4 } from '../trace/describe.js';
import { formatIpv4 } from '../wire/addr.js';
import { read16 } from '../wire/bytes.js';
import { ipv4Dst, ipv4Src } from '../wire/ipv4.js';
import type { Netns } from './netns.js';

const CT_STATES: Record<number, string> = { 1: 'INVALID', 2: 'NEW', 4: 'ESTABLISHED', 8: 'RELATED', 16: 'UNTRACKED' };

/** "src:sport > dst:dport" of an IPv4 packet (ports only for TCP and UDP): what NAT changes. */
export function flowOf(pkt: Packet): string {
  const b = pkt.buf;
  const ip = pkt.off + ETH_HLEN;
  const proto = b[ip + 9];
  const t = ip + ((b[ip]! & 0x0f) << 2);
  const ports = proto === 6 || proto === 17;
  const end = (addr: number, port: number) => `${formatIpv4(addr)}${ports ? `:${read16(b, port)}` : ''}`;
  return `${end(ipv4Src(b, ip), t)} > ${end(ipv4Dst(b, ip), t + 2)}`;
}

/**
 * Trace point after a netfilter hook: verdict, cost, connection state and the
 * packet as it now is; with `before` (flowOf before the hook), a NAT step when
 * the hook rewrote addresses or ports.
 */
export function traceHook(ns: Netns, hook: NfHook, pkt: Packet, verdict: NfVerdict, costNs: number, at = '', before = ''): void {
  if (before !== '' && verdict === NfVerdict.ACCEPT) {
    const after = flowOf(pkt);
    if (after !== before) ns.trace(pkt, 'nat', `${HOOK_NAMES[hook]}: ${before} -> ${after}`);
  }
  const ct = pkt.ct === null ? 'untracked' : `ct ${CT_STATES[pkt.ctState] ?? pkt.ctState}${pkt.ctDir === 1 ? ' (reply)' : ''}`;
  const v = verdict === NfVerdict.ACCEPT ? 'ACCEPT' : verdict === NfVerdict.STOLEN ? 'STOLEN' : 'DROP';
  ns.trace(pkt, 'hook', `${HOOK_NAMES[hook]}${at === '' ? '' : ` (${at})`}: ${v}, ${ct}, cost ${costNs}ns -> ${describeIpv4(pkt.buf, pkt.off + ETH_HLEN)}`);
}
