import { describe, expect, it } from 'vitest';
import { hookEntries, type HookEntry } from '../../../models/netfilter/explain/hook-order.js';
import { NfHook, type TableName } from '../../../models/netfilter/hooks.js';

const names = (list: HookEntry[]) => list.map((e) => (e.kind === 'table' ? e.table : e.kind === 'nat' ? `nat ${e.manip}` : e.kind));
const all = () => true;

describe('hookEntries', () => {
  // The order nf_hook_slow visits at each hook (netfilter_ipv4.h priorities), as in
  // `iptables -j TRACE` output: raw, conntrack, mangle, nat (dst), filter, nat (src), confirm.
  it('puts every table and conntrack at its kernel priority', () => {
    expect(names(hookEntries(NfHook.PRE_ROUTING, all))).toEqual(['raw', 'conntrack', 'mangle', 'nat dst']);
    expect(names(hookEntries(NfHook.LOCAL_IN, all))).toEqual(['mangle', 'filter', 'nat src', 'confirm']);
    expect(names(hookEntries(NfHook.FORWARD, all))).toEqual(['mangle', 'filter']);
    expect(names(hookEntries(NfHook.LOCAL_OUT, all))).toEqual(['raw', 'conntrack', 'mangle', 'nat dst', 'filter']);
    expect(names(hookEntries(NfHook.POST_ROUTING, all))).toEqual(['mangle', 'nat src', 'confirm']);
  });

  it('leaves out tables the ruleset does not have, never connection tracking', () => {
    const only = (t: TableName) => t === 'filter';
    expect(names(hookEntries(NfHook.PRE_ROUTING, only))).toEqual(['conntrack']);
    expect(names(hookEntries(NfHook.LOCAL_IN, only))).toEqual(['filter', 'confirm']);
  });
});
