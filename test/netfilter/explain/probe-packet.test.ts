import { describe, expect, it } from 'vitest';
import { buildProbe, flowOf, flowText } from '../../../models/netfilter/explain/probe-packet.js';
import { parseIpv4 as ip } from '../../../models/wire/addr.js';
import { ETH_HLEN, parseEthernet, ETHERTYPE_IPV4 } from '../../../models/wire/ethernet.js';
import { parseIpv4 } from '../../../models/wire/ipv4.js';
import { parseTcp, TCP_SYN } from '../../../models/wire/tcp.js';
import { parseUdp } from '../../../models/wire/udp.js';
import { parseIcmp } from '../../../models/wire/icmp.js';

const spec = { src: ip('10.128.0.5'), dst: ip('10.96.0.10'), sport: 40000, dport: 80 };

describe('buildProbe', () => {
  it('builds a TCP SYN that parses back with valid checksums', () => {
    const pkt = buildProbe({ proto: 'tcp', ...spec });
    const b = pkt.buf;
    expect(parseEthernet(b, pkt.off, pkt.len).ethertype).toBe(ETHERTYPE_IPV4);
    const ipr = parseIpv4(b, pkt.off + ETH_HLEN, pkt.len - ETH_HLEN);
    expect([ipr.src, ipr.dst, ipr.ttl, ipr.totalLength]).toEqual([spec.src, spec.dst, 64, pkt.len - ETH_HLEN]);
    const tcp = parseTcp(b, pkt.off + ETH_HLEN + 20, ipr.totalLength - 20, spec.src, spec.dst);
    expect([tcp.srcPort, tcp.dstPort, tcp.flags]).toEqual([40000, 80, TCP_SYN]);
    expect(flowText(flowOf(pkt))).toBe('TCP 10.128.0.5:40000 > 10.96.0.10:80');
  });

  it('builds UDP and ICMP echo with valid checksums', () => {
    const u = buildProbe({ proto: 'udp', ...spec, dport: 53 });
    const ui = parseIpv4(u.buf, u.off + ETH_HLEN, u.len - ETH_HLEN);
    expect(parseUdp(u.buf, u.off + ETH_HLEN + 20, ui.totalLength - 20, spec.src, spec.dst).dstPort).toBe(53);
    const i = buildProbe({ proto: 'icmp', ...spec });
    const ii = parseIpv4(i.buf, i.off + ETH_HLEN, i.len - ETH_HLEN);
    expect(parseIcmp(i.buf, i.off + ETH_HLEN + 20, ii.totalLength - 20).type).toBe(8);
    expect(flowOf(i)).toEqual({ proto: 1, src: spec.src, dst: spec.dst, sport: null, dport: null });
  });
});
