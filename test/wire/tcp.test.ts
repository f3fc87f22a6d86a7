import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { finishChecksum, onesComplementSum, pseudoHeaderSum } from '../../models/wire/checksum.js';
import { ETH_HLEN } from '../../models/wire/ethernet.js';
import { WireError } from '../../models/wire/errors.js';
import { IPPROTO_TCP, IPV4_HEADER_LEN } from '../../models/wire/ipv4.js';
import {
  TCP_ACK,
  TCP_HEADER_LEN,
  TCP_RST,
  TCP_SYN,
  type TcpOptions,
  type TcpRepr,
  emitTcp,
  parseTcp,
  tcpAck,
  tcpBufferLen,
  tcpChecksum,
  tcpDstPort,
  tcpFlags,
  tcpHeaderLen,
  tcpSeq,
  tcpSrcPort,
  tcpUrgent,
  tcpWindow,
} from '../../models/wire/tcp.js';
import { bytes, ipv4Addr, u16, u32, u8 } from './arbitraries.js';
import {
  TCP_RST_ACK,
  TCP_SYN as SYN_FRAME,
  TCP_SYN_LOOPBACK_FULL,
  TCP_SYN_LOOPBACK_PARTIAL,
  hex,
  poisoned,
} from './fixtures.js';

const TCP = ETH_HLEN + IPV4_HEADER_LEN;
const SYN = SYN_FRAME.subarray(TCP);
const RST = TCP_RST_ACK.subarray(TCP);
const CLIENT = 0x0af40102;
const SERVER = 0x0af40103;
const LOOPBACK = 0x7f000001;

const SYN_REPR: TcpRepr = {
  srcPort: 39120,
  dstPort: 9,
  seq: 0x74252a3c,
  ack: 0,
  flags: TCP_SYN,
  window: 64240,
  urgent: 0,
  options: { mss: 1460, sackPermitted: true, timestamp: { tsval: 0xaeab5335, tsecr: 0 }, wscale: 10 },
};

/** Header poisoned, payload in place, as emit expects. */
function withPayload(repr: TcpRepr, payload: Uint8Array): Uint8Array {
  const hl = tcpBufferLen(repr);
  const buf = poisoned(hl + payload.length);
  buf.set(payload, hl);
  return buf;
}

function emittedOptions(options: TcpOptions): number[] {
  const repr = { ...SYN_REPR, options };
  const buf = withPayload(repr, new Uint8Array(0));
  emitTcp(repr, buf, 0, CLIENT, SERVER, 0);
  return [...buf.subarray(TCP_HEADER_LEN)];
}

function parseError(buf: Uint8Array, len = buf.length): WireError {
  try {
    parseTcp(buf, 0, len, CLIENT, SERVER);
  } catch (e) {
    if (e instanceof WireError) return e;
    throw e;
  }
  throw new Error('parse did not throw');
}

describe('TCP fixtures', () => {
  it('reads every field of a captured Linux SYN', () => {
    expect(tcpSrcPort(SYN, 0)).toBe(39120);
    expect(tcpDstPort(SYN, 0)).toBe(9);
    expect(tcpSeq(SYN, 0)).toBe(0x74252a3c);
    expect(tcpAck(SYN, 0)).toBe(0);
    expect(tcpHeaderLen(SYN, 0)).toBe(40);
    expect(tcpFlags(SYN, 0)).toBe(TCP_SYN);
    expect(tcpWindow(SYN, 0)).toBe(64240);
    expect(tcpChecksum(SYN, 0)).toBe(0xfc03);
    expect(tcpUrgent(SYN, 0)).toBe(0);
    expect(parseTcp(SYN, 0, SYN.length, CLIENT, SERVER)).toEqual(SYN_REPR);
  });

  it('emits every field, options in Linux order, and the checksum: equal to the capture', () => {
    expect(tcpBufferLen(SYN_REPR)).toBe(40);
    const buf = withPayload(SYN_REPR, new Uint8Array(0));
    emitTcp(SYN_REPR, buf, 0, CLIENT, SERVER, 0);
    expect(buf).toEqual(SYN);
  });

  it('reads and re-emits the RST|ACK that answered it (seq and ack unsigned)', () => {
    const repr = parseTcp(RST, 0, RST.length, SERVER, CLIENT);
    expect(repr).toEqual({
      srcPort: 9,
      dstPort: 39120,
      seq: 0,
      ack: 0x74252a3d,
      flags: TCP_RST | TCP_ACK,
      window: 0,
      urgent: 0,
      options: {},
    });
    const buf = withPayload(repr, new Uint8Array(0));
    emitTcp(repr, buf, 0, SERVER, CLIENT, 0);
    expect(buf).toEqual(RST);
  });

  it('partial mode reproduces the CHECKSUM_PARTIAL value of a loopback SYN; full mode what tshark computes', () => {
    const seg = TCP_SYN_LOOPBACK_PARTIAL.subarray(TCP);
    const repr = parseTcp(seg, 0, seg.length, LOOPBACK, LOOPBACK, { verifyChecksum: false });
    expect(repr.options.mss).toBe(65495);
    const buf = withPayload(repr, new Uint8Array(0));
    emitTcp(repr, buf, 0, LOOPBACK, LOOPBACK, 0, { checksum: 'partial' });
    expect(buf).toEqual(seg);
    emitTcp(repr, buf, 0, LOOPBACK, LOOPBACK, 0);
    expect(tcpChecksum(buf, 0)).toBe(TCP_SYN_LOOPBACK_FULL);
    expect(() => parseTcp(seg, 0, seg.length, LOOPBACK, LOOPBACK)).toThrow(
      'tcp: checksum 0xfe30 is wrong (expected 0xb7d9)',
    );
  });
});

