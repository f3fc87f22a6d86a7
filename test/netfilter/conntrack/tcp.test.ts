import { describe, expect, it } from 'vitest';
import { NfHook, NfVerdict } from '../../../models/netfilter/hooks.js';
import { CtDir, CtState, CtStatus, type NfPacket } from '../../../models/netfilter/types.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../../models/wire/tcp.js';
import { SECOND, makeConntrack, nfp, tcp } from './frames.js';
import type { Conntrack } from '../../../models/netfilter/conntrack/conntrack.js';

const C = { src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 80 };
const S = { src: '10.0.0.2', dst: '10.0.0.1', sport: 80, dport: 40000 };

function send(ct: Conntrack, from: typeof C, flags: number, seq: number, ack = 0, payload = 0): NfPacket {
  const p = nfp(tcp({ ...from, flags, seq, ack, payload }));
  expect(ct.in(p)).toBe(NfVerdict.ACCEPT);
  p.hook = NfHook.POST_ROUTING;
  ct.confirm(p);
  return p;
}

/** State and timeout of the only entry, as `conntrack -L` shows them. */
function stateOf(ct: Conntrack): string {
  const lines = ct.dumpLines();
  expect(lines).toHaveLength(1);
  const tok = lines[0]!.split(/ +/);
  expect(tok.slice(0, 2)).toEqual(['tcp', '6']);
  expect(tok.slice(-2)).toEqual(['mark=0', 'use=1']);
  return `${tok[3]} ${tok[2]}${tok.includes('[UNREPLIED]') ? ' UNREPLIED' : ''}${tok.includes('[ASSURED]') ? ' ASSURED' : ''}`;
}

/** SYN, SYN-ACK, ACK: client ISN 1000, server ISN 5000. */
function handshake(ct: Conntrack): NfPacket {
  const syn = send(ct, C, TCP_SYN, 1000);
  send(ct, S, TCP_SYN | TCP_ACK, 5000, 1001);
  send(ct, C, TCP_ACK, 1001, 5001);
  return syn;
}

