import type { EventHandler } from '../../engine/simulation.js';
import type { RandomStream } from '../../engine/rng.js';
import type { NetDevice } from '../devices/net-device.js';
import { DropReason } from '../devices/drop-reason.js';
import type { Packet } from '../packet.js';
import { ETHERTYPE_IPV4, setEthDst, setEthSrc, setEthType } from '../wire/ethernet.js';
import { formatIpv4, formatMac } from '../wire/addr.js';

/** NUD states (include/uapi/linux/neighbour.h). */
export const enum Nud {
  NONE = 0,
  INCOMPLETE = 1,
  REACHABLE = 2,
  STALE = 4,
  DELAY = 8,
  PROBE = 16,
  FAILED = 32,
  /** Nothing to resolve: a device without link-layer addresses (ip tunnels), or a broadcast address. */
  NOARP = 64,
  /** `ip neigh replace ... nud permanent`: never probed, never overwritten by ARP. */
  PERMANENT = 128,
}

const NUD_NAMES: Record<number, string> = {
  0: 'NONE', 1: 'INCOMPLETE', 2: 'REACHABLE', 4: 'STALE', 8: 'DELAY', 16: 'PROBE', 32: 'FAILED', 64: 'NOARP', 128: 'PERMANENT',
};

/** arp_tbl defaults (net/ipv4/arp.c, Documentation/networking/ip-sysctl.rst). */
export interface NeighParams {
  baseReachableNs: number;
  retransNs: number;
  delayProbeNs: number;
  ucastProbes: number;
  mcastProbes: number;
  /** Packets held while a neighbour resolves (unres_qlen). */
  unresQlen: number;
}

export const DEFAULT_NEIGH_PARAMS: NeighParams = {
  baseReachableNs: 30e9,
  retransNs: 1e9,
  delayProbeNs: 5e9,
  ucastProbes: 3,
  mcastProbes: 3,
  unresQlen: 101,
};

/** neigh_timer_handler re-arms at least HZ/100 (10 ms) ahead. */
const MIN_REARM_NS = 10e6;

/** The bit of an address in NeighbourTable's one-word filter. */
function ipBit(ip: number): number {
  return 1 << (Math.imul(ip, 0x9e3779b1) >>> 27);
}

/** One neighbour entry (struct neighbour). */
export class Neighbour {
  state: Nud = Nud.NONE;
  mac = 0;
  updatedAt = 0;
  confirmedAt = -Infinity;
  usedAt = 0;
  probes = 0;
  /** When the pending timer is due; events for other times are stale. */
  timerAt = -1;
  readonly queue: Packet[] = [];

  constructor(
    readonly ip: number,
    readonly dev: NetDevice,
  ) {}

  get stateName(): string {
    return NUD_NAMES[this.state]!;
  }
}

/** What the neighbour layer needs from its namespace. */
export interface NeighbourHost {
  /**
   * The clock (the namespace's component), read as a field: a closure here
   * was two more objects of a cold namespace to load on every packet sent.
   */
  readonly clock: { readonly now: number };
  schedule(delay: number, handler: EventHandler, kind: number, arg: unknown): void;
  /** arp_solicit: send an ARP request for `n` (unicast to `dstMac` when nonzero). */
  solicit(n: Neighbour, dstMac: number, lastQueued: Packet | undefined): void;
  /** neigh_invalidate -> arp_error_report: the packet could not be delivered. */
  unreachable(pkt: Packet, dev: NetDevice): void;
  /** inet_addr_type_dev_table(dev, ip) == RTN_BROADCAST. */
  isBroadcastOn(dev: NetDevice, ip: number): boolean;
}

/** dev->broadcast of an Ethernet device. */
const BROADCAST_MAC = 0xffffffffffff;

/**
 * The ARP neighbour table of one namespace, after net/core/neighbour.c:
 * __neigh_event_send (output on an unresolved entry), neigh_update (an ARP
 * message arrived) and neigh_timer_handler (the NUD state machine).
 */
export class NeighbourTable implements EventHandler {
  /**
   * Entries per device, indexed by ifindex, keyed by `ip | 0`. Small integer
   * keys stay Smis; one map keyed by `ifindex * 2^32 + ip` hashed a boxed
   * double on every lookup (once or twice per packet sent).
   */
  private readonly byDev: (Map<number, Neighbour> | undefined)[] = [];
  /** The last entry found: a pod sends everything to one gateway. Entries are never removed, so it cannot go stale. */
  private last: Neighbour | null = null;
  /**
   * A one-word Bloom filter over the addresses of all entries (ipBit): an ARP
   * flood asks every namespace about senders it has never heard of.
   */
  private ipBits = 0;
  private reachableNs: number;
  /** host.clock, one load nearer. */
  private readonly clock: { readonly now: number };

  constructor(
    private readonly host: NeighbourHost,
    private readonly rng: RandomStream,
    readonly params: NeighParams = DEFAULT_NEIGH_PARAMS,
  ) {
    this.clock = host.clock;
    this.reachableNs = this.randomReachable();
  }

