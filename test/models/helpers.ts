/**
 * A small builder for model tests: one Simulation, a NodeContext per component
 * (all sharing one DropCounter), namespaces, devices joined by veth pairs or
 * wires, and an in-memory capture tap that keeps a copy of every frame with its
 * time, device and direction. Frames are rendered as one tcpdump-like line each
 * so a test can compare exact sequences; `decode` gives the fields for checks a
 * line does not show.
 */
import { Simulation, type EventHandler } from '../../engine/simulation.js';
import { NodeContext } from '../../models/node-context.js';
import { DropCounter } from '../../models/observer.js';
import { Netns, type SendError } from '../../models/stack/netns.js';
import { Packet } from '../../models/packet.js';
import { BridgeDevice } from '../../models/devices/bridge.js';
import { NicDevice, type WireParams } from '../../models/devices/nic.js';
import { VethDevice } from '../../models/devices/veth.js';
import type { CaptureTap, NetDevice } from '../../models/devices/net-device.js';
import { formatIpv4, formatMac, parseCidr, parseIpv4, parseMac } from '../../models/wire/addr.js';
import { ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, emitEthernet, parseEthernet } from '../../models/wire/ethernet.js';
import { ARP_LEN, ARP_OP_REQUEST, emitArp, parseArp, type ArpRepr } from '../../models/wire/arp.js';
import { IPPROTO_ICMP, IPPROTO_UDP, IPV4_HEADER_LEN, parseIpv4 as parseIpv4Header, type Ipv4Repr } from '../../models/wire/ipv4.js';
import { ICMP_ECHO, ICMP_ECHOREPLY, ICMP_HEADER_LEN, emitIcmp, parseIcmp, type IcmpRepr } from '../../models/wire/icmp.js';
import { UDP_HEADER_LEN, emitUdp, parseUdp, type UdpRepr } from '../../models/wire/udp.js';
import { internetChecksum } from '../../models/wire/checksum.js';

export const MS = 1_000_000;
export const SECOND = 1_000_000_000;

/** More events than any test schedules for one instant. */
const MAX_EVENTS_PER_INSTANT = 100_000;

/** One frame seen by a RecordingTap. */
export interface Seen {
  t: number;
  dev: string;
  dir: 'in' | 'out';
  bytes: Uint8Array;
}

/** A capture tap that copies every frame (the model may reuse or rewrite the buffer later). */
export class RecordingTap implements CaptureTap {
  readonly frames: Seen[] = [];

  constructor(private readonly sim: Simulation) {}

  capture(dev: NetDevice, pkt: Packet, direction: number): void {
    this.frames.push({ t: this.sim.now, dev: dev.path, dir: direction === 1 ? 'in' : 'out', bytes: pkt.bytes().slice() });
  }

  /** Frames as lines: "<dir> <line>", or "<dev> <dir> <line>" with `withDev`. */
  lines(withDev = false): string[] {
    return this.frames.map((f) => `${withDev ? `${f.dev} ` : ''}${f.dir} ${frameLine(f.bytes)}`);
  }

  clear(): void {
    this.frames.length = 0;
  }
}

class Callback implements EventHandler {
  constructor(private readonly fn: () => void) {}
  handleEvent(): void {
    this.fn();
  }
}

/** A test topology under construction, and the simulation that runs it. */
export class TestNet {
  readonly sim: Simulation;
  readonly drops = new DropCounter();
  private readonly contexts = new Map<string, NodeContext>();
  readonly tap: RecordingTap;

  constructor(seed = 1) {
    this.sim = new Simulation(seed);
    this.tap = new RecordingTap(this.sim);
    // Watchdog: a model that keeps rescheduling itself at the same instant would
    // hang the test worker (a synchronous loop no test timeout can stop).
    const sim = this.sim;
    const enqueue = sim.enqueue.bind(sim);
    let instant = -1;
    let atInstant = 0;
    sim.enqueue = (time, key, handler, kind, arg) => {
      if (time !== instant) {
        instant = time;
        atInstant = 0;
      } else if (++atInstant > MAX_EVENTS_PER_INSTANT) {
        throw new Error(`more than ${MAX_EVENTS_PER_INSTANT} events scheduled for t=${time} ns: a zero-delay loop`);
      }
      enqueue(time, key, handler, kind, arg);
    };
  }