describe('TCP state machine (tcp_conntracks, nf_conntrack_proto_tcp.c)', () => {
  it('follows the handshake with the kernel timeouts and sets ASSURED on the final ACK', () => {
    const { ct } = makeConntrack();
    const syn = send(ct, C, TCP_SYN, 1000);
    expect(syn.ctState).toBe(CtState.NEW);
    expect(stateOf(ct)).toBe('SYN_SENT 120 UNREPLIED');
    const synack = send(ct, S, TCP_SYN | TCP_ACK, 5000, 1001);
    expect(synack.ctState).toBe(CtState.ESTABLISHED);
    expect(synack.ctDir).toBe(CtDir.REPLY);
    expect(stateOf(ct)).toBe('SYN_RECV 60');
    send(ct, C, TCP_ACK, 1001, 5001);
    expect(stateOf(ct)).toBe('ESTABLISHED 432000 ASSURED');
    expect(syn.ct!.tcpState).toBe('ESTABLISHED');
  });

  it('shortens the timeout to 300 s while data is unacknowledged (IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED)', () => {
    const { ct } = makeConntrack();
    handshake(ct);
    send(ct, C, TCP_ACK, 1001, 5001, 100);
    expect(stateOf(ct)).toBe('ESTABLISHED 300 ASSURED');
    send(ct, S, TCP_ACK, 5001, 1101);
    expect(stateOf(ct)).toBe('ESTABLISHED 432000 ASSURED');
  });

  it('walks the close: FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT', () => {
    const { ct, clock } = makeConntrack();
    handshake(ct);
    send(ct, C, TCP_FIN | TCP_ACK, 1001, 5001);
    expect(stateOf(ct)).toBe('FIN_WAIT 120 ASSURED');
    send(ct, S, TCP_ACK, 5001, 1002);
    expect(stateOf(ct)).toBe('CLOSE_WAIT 60 ASSURED');
    send(ct, S, TCP_FIN | TCP_ACK, 5001, 1002);
    expect(stateOf(ct)).toBe('LAST_ACK 30 ASSURED');
    send(ct, C, TCP_ACK, 1002, 5002);
    expect(stateOf(ct)).toBe('TIME_WAIT 120 ASSURED');
    clock.t = 120 * SECOND;
    expect(ct.count).toBe(0);
  });

  it('a RST moves to CLOSE with the 10 s timeout', () => {
    const { ct, clock } = makeConntrack();
    handshake(ct);
    send(ct, S, TCP_RST | TCP_ACK, 5001, 1001);
    expect(stateOf(ct)).toBe('CLOSE 10 ASSURED');
    clock.t = 10 * SECOND;
    expect(ct.count).toBe(0);
  });

  it('a RST below what the peer acknowledged is INVALID and changes nothing', () => {
    const { ct } = makeConntrack();
    handshake(ct);
    const p = nfp(tcp({ ...S, flags: TCP_RST, seq: 4000 }));
    ct.in(p);
    expect(p.ctState).toBe(CtState.INVALID);
    expect(stateOf(ct)).toBe('ESTABLISHED 432000 ASSURED');
  });

  it('a connection refused with RST (no reply seen before) is deleted at once', () => {
    const { ct } = makeConntrack();
    send(ct, C, TCP_SYN, 1000);
    const rst = send(ct, S, TCP_RST | TCP_ACK, 0, 1001);
    expect(rst.ctState).toBe(CtState.ESTABLISHED);
    expect(rst.ctDir).toBe(CtDir.REPLY);
    expect(rst.ct!.status & CtStatus.DYING).toBeTruthy();
    expect(ct.count).toBe(0);
  });

  it('a retransmitted SYN does not renew the timeout', () => {
    const { ct, clock } = makeConntrack();
    const syn = send(ct, C, TCP_SYN, 1000);
    clock.t = 3 * SECOND;
    send(ct, C, TCP_SYN, 1000);
    expect(syn.ct!.expiresAt).toBe(120 * SECOND);
  });

  it('picks up a connection from an ACK (nf_conntrack_tcp_loose=1) with the 300 s timeout', () => {
    const { ct } = makeConntrack();
    const p = send(ct, C, TCP_ACK, 1001, 5001);
    expect(p.ctState).toBe(CtState.NEW);
    expect(stateOf(ct)).toBe('ESTABLISHED 300 UNREPLIED');
    // The reply is handled before SEEN_REPLY is set: still no 5-day timeout.
    send(ct, S, TCP_ACK, 5001, 1001);
    expect(stateOf(ct)).toBe('ESTABLISHED 300');
    // The next valid ACK assures it.
    send(ct, C, TCP_ACK, 1001, 5001);
    expect(stateOf(ct)).toBe('ESTABLISHED 432000 ASSURED');
  });

  it('with tcp_loose=0 an ACK cannot open an entry', () => {
    const { ct } = makeConntrack({ tcp: { loose: false } });
    const p = send(ct, C, TCP_ACK, 1001, 5001);
    expect(p.ctState).toBe(CtState.INVALID);
    expect(ct.count).toBe(0);
  });

  it('packets that cannot start or continue a connection are INVALID', () => {
    const { ct } = makeConntrack();
    for (const flags of [TCP_SYN | TCP_ACK, TCP_FIN | TCP_ACK, TCP_RST, TCP_SYN | TCP_FIN, 0, TCP_FIN]) {
      const p = nfp(tcp({ ...C, flags, seq: 1 }));
      ct.in(p);
      expect(p.ctState, `flags ${flags}`).toBe(CtState.INVALID);
      expect(p.ct).toBeNull();
    }
    expect(ct.stats.invalid).toBe(6);
    // In SYN_SENT the client can't send a SYN-ACK nor a plain ACK.
    send(ct, C, TCP_SYN, 1000);
    expect(send(ct, C, TCP_SYN | TCP_ACK, 1000, 1).ctState).toBe(CtState.INVALID);
    expect(send(ct, C, TCP_ACK, 1001, 1).ctState).toBe(CtState.INVALID);
    expect(stateOf(ct)).toBe('SYN_SENT 120 UNREPLIED');
  });

  it('a SYN in ESTABLISHED is let through (ignored) without changing state', () => {
    const { ct } = makeConntrack();
    handshake(ct);
    const p = send(ct, C, TCP_SYN, 9000);
    expect(p.ctState).toBe(CtState.ESTABLISHED);
    expect(stateOf(ct)).toBe('ESTABLISHED 432000 ASSURED');
  });

  it('a new SYN in TIME_WAIT replaces the old entry (-NF_REPEAT)', () => {
    const { ct } = makeConntrack();
    const first = handshake(ct);
    send(ct, C, TCP_FIN | TCP_ACK, 1001, 5001);
    send(ct, S, TCP_FIN | TCP_ACK, 5001, 1002);
    send(ct, C, TCP_ACK, 1002, 5002);
    expect(stateOf(ct)).toBe('TIME_WAIT 120 ASSURED');
    const syn = send(ct, C, TCP_SYN, 7000);
    expect(syn.ctState).toBe(CtState.NEW);
    expect(syn.ct).not.toBe(first.ct);
    expect(stateOf(ct)).toBe('SYN_SENT 120 UNREPLIED');
  });

  it('three identical ACK retransmissions shorten the timeout to nf_conntrack_tcp_timeout_max_retrans', () => {
    const { ct } = makeConntrack();
    handshake(ct);
    // The handshake's ACK is the original; two repeats are not enough.
    for (let i = 0; i < 2; i++) send(ct, C, TCP_ACK, 1001, 5001);
    expect(stateOf(ct)).toBe('ESTABLISHED 432000 ASSURED');
    send(ct, C, TCP_ACK, 1001, 5001);
    expect(stateOf(ct)).toBe('ESTABLISHED 300 ASSURED');
  });
});