describe('TCP option layout (tcp_options_write)', () => {
  const ts = { tsval: 0x01020304, tsecr: 0x05060708 };
  it('timestamps without SACK: NOP NOP TS', () => {
    expect(emittedOptions({ timestamp: ts })).toEqual([1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8]);
  });
  it('SACK without timestamps: NOP NOP SACK_PERM', () => {
    expect(emittedOptions({ sackPermitted: true })).toEqual([1, 1, 4, 2]);
  });
  it('MSS and window scale only', () => {
    expect(emittedOptions({ mss: 1400, wscale: 7 })).toEqual([2, 4, 0x05, 0x78, 1, 3, 3, 7]);
  });

  it('parse accepts any order, skips unmodelled kinds and stops at EOL', () => {
    // data offset 10: WS, SACK block (kind 5, 10 bytes), MSS, MD5 (kind 19, 18 bytes, skipped), NOP, EOL,
    // a junk byte after EOL and two more bytes of option space; then a 1-byte payload.
    const seg = hex(`
      0001 0002 00000001 00000000 f002 ffff 0000 0000
      03030e 050a0000000100000002 020405dc 1312 00000000000000000000000000000000 01 00 ff
      ffffff`);
    const pseudo = pseudoHeaderSum(CLIENT, SERVER, IPPROTO_TCP, seg.length);
    const check = finishChecksum(onesComplementSum(seg, 0, seg.length, pseudo));
    seg[16] = check >>> 8;
    seg[17] = check & 0xff;
    expect(parseTcp(seg, 0, seg.length, CLIENT, SERVER).options).toEqual({ wscale: 14, mss: 1500, sack: [{ left: 1, right: 2 }] });
  });

  // RFC 2018 section 3: kind 5, length 8n + 2, then n (left edge, right edge) pairs of 32-bit
  // sequence numbers. tcp_options_write puts it after the timestamp as NOP NOP SACK len.
  const blocks = [
    { left: 0x00001f40, right: 0x00002134 }, // 8000-8500 (RFC 2018 section 5, case 3)
    { left: 0x00001b58, right: 0x00001d4c }, // 7000-7500
    { left: 0xfffffe0c, right: 0x00000064 }, // a block across the 32-bit wrap
  ];
  it('SACK blocks after the timestamp: NOP NOP TS NOP NOP SACK(26), 3 blocks in 40 bytes', () => {
    const o = emittedOptions({ timestamp: ts, sack: blocks });
    expect(o).toEqual([
      1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8,
      1, 1, 5, 26,
      0x00, 0x00, 0x1f, 0x40, 0x00, 0x00, 0x21, 0x34,
      0x00, 0x00, 0x1b, 0x58, 0x00, 0x00, 0x1d, 0x4c,
      0xff, 0xff, 0xfe, 0x0c, 0x00, 0x00, 0x00, 0x64,
    ]);
    expect(o.length).toBe(40);
  });
  it('SACK blocks without timestamps: NOP NOP SACK(34), 4 blocks', () => {
    const four = [...blocks, { left: 100, right: 200 }];
    const o = emittedOptions({ sack: four });
    expect(o.slice(0, 4)).toEqual([1, 1, 5, 34]);
    expect(o.length).toBe(36);
    expect(o.slice(28)).toEqual([0, 0, 0, 100, 0, 0, 0, 200]);
  });
  it('parses the SACK option back, edges unsigned; refuses more than the option space holds', () => {
    const repr: TcpRepr = { ...SYN_REPR, flags: TCP_ACK, options: { timestamp: ts, sack: blocks } };
    const buf = withPayload(repr, new Uint8Array(0));
    emitTcp(repr, buf, 0, CLIENT, SERVER, 0);
    expect(tcpHeaderLen(buf, 0)).toBe(60);
    expect(parseTcp(buf, 0, buf.length, CLIENT, SERVER).options).toEqual({ timestamp: ts, sack: blocks });
    expect(() => tcpBufferLen({ ...repr, options: { timestamp: ts, sack: [...blocks, blocks[0]!] } })).toThrow(
      'tcp: options need 48 bytes, more than the 40-byte option space',
    );
  });
});