  ctx(component: string): NodeContext {
    let c = this.contexts.get(component);
    if (c === undefined) {
      c = new NodeContext(this.sim.component(component), this.drops);
      this.contexts.set(component, c);
    }
    return c;
  }

  /** A namespace in `component` (default: one shared component "node"). */
  ns(name: string, opts: { component?: string; forward?: boolean } = {}): Netns {
    const ns = new Netns(name, this.ctx(opts.component ?? 'node'));
    ns.ipForward = opts.forward ?? false;
    return ns;
  }

  /** A veth pair; `cidrA`/`cidrB` are added as addresses when given. */
  veth(
    a: Netns,
    aName: string,
    aMac: string,
    b: Netns,
    bName: string,
    bMac: string,
    opts: { mtuA?: number; mtuB?: number; delayNs?: number; cidrA?: string; cidrB?: string } = {},
  ): [VethDevice, VethDevice] {
    const da = new VethDevice(a, aName, parseMac(aMac), opts.mtuA ?? 1500);
    const db = new VethDevice(b, bName, parseMac(bMac), opts.mtuB ?? 1500);
    a.attach(da);
    b.attach(db);
    VethDevice.pair(da, db, opts.delayNs ?? 0);
    if (opts.cidrA !== undefined) addr(da, opts.cidrA);
    if (opts.cidrB !== undefined) addr(db, opts.cidrB);
    return [da, db];
  }

  /** Two NICs joined by a wire with `params` in each direction. */
  wire(
    a: Netns,
    aName: string,
    aMac: string,
    b: Netns,
    bName: string,
    bMac: string,
    params: Partial<WireParams> & { mtu?: number; cidrA?: string; cidrB?: string } = {},
  ): [NicDevice, NicDevice] {
    const da = new NicDevice(a, aName, parseMac(aMac), params.mtu ?? 1500);
    const db = new NicDevice(b, bName, parseMac(bMac), params.mtu ?? 1500);
    a.attach(da);
    b.attach(db);
    NicDevice.connect(da, db, {
      delayNs: params.delayNs ?? 1000,
      bandwidthBps: params.bandwidthBps ?? 0,
      loss: params.loss ?? 0,
      txQueueLen: params.txQueueLen ?? 1000,
    });
    if (params.cidrA !== undefined) addr(da, params.cidrA);
    if (params.cidrB !== undefined) addr(db, params.cidrB);
    return [da, db];
  }

  bridge(ns: Netns, name: string, mac: string, mtu = 1500): BridgeDevice {
    const br = new BridgeDevice(ns, name, parseMac(mac), mtu);
    ns.attach(br);
    return br;
  }

  /** Records frames seen at these devices in the shared tap. */
  capture(...devs: NetDevice[]): RecordingTap {
    for (const d of devs) d.tap = this.tap;
    return this.tap;
  }

  /** Runs `fn` at simulated time `t` (from a driver component of its own). */
  at(t: number, fn: () => void): void {
    this.sim.component('test-driver').scheduleAt(t, new Callback(fn), 0);
  }

  run(until: number): void {
    this.sim.run(until);
  }

  /** Drops counted for one namespace, by reason. */
  dropsOf(ns: Netns): Record<string, number> {
    return this.drops.toJSON()[ns.name] ?? {};
  }
}

/** `ip addr add CIDR dev DEV` */
export function addr(dev: NetDevice, cidr: string): void {
  const c = parseCidr(cidr);
  dev.ns.addAddress(dev, c.addr, c.prefixLen);
}

/** `ip route add DST [via GW] dev DEV` */
export function route(dev: NetDevice, dst: string, via?: string, metric = 0): void {
  const c = parseCidr(dst);
  dev.ns.addRoute(c.addr, c.prefixLen, dev, via === undefined ? 0 : parseIpv4(via), 0, metric);
}

