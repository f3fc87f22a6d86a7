/**
 * Property: through a node that DNATs a VIP to a backend and masquerades
 * the result, every packet comes out with valid checksums, a reply comes
 * back looking exactly like an answer from the VIP, and an ICMP error from
 * the backend reaches the client quoting the client's own packet.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NfHook, NfVerdict } from '../../../models/netfilter/hooks.js';
import type { NatRange, NfPacket } from '../../../models/netfilter/types.js';
import type { Conntrack } from '../../../models/netfilter/conntrack/conntrack.js';
import { formatIpv4 } from '../../../models/wire/addr.js';
import { TCP_ACK, TCP_SYN } from '../../../models/wire/tcp.js';
import type { Packet } from '../../../models/packet.js';
import { badChecksums, fields, icmpError, innerFields, makeConntrack, nfp, tcp, udp } from './frames.js';

const NODE = 0xc0a8000a; // 192.168.0.10

function range(a: number, port: number): NatRange {
  return { minAddr: a, maxAddr: a, minPort: port, maxPort: port, random: false, randomFully: false, persistent: false };
}

function forward(ct: Conntrack, pkt: Packet, dnat: (p: NfPacket) => NfVerdict, snat: (p: NfPacket) => NfVerdict): NfPacket {
  const p = nfp(pkt);
  ct.in(p);
  expect(ct.natHook(p, 'dst', dnat)).toBe(NfVerdict.ACCEPT);
  p.hook = NfHook.POST_ROUTING;
  expect(ct.natHook(p, 'src', snat)).toBe(NfVerdict.ACCEPT);
  expect(ct.confirm(p)).toBe(NfVerdict.ACCEPT);
  return p;
}

// Distinct, non-zero addresses outside 192.168.0.0/16 so they never meet the node's.
const host = fc.integer({ min: 0x0a000001, max: 0x0affffff });
const port = fc.integer({ min: 1, max: 0xffff });

describe('DNAT + MASQUERADE round trip (property)', () => {
  it('keeps checksums valid and restores replies and ICMP errors', () => {
    fc.assert(
      fc.property(
        fc.record({
          client: host,
          vip: host,
          backend: host,
          cport: port,
          vport: port,
          bport: port,
          isTcp: fc.boolean(),
          udpChecksum: fc.boolean(),
          payload: fc.string({ maxLength: 40 }),
          seed: fc.integer({ min: 1, max: 1000 }),
        }),
        (s) => {
          fc.pre(s.client !== s.vip && s.client !== s.backend && s.vip !== s.backend);
          const { ct } = makeConntrack({ seed: s.seed });
          const dnat = (p: NfPacket) => ct.setupNat(p, 'dst', range(s.backend, s.bport));
          const masq = (p: NfPacket) => ct.setupNat(p, 'src', range(NODE, 0));
          const client = formatIpv4(s.client);
          const vip = formatIpv4(s.vip);
          const backend = formatIpv4(s.backend);
          const mk = (src: string, dst: string, sport: number, dport: number, flags: number) =>
            s.isTcp
              ? tcp({ src, dst, sport, dport, flags, seq: 1000, ack: flags & TCP_ACK ? 2000 : 0, payload: s.payload.length })
              : udp({ src, dst, sport, dport, payload: s.payload, checksum: s.udpChecksum });

          const out = mk(client, vip, s.cport, s.vport, TCP_SYN);
          const original = out.bytes().slice();
          forward(ct, out, dnat, masq);
          const f = fields(out);
          expect(f).toMatchObject({ src: '192.168.0.10', dst: backend, dport: s.bport });
          expect(badChecksums(out)).toEqual([]);

          const back = mk(backend, '192.168.0.10', s.bport, f.sport, TCP_SYN | TCP_ACK);
          forward(ct, back, dnat, masq);
          expect(fields(back)).toMatchObject({ src: vip, dst: client, sport: s.vport, dport: s.cport });
          expect(badChecksums(back)).toEqual([]);

          const err = icmpError(backend, '192.168.0.10', 3, 3, out);
          forward(ct, err, dnat, masq);
          expect(fields(err)).toMatchObject({ src: vip, dst: client });
          expect(innerFields(err)).toMatchObject({ src: client, dst: vip, sport: s.cport, dport: s.vport });
          expect(badChecksums(err)).toEqual([]);
          // The quoted header is the client's packet byte for byte (TTL aside: nothing decremented here).
          const ip = err.off + 14;
          const quoted = err.buf.subarray(ip + 20 + 8, ip + 20 + 8 + 20);
          expect([...quoted]).toEqual([...original.subarray(14, 34)]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