  /** neigh_rand_reach_time: uniform in [base/2, 3*base/2). */
  private randomReachable(): number {
    const base = this.params.baseReachableNs;
    return Math.floor(base / 2 + this.rng.next() * base);
  }

  lookup(dev: NetDevice, ip: number): Neighbour | undefined {
    const last = this.last;
    if (last !== null && last.ip === ip && last.dev === dev) return last;
    const m = this.byDev[dev.ifindex];
    const n = m === undefined ? undefined : m.get(ip | 0);
    if (n !== undefined) this.last = n;
    return n;
  }

  /** False when there is certainly no entry for `ip` on any device. */
  mayHave(ip: number): boolean {
    return (this.ipBits & ipBit(ip)) !== 0;
  }

  private create(dev: NetDevice, ip: number): Neighbour {
    const n = new Neighbour(ip, dev);
    this.ipBits |= ipBit(ip);
    // arp_constructor: a device without header_ops gets NUD_NOARP entries, and
    // so does a broadcast address, with the device's broadcast address.
    if (dev.noArp) n.state = Nud.NOARP;
    else if (this.host.isBroadcastOn(dev, ip)) {
      n.state = Nud.NOARP;
      n.mac = BROADCAST_MAC;
    }
    n.updatedAt = this.clock.now;
    let m = this.byDev[dev.ifindex];
    if (m === undefined) {
      m = new Map();
      while (this.byDev.length < dev.ifindex) this.byDev.push(undefined); // stay a packed array
      this.byDev[dev.ifindex] = m;
    }
    m.set(ip | 0, n);
    return n;
  }

  /**
   * neigh_resolve_output: send an IPv4 frame (Ethernet header to be written) to
   * next hop `ip` on `dev`, resolving it first when needed.
   */
  output(dev: NetDevice, ip: number, pkt: Packet): void {
    let n = this.lookup(dev, ip);
    if (n === undefined) n = this.create(dev, ip);
    const now = this.clock.now;
    n.usedAt = now;
    switch (n.state) {
      case Nud.REACHABLE:
      case Nud.DELAY:
      case Nud.PROBE:
      case Nud.PERMANENT:
        this.transmit(n, pkt);
        return;
      case Nud.NOARP:
        if (!n.dev.noArp) {
          this.transmit(n, pkt); // a broadcast address: neigh_connected_output to ff:ff:ff:ff:ff:ff
          return;
        }
        // neigh_direct_output: no link-layer header to fill in; only skb->protocol (ip_output) is known.
        setEthDst(pkt.buf, pkt.off, 0);
        setEthSrc(pkt.buf, pkt.off, 0);
        setEthType(pkt.buf, pkt.off, ETHERTYPE_IPV4);
        n.dev.xmit(pkt);
        return;
      case Nud.STALE:
        // __neigh_event_send: a stale entry is used at once and checked after delay_probe_time.
        n.state = Nud.DELAY;
        n.updatedAt = now;
        this.armTimer(n, this.params.delayProbeNs);
        this.transmit(n, pkt);
        return;
      case Nud.INCOMPLETE:
        this.enqueue(n, pkt);
        return;
      default: // NONE, FAILED
        n.state = Nud.INCOMPLETE;
        n.updatedAt = now;
        n.probes = this.params.ucastProbes;
        this.enqueue(n, pkt);
        this.armTimer(n, this.params.retransNs);
        this.probe(n);
    }
  }

  private enqueue(n: Neighbour, pkt: Packet): void {
    if (n.queue.length >= this.params.unresQlen) {
      // __neigh_event_send drops the oldest packet to make room.
      const old = n.queue.shift()!;
      n.dev.dropTx(old, DropReason.NEIGH_QUEUEFULL);
    }
    n.queue.push(pkt);
  }

  private transmit(n: Neighbour, pkt: Packet): void {
    const b = pkt.buf;
    const o = pkt.off;
    setEthDst(b, o, n.mac);
    setEthSrc(b, o, n.dev.mac);
    setEthType(b, o, ETHERTYPE_IPV4);
    n.dev.xmit(pkt);
  }

  /** neigh_probe: one solicitation; the first `ucastProbes` probes of PROBE are unicast. */
  private probe(n: Neighbour): void {
    const unicast = n.state === Nud.PROBE && n.probes < this.params.ucastProbes;
    this.host.solicit(n, unicast ? n.mac : 0, n.queue[n.queue.length - 1]);
    n.probes++;
  }