export const ip = parseIpv4;

// ------------------------------------------------------------------ sending

export interface RawIpOptions {
  src?: number;
  ttl?: number;
  tos?: number;
  df?: boolean;
  /** SO_BROADCAST */
  broadcast?: boolean;
}

/**
 * Sends a UDP datagram through `ns.sendIp` (the socket layer with header
 * options UdpLayer does not expose). The payload is 0, 1, 2, ... with the
 * first 4 bytes `tag` (big-endian) when it has room.
 */
export function sendUdp(ns: Netns, dst: number, sport: number, dport: number, payloadLen: number, tag = 0, o: RawIpOptions = {}): SendError | null {
  const len = UDP_HEADER_LEN + payloadLen;
  const pkt = ns.newPacket(IPV4_HEADER_LEN + len);
  const udp = pkt.off + ETH_HLEN + IPV4_HEADER_LEN;
  const b = pkt.buf;
  for (let i = 0; i < payloadLen; i++) b[udp + UDP_HEADER_LEN + i] = i & 0xff;
  if (payloadLen >= 4) {
    b[udp + 8] = tag >>> 24;
    b[udp + 9] = (tag >>> 16) & 0xff;
    b[udp + 10] = (tag >>> 8) & 0xff;
    b[udp + 11] = tag & 0xff;
  }
  return ns.sendIp(
    pkt,
    IPPROTO_UDP,
    o.src ?? 0,
    dst,
    { dontFragment: o.df ?? true, ...(o.ttl !== undefined ? { ttl: o.ttl } : {}), ...(o.tos !== undefined ? { tos: o.tos } : {}), ...(o.broadcast === true ? { broadcast: true } : {}) },
    (src) => emitUdp({ srcPort: sport, dstPort: dport, length: len }, b, udp, src, dst),
  );
}

/** Sends an ICMP echo request (or any ICMP message `repr`) through `ns.sendIp`. */
export function sendIcmp(ns: Netns, dst: number, repr: IcmpRepr, o: RawIpOptions = {}): SendError | null {
  const len = ICMP_HEADER_LEN + ('payload' in repr ? repr.payload.length : repr.quoted.length);
  const pkt = ns.newPacket(IPV4_HEADER_LEN + len);
  emitIcmp(repr, pkt.buf, pkt.off + ETH_HLEN + IPV4_HEADER_LEN);
  return ns.sendIp(pkt, IPPROTO_ICMP, o.src ?? 0, dst, {
    dontFragment: o.df ?? false,
    ...(o.ttl !== undefined ? { ttl: o.ttl } : {}),
    ...(o.tos !== undefined ? { tos: o.tos } : {}),
  });
}

/** A raw Ethernet frame: `payloadLen` bytes after the header, byte i = tag + i. */
export function rawFrame(ns: Netns, dst: string | number, src: string | number, ethertype: number, payloadLen = 46, tag = 0): Packet {
  const pkt = Packet.alloc(ETH_HLEN + payloadLen, ns.ctx.newPacketId(), ns.now());
  emitEthernet(
    { dst: typeof dst === 'string' ? parseMac(dst) : dst, src: typeof src === 'string' ? parseMac(src) : src, ethertype },
    pkt.buf,
    pkt.off,
  );
  for (let i = 0; i < payloadLen; i++) pkt.buf[pkt.off + ETH_HLEN + i] = (tag + i) & 0xff;
  return pkt;
}

/** An ARP frame (42 bytes, as Linux sends them) with every field given. */
export function arpFrame(
  ns: Netns,
  op: 1 | 2,
  ethDst: string,
  ethSrc: string,
  a: { senderMac: string; senderIp: string; targetMac: string; targetIp: string },
): Packet {
  const pkt = Packet.alloc(ETH_HLEN + ARP_LEN, ns.ctx.newPacketId(), ns.now());
  emitEthernet({ dst: parseMac(ethDst), src: parseMac(ethSrc), ethertype: ETHERTYPE_ARP }, pkt.buf, pkt.off);
  emitArp(
    { op, senderMac: parseMac(a.senderMac), senderIp: parseIpv4(a.senderIp), targetMac: parseMac(a.targetMac), targetIp: parseIpv4(a.targetIp) },
    pkt.buf,
    pkt.off + ETH_HLEN,
  );
  return pkt;
}

