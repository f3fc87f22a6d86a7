/**
 * iptables-extensions(8) LOG and TRACE. LOG hands the prefix and the
 * kernel's packet line (nf_log_syslog.c) to the host's logger and continues.
 * TRACE (raw) marks the packet; every rule it then matches, in any table of
 * the namespace, logs "TRACE: table:chain:rule|return|policy:N".
 */
import { describe, expect, it } from 'vitest';
import { IptablesRuleset } from '../../../models/netfilter/iptables/index.js';
import { dev, FakeHost, nf, NfHook, NfVerdict, packet, run } from './helpers.js';
import { TCP_ACK, TCP_SYN } from '../../../models/wire/tcp.js';

describe('-j LOG', () => {
  it('logs the packet the way the kernel prints it, and continues', () => {
    const host = new FakeHost();
    const r = new IptablesRuleset();
    r.restore('*filter\n-A INPUT -j LOG --log-prefix "in: "\n-A INPUT -j DROP\nCOMMIT\n', 'l');
    const p = nf(packet({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'tcp', sport: 40000, dport: 80, flags: TCP_SYN | TCP_ACK, ident: 4321, dontFragment: true, mark: 0x4000 }), { in: dev('eth0') });
    expect(run(r, 'filter', p, host).verdict).toBe(NfVerdict.DROP);
    expect(host.logs).toEqual([
      'in: IN=eth0 OUT= MAC=0a:58:00:00:00:02:0a:58:00:00:00:01:08:00 SRC=10.0.0.1 DST=10.0.0.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=4321 DF PROTO=TCP SPT=40000 DPT=80 WINDOW=64240 RES=0x00 ACK SYN URGP=0 MARK=0x4000 ',
    ]);
  });
  it('UDP and ICMP lines; --log-tcp-sequence; a locally sent packet has no MAC', () => {
    const host = new FakeHost();
    const r = new IptablesRuleset();
    r.restore('*filter\n-A OUTPUT -j LOG --log-tcp-sequence --log-level debug\nCOMMIT\n', 'l');
    const out = (spec: Parameters<typeof packet>[0]) => run(r, 'filter', nf(packet(spec), { hook: NfHook.LOCAL_OUT, out: dev('eth0') }), host);
    out({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'udp', sport: 5353, dport: 53, payload: 4 });
    out({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'icmp', icmpType: 8, payload: 56 });
    out({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'tcp', sport: 1, dport: 2, flags: TCP_SYN });
    expect(host.logs).toEqual([
      'IN= OUT=eth0 SRC=10.0.0.1 DST=10.0.0.2 LEN=32 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=UDP SPT=5353 DPT=53 LEN=12 ',
      'IN= OUT=eth0 SRC=10.0.0.1 DST=10.0.0.2 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=ICMP TYPE=8 CODE=0 ID=7 SEQ=1 ',
      'IN= OUT=eth0 SRC=10.0.0.1 DST=10.0.0.2 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=TCP SPT=1 DPT=2 SEQ=1000 ACK=0 WINDOW=64240 RES=0x00 SYN URGP=0 ',
    ]);
    expect(r.save()).toContain('-j LOG --log-level 7 --log-tcp-sequence');
  });
  it('refuses a prefix over 29 characters', () => {
    expect(() => new IptablesRuleset().restore(`*filter\n-A INPUT -j LOG --log-prefix ${'x'.repeat(30)}\nCOMMIT\n`, 'l')).toThrow(/Maximum prefix length 29/);
  });
});

describe('-j TRACE', () => {
  it('traces the packet through the following rules and tables, with the kernel\'s rule numbering', () => {
    const host = new FakeHost();
    const r = new IptablesRuleset();
    r.restore(
      [
        '*raw',
        '-A OUTPUT -p icmp -j TRACE',
        'COMMIT',
        '*filter',
        ':X - [0:0]',
        '-A OUTPUT -p udp -j DROP',
        '-A OUTPUT -j X',
        '-A X -p icmp',
        'COMMIT',
        '',
      ].join('\n'),
      't',
    );
    const pkt = packet({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'icmp' });
    run(r, 'raw', nf(pkt, { hook: NfHook.LOCAL_OUT, out: dev('eth0') }), host);
    run(r, 'filter', nf(pkt, { hook: NfHook.LOCAL_OUT, out: dev('eth0') }), host);
    const heads = host.logs.map((l) => l.slice(0, l.indexOf(' IN=')));
    expect(heads).toEqual([
      'TRACE: raw:OUTPUT:policy:2',
      'TRACE: filter:OUTPUT:rule:2',
      'TRACE: filter:X:rule:1',
      'TRACE: filter:X:return:2',
      'TRACE: filter:OUTPUT:policy:3',
    ]);
    // Another packet is not traced.
    host.logs.length = 0;
    run(r, 'filter', nf(packet({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'udp' }), { hook: NfHook.LOCAL_OUT, out: dev('eth0') }), host);
    expect(host.logs).toEqual([]);
  });
  it('is refused outside the raw table', () => {
    expect(() => new IptablesRuleset().restore('*filter\n-A INPUT -j TRACE\nCOMMIT\n', 't')).toThrow(/TRACE target: only valid in raw table, not filter/);
  });
});