  /**
   * neigh_update: an ARP message told us `mac` for (`dev`, `ip`). `create` makes
   * the entry if missing (neigh_event_ns on a request for one of our addresses);
   * `reachable` is true for a unicast reply (it confirms reachability).
   */
  update(dev: NetDevice, ip: number, mac: number, reachable: boolean, create: boolean): void {
    let n = this.lookup(dev, ip);
    if (n === undefined) {
      if (!create) return;
      n = this.create(dev, ip);
    }
    // neigh_update without NEIGH_UPDATE_F_ADMIN leaves NOARP and PERMANENT entries alone.
    if (n.state & (Nud.NOARP | Nud.PERMANENT)) return;
    const now = this.clock.now;
    const wasValid = n.state & (Nud.REACHABLE | Nud.STALE | Nud.DELAY | Nud.PROBE);
    if (!reachable && wasValid && n.mac === mac) {
      // Same address from a request or broadcast: nothing new is learned.
      return;
    }
    n.mac = mac;
    n.updatedAt = now;
    if (reachable) {
      n.state = Nud.REACHABLE;
      n.confirmedAt = now;
      this.armTimer(n, this.reachableNs);
    } else {
      n.state = Nud.STALE;
      n.timerAt = -1;
    }
    if (n.queue.length > 0) {
      // The queue leaves through neigh->output: a STALE entry is used at once and enters DELAY.
      const q = n.queue.splice(0, n.queue.length);
      for (const pkt of q) this.output(n.dev, n.ip, pkt);
    }
  }

  /** `ip neigh replace IP lladdr MAC dev DEV nud permanent` (flannel's VTEP entries). */
  addPermanent(dev: NetDevice, ip: number, mac: number): void {
    const n = this.lookup(dev, ip) ?? this.create(dev, ip);
    n.state = Nud.PERMANENT;
    n.mac = mac;
    n.updatedAt = this.clock.now;
    n.timerAt = -1;
    const q = n.queue.splice(0, n.queue.length);
    for (const pkt of q) this.transmit(n, pkt);
  }

  /** dst_confirm / neigh_confirm: upper layers saw the neighbour answer (TCP). */
  confirm(dev: NetDevice, ip: number): void {
    const n = this.lookup(dev, ip);
    if (n !== undefined) n.confirmedAt = this.clock.now;
  }

  private armTimer(n: Neighbour, delay: number): void {
    n.timerAt = this.clock.now + delay;
    this.host.schedule(delay, this, 0, n);
  }

  /** neigh_timer_handler */
  handleEvent(_kind: number, arg: unknown): void {
    const n = arg as Neighbour;
    const now = this.clock.now;
    if (n.timerAt !== now) return; // superseded
    n.timerAt = -1;
    const p = this.params;
    let next = -1;
    if (n.state === Nud.REACHABLE) {
      if (now <= n.confirmedAt + this.reachableNs) next = n.confirmedAt + this.reachableNs;
      else if (now <= n.usedAt + p.delayProbeNs) {
        n.state = Nud.DELAY;
        n.updatedAt = now;
        next = now + p.delayProbeNs;
      } else {
        n.state = Nud.STALE;
        n.updatedAt = now;
      }
    } else if (n.state === Nud.DELAY) {
      if (now <= n.confirmedAt + p.delayProbeNs) {
        n.state = Nud.REACHABLE;
        n.updatedAt = now;
        next = n.confirmedAt + this.reachableNs;
      } else {
        n.state = Nud.PROBE;
        n.updatedAt = now;
        n.probes = 0;
        next = now + p.retransNs;
      }
    } else if (n.state === Nud.INCOMPLETE || n.state === Nud.PROBE) {
      next = now + p.retransNs;
    } else {
      return;
    }
    const maxProbes = p.ucastProbes + (n.state === Nud.PROBE ? 0 : p.mcastProbes);
    if ((n.state === Nud.INCOMPLETE || n.state === Nud.PROBE) && n.probes >= maxProbes) {
      n.state = Nud.FAILED;
      n.updatedAt = now;
      this.invalidate(n);
      return;
    }
    if (next >= 0) {
      // The timer is never re-armed sooner than HZ/100 from now: at exactly
      // confirmed + reachable_time the entry is "still alive" with next == now.
      if (next < now + MIN_REARM_NS) next = now + MIN_REARM_NS;
      n.timerAt = next;
      this.host.schedule(next - now, this, 0, n);
    }
    if (n.state === Nud.INCOMPLETE || n.state === Nud.PROBE) this.probe(n);
  }

  /** neigh_invalidate: every queued packet is reported unreachable. */
  private invalidate(n: Neighbour): void {
    const q = n.queue.splice(0, n.queue.length);
    for (const pkt of q) {
      n.dev.dropTx(pkt, DropReason.NEIGH_FAILED);
      this.host.unreachable(pkt, n.dev);
    }
  }

  /** `ip neigh show`-like dump, sorted by device then address. */
  dump(): { ip: string; dev: string; mac: string | null; state: string }[] {
    return this.byDev
      .flatMap((m) => (m === undefined ? [] : [...m.values()]))
      .filter((n) => n.state !== Nud.NONE)
      .sort((a, b) => a.dev.ifindex - b.dev.ifindex || a.ip - b.ip)
      .map((n) => ({
        ip: formatIpv4(n.ip),
        dev: n.dev.name,
        mac: n.state & (Nud.INCOMPLETE | Nud.FAILED) ? null : formatMac(n.mac),
        state: n.stateName,
      }));
  }
}