/** An experimental ethertype (IEEE 802 local experimental 1) for frames no stack handles. */
export const ETHERTYPE_TEST = 0x88b5;

// ------------------------------------------------------------------ decoding

export interface Decoded {
  eth: { dst: number; src: number; ethertype: number };
  arp?: ArpRepr;
  ip?: Ipv4Repr & { checksumOk: boolean };
  icmp?: IcmpRepr & { checksumOk: boolean };
  udp?: UdpRepr & { checksum: number; payload: Uint8Array };
}

/** Parses a captured frame (checksums reported, not enforced). */
export function decode(bytes: Uint8Array): Decoded {
  const eth = parseEthernet(bytes, 0, bytes.length);
  const out: Decoded = { eth };
  if (eth.ethertype === ETHERTYPE_ARP) out.arp = parseArp(bytes, ETH_HLEN, bytes.length - ETH_HLEN);
  if (eth.ethertype !== ETHERTYPE_IPV4) return out;
  const h = parseIpv4Header(bytes, ETH_HLEN, bytes.length - ETH_HLEN, { verifyChecksum: false });
  out.ip = { ...h, checksumOk: internetChecksum(bytes, ETH_HLEN, h.headerLength) === 0 };
  const l4 = ETH_HLEN + h.headerLength;
  const l4len = h.totalLength - h.headerLength;
  if (h.protocol === IPPROTO_ICMP) {
    const r = parseIcmp(bytes, l4, l4len, { verifyChecksum: false });
    out.icmp = { ...r, checksumOk: internetChecksum(bytes, l4, l4len) === 0 };
  } else if (h.protocol === IPPROTO_UDP) {
    const u = parseUdp(bytes, l4, l4len, h.src, h.dst, { verifyChecksum: false });
    out.udp = { ...u, checksum: (bytes[l4 + 6]! << 8) | bytes[l4 + 7]!, payload: bytes.subarray(l4 + 8, l4 + u.length) };
  }
  return out;
}

/** One line per frame, after tcpdump -e: "src > dst PROTO details". */
export function frameLine(bytes: Uint8Array): string {
  const d = decode(bytes);
  const l2 = `${formatMac(d.eth.src)} > ${formatMac(d.eth.dst)}`;
  if (d.arp !== undefined) {
    const a = d.arp;
    return a.op === ARP_OP_REQUEST
      ? `${l2} ARP who-has ${formatIpv4(a.targetIp)} tell ${formatIpv4(a.senderIp)}`
      : `${l2} ARP ${formatIpv4(a.senderIp)} is-at ${formatMac(a.senderMac)}`;
  }
  if (d.ip === undefined) return `${l2} ethertype 0x${d.eth.ethertype.toString(16).padStart(4, '0')} len ${bytes.length}`;
  const h = d.ip;
  const l3 = `${l2} IP ${formatIpv4(h.src)} > ${formatIpv4(h.dst)} ttl ${h.ttl}`;
  if (d.icmp !== undefined) {
    const c = d.icmp;
    if (c.type === ICMP_ECHO || c.type === ICMP_ECHOREPLY) {
      return `${l3} ICMP echo ${c.type === ICMP_ECHO ? 'request' : 'reply'} id ${c.ident} seq ${c.seq}`;
    }
    return `${l3} ICMP ${c.type === 11 ? 'time exceeded' : 'unreachable'} code ${c.code}`;
  }
  if (d.udp !== undefined) return `${l3} UDP ${d.udp.srcPort} > ${d.udp.dstPort} len ${d.udp.length - 8}`;
  return `${l3} proto ${h.protocol}`;
}

/** The big-endian 32-bit tag sendUdp / UdpClient put at the start of a UDP payload. */
export function udpTag(d: Decoded): number {
  const p = d.udp!.payload;
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}
