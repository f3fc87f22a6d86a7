/**
 * NftRuleCache: loads that share one parse each distinct rule once (a
 * cluster's nodes load the same kube-proxy transaction in different orders).
 * What each load holds must not depend on the cache: the same `nft list
 * ruleset`, errors at the load's own file and line, and counters of its own.
 */
import { describe, expect, test } from 'vitest';
import { NftError, NftRuleCache, NftRuleset } from '../../models/netfilter/nft/index.js';

const TEXT = `
add table ip t
add chain ip t pre { type nat hook prerouting priority dstnat; policy accept; }
add chain ip t a
add chain ip t b
add map ip t svc { type ipv4_addr . inet_proto . inet_service : verdict; }
add element ip t svc { 10.96.0.1 . tcp . 443 : goto a }
add rule ip t pre ip daddr . meta l4proto . th dport vmap @svc
add rule ip t pre ip saddr 10.0.0.0/8 counter packets 0 bytes 0
add rule ip t a numgen random mod 2 vmap { 0 : goto b , 1 : goto b }
add rule ip t b meta l4proto tcp dnat to 10.1.0.2:6443
`;

const rulesOf = (r: NftRuleset, chain: string) => r.tables.get('t')!.chains.get(chain)!.rules;

describe('NftRuleCache', () => {
  test('two loads over one cache list what a load without it lists, and share every rule but a counting one', () => {
    const plain = new NftRuleset();
    plain.load(TEXT, 'plain.nft');
    const cache = new NftRuleCache();
    const [n1, n2] = [new NftRuleset(), new NftRuleset()];
    n1.load(TEXT, 'n1.nft', cache);
    n2.load(`\n\n${TEXT}`, 'n2.nft', cache);
    expect(n1.list()).toBe(plain.list());
    expect(n2.list()).toBe(plain.list());
    for (const chain of ['a', 'b']) expect(rulesOf(n2, chain)[0]!.stmts).toBe(rulesOf(n1, chain)[0]!.stmts);
    expect(rulesOf(n2, 'pre')[0]!.stmts).toBe(rulesOf(n1, 'pre')[0]!.stmts);
    // The counter statement counts: each node has its own.
    expect(rulesOf(n2, 'pre')[1]!.stmts).not.toBe(rulesOf(n1, 'pre')[1]!.stmts);
    expect([rulesOf(n1, 'b')[0]!.file, rulesOf(n1, 'b')[0]!.line, rulesOf(n2, 'b')[0]!.file, rulesOf(n2, 'b')[0]!.line]).toEqual(['n1.nft', 11, 'n2.nft', 13]);
  });

  test('a verdict map\'s elements share their goto verdicts between loads, and each load still evaluates its own map', () => {
    const cache = new NftRuleCache();
    const [n1, n2] = [new NftRuleset(), new NftRuleset()];
    n1.load(TEXT, 'n1.nft', cache);
    n2.load(TEXT, 'n2.nft', cache);
    const verdictOf = (r: NftRuleset) => r.tables.get('t')!.sets.get('svc')!.elements[0]!.verdict;
    expect(verdictOf(n1)).toEqual({ kind: 'goto', chain: 'a' });
    expect(verdictOf(n2)).toBe(verdictOf(n1));
    // A later load that flushes its map leaves the other load's element in place.
    n2.load('flush map ip t svc\n', 'n2-flush.nft', cache);
    expect(n2.tables.get('t')!.sets.get('svc')!.elements).toEqual([]);
    expect(verdictOf(n1)).toEqual({ kind: 'goto', chain: 'a' });
  });

  test('a shared rule\'s jump to a chain this load lacks is reported at this load\'s file and line', () => {
    const cache = new NftRuleCache();
    new NftRuleset().load(TEXT, 'n1.nft', cache);
    const without = TEXT.replace('add chain ip t b\n', '').replace('add rule ip t b meta l4proto tcp dnat to 10.1.0.2:6443\n', '');
    let err: unknown = null;
    try {
      new NftRuleset().load(`\n${without}`, 'n2.nft', cache);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NftError);
    expect([(err as NftError).file, (err as NftError).line]).toEqual(['n2.nft', 10]);
    expect((err as NftError).message).toMatch(/chain b does not exist in table t/);
  });
});
