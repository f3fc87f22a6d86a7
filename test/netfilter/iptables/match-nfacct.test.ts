/** iptables-extensions(8) nfacct: adds the packet to a named accounting object (created with `nfacct add`). */
import { describe, expect, it } from 'vitest';
import { IptablesRuleset } from '../../../models/netfilter/iptables/index.js';
import { filter, nf, NfVerdict, packet, run } from './helpers.js';

describe('-m nfacct', () => {
  it('counts packets and bytes and matches', () => {
    const r = new IptablesRuleset();
    r.nfacct.add('http');
    r.restore(filter('-A INPUT -p udp -m nfacct --nfacct-name http -j DROP'), 'a');
    expect(run(r, 'filter', nf(packet({ src: '1.1.1.1', dst: '2.2.2.2', proto: 'udp', payload: 10 }))).verdict).toBe(NfVerdict.DROP);
    run(r, 'filter', nf(packet({ src: '1.1.1.1', dst: '2.2.2.2', proto: 'tcp' })));
    const o = r.nfacct.get('http')!;
    expect([o.packets, o.bytes]).toEqual([1, 38]);
    expect(r.nfacct.list()).toBe('{ pkts = 00000000000000000001, bytes = 00000000000000000038 } = http;\n');
  });
  it('an object in use cannot be deleted until its rules are gone', () => {
    const r = new IptablesRuleset();
    r.nfacct.add('x');
    r.restore(filter('-A INPUT -m nfacct --nfacct-name x'), 'a');
    expect(() => r.nfacct.delete('x')).toThrow(/in use/);
    r.restore(filter(), 'b');
    expect(() => r.nfacct.delete('x')).not.toThrow();
  });
});
