import { HOOK_NAMES, type NfHook, NfVerdict } from '../netfilter/hooks.js';
import type { Packet } from '../packet.js';
import { ETH_HLEN } from '../wire/ethernet.js';
import { describeIpv4 } from '../trace/describe.js';
import type { Netns } from './netns.js';

const CT_STATES: Record<number, string> = { 1: 'INVALID', 2: 'NEW', 4: 'ESTABLISHED', 8: 'RELATED', 16: 'UNTRACKED' };

/** Trace point after a netfilter hook: verdict, cost, connection state and the packet as it now is (NAT shows here). */
export function traceHook(ns: Netns, hook: NfHook, pkt: Packet, verdict: NfVerdict, costNs: number, at = ''): void {
  const ct = pkt.ct === null ? 'untracked' : `ct ${CT_STATES[pkt.ctState] ?? pkt.ctState}${pkt.ctDir === 1 ? ' (reply)' : ''}`;
  const v = verdict === NfVerdict.ACCEPT ? 'ACCEPT' : 'DROP';
  ns.trace(pkt, 'hook', `${HOOK_NAMES[hook]}${at === '' ? '' : ` (${at})`}: ${v}, ${ct}, cost ${costNs}ns -> ${describeIpv4(pkt.buf, pkt.off + ETH_HLEN)}`);
}