describe('TCP repr properties', () => {
  const options = fc.record(
    {
      mss: u16,
      wscale: u8,
      sackPermitted: fc.constant(true as const),
      timestamp: fc.record({ tsval: u32, tsecr: u32 }),
      sack: fc.array(fc.record({ left: u32, right: u32 }), { minLength: 1, maxLength: 4 }),
    },
    { requiredKeys: [] },
  ).filter((o) => {
    // What fits the 40-byte option space (a SYN's options plus blocks never go together on Linux).
    const n = (o.mss !== undefined ? 4 : 0) + (o.timestamp !== undefined || o.sackPermitted ? 12 : 0) + (o.wscale !== undefined ? 4 : 0);
    return n + (o.sack === undefined ? 0 : 4 + 8 * o.sack.length) <= 40;
  });
  const repr = fc.record({
    srcPort: u16,
    dstPort: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    urgent: u16,
    options,
  });

  it('parse(emit(r)) is r, and the checksum verifies over header and payload', () => {
    fc.assert(
      fc.property(repr, bytes(64), ipv4Addr, ipv4Addr, (r, payload, src, dst) => {
        const buf = withPayload(r, payload);
        emitTcp(r, buf, 0, src, dst, payload.length);
        expect(tcpHeaderLen(buf, 0)).toBe(tcpBufferLen(r));
        expect(tcpBufferLen(r) % 4).toBe(0);
        const sum = onesComplementSum(buf, 0, buf.length, pseudoHeaderSum(src, dst, IPPROTO_TCP, buf.length));
        expect(finishChecksum(sum)).toBe(0);
        expect(parseTcp(buf, 0, buf.length, src, dst)).toEqual(r);
        expect(buf.subarray(tcpBufferLen(r))).toEqual(payload);
      }),
    );
  });
});

describe('TCP parse errors name the field', () => {
  it('truncated header', () => {
    expect(parseError(SYN, 19).message).toBe('tcp: header truncated: 19 bytes, need 20');
  });

  it('data offset below 5 or beyond the segment', () => {
    const buf = SYN.slice();
    buf[12] = 0x40;
    expect(parseError(buf).message).toBe('tcp: data offset 4 words is below 5');
    expect(parseError(SYN, 30).message).toBe('tcp: data offset header length 40 exceeds segment (30)');
  });

  it('bad checksum, unless verification is off', () => {
    const buf = SYN.slice();
    buf[15] ^= 1; // window
    const err = parseError(buf);
    expect(err.field).toBe('checksum');
    expect(err.message).toMatch(/^tcp: checksum 0xfc03 is wrong/);
    expect(parseTcp(buf, 0, buf.length, CLIENT, SERVER, { verifyChecksum: false }).window).toBe(64241);
  });

  it('malformed options', () => {
    // SYN options: MSS at 20, SACK_PERM at 24, TS at 26, NOP at 36, WS at 37.
    const bad = (edits: Record<number, number>) => {
      const buf = SYN.slice();
      for (const [at, value] of Object.entries(edits)) buf[Number(at)] = value;
      return parseTcp(buf, 0, buf.length, CLIENT, SERVER, { verifyChecksum: false });
    };
    expect(() => bad({ 21: 5 })).toThrow('tcp: option kind 2 length 5, expected 4');
    expect(() => bad({ 21: 0 })).toThrow('tcp: option kind 2 length 0 does not fit the 20-byte option space');
    expect(() => bad({ 27: 30 })).toThrow('tcp: option kind 8 length 30 does not fit the 20-byte option space');
    expect(() => bad({ 37: 1, 38: 1, 39: 9 })).toThrow('tcp: option kind 9 at byte 19 has no length');
    // The TS word (26..37) turned into NOP NOP SACK with a length that is not 2 + 8n.
    expect(() => bad({ 26: 1, 27: 1, 28: 5, 29: 9 })).toThrow('tcp: option SACK length 9 is not 2 + 8 x (1 to 4) blocks');
    expect(() => bad({ 26: 1, 27: 1, 28: 5, 29: 2 })).toThrow('tcp: option SACK length 2 is not 2 + 8 x (1 to 4) blocks');
  });
});
