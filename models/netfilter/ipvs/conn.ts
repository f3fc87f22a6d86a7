/**
 * The IPVS connection table (net/netfilter/ipvs/ip_vs_conn.c): one entry per
 * client connection through a virtual server, found by the client side
 * (caddr:cport -> vaddr:vport, ip_vs_conn_in_get) for requests and by the
 * real-server side (daddr:dport -> caddr:cport, ip_vs_conn_out_get) for
 * replies; plus persistence templates (IP_VS_CONN_F_TEMPLATE) that pin a
 * client address to a real server. Expiry is lazy: an entry whose timer ran
 * out is removed when met (the kernel's timer would have done it earlier; the
 * difference is invisible to packets).
 */
import { SECOND } from '../../../engine/time.js';
import { HashBuckets, hash3 } from '../../hash-buckets.js';
import type { RealServer, VirtualServer } from './service.js';
import { IpvsTcpState, TCP_TIMEOUTS_S, UDP_TIMEOUT_S } from './tcp-state.js';
import { IPPROTO_TCP } from '../../wire/ipv4.js';

export class IpvsConn {
  /** INACTIVE until a TCP connection reaches ESTABLISHED (UDP never does). */
  inactive = true;
  state: IpvsTcpState = IpvsTcpState.NONE;
  expiresAt = 0;
  /** Seconds the timer is reset to on each packet (cp->timeout). */
  timeoutS = 0;
  /** For a template: the connections it controls (cp->n_control); they keep it alive. */
  controlled = 0;
  constructor(
    readonly protocol: number,
    readonly caddr: number,
    readonly cport: number,
    readonly vaddr: number,
    readonly vport: number,
    readonly dest: RealServer,
    readonly svc: VirtualServer,
    readonly template: IpvsConn | null,
    readonly isTemplate: boolean,
  ) {}

  get daddr(): number {
    return this.dest.addr;
  }
  get dport(): number {
    return this.dest.port;
  }
}

/** Which side of an entry a key is made of. */
const enum Side {
  /** Client to virtual address (caddr:cport -> vaddr:vport): connections. */
  IN = 0,
  /** Real server to client (daddr:dport -> caddr:cport). */
  OUT = 1,
  /** Client address to virtual address, cport 0: persistence templates. */
  TEMPLATE = 2,
}

/**
 * The hash of a 5-tuple (ip_vs_conn_hashkey): a small integer, so a
 * packet's lookup makes no string. Entries whose tuples hash alike share a
 * bucket, and a lookup compares the tuple itself.
 */
export function tupleHash(protocol: number, a: number, aport: number, b: number, bport: number): number {
  return hash3(protocol ^ a, (aport << 16) | bport, b);
}

/** A tuple a lookup asks for, on one side. */
interface TupleKey {
  side: Side;
  protocol: number;
  a: number;
  aport: number;
  b: number;
  bport: number;
}

function matches(c: IpvsConn, k: TupleKey): boolean {
  if (c.protocol !== k.protocol || c.isTemplate !== (k.side === Side.TEMPLATE)) return false;
  return k.side === Side.OUT
    ? c.daddr === k.a && c.dport === k.aport && c.caddr === k.b && c.cport === k.bport
    : c.caddr === k.a && c.cport === k.aport && c.vaddr === k.b && c.vport === k.bport;
}

/** The entries of one side by tupleHash. */
class TupleIndex {
  private readonly buckets = new HashBuckets<IpvsConn, TupleKey>(matches);
  /** The tuple a lookup asks for (reused: a lookup makes nothing). */
  private readonly key: TupleKey;

  constructor(private readonly side: Side) {
    this.key = { side, protocol: 0, a: 0, aport: 0, b: 0, bport: 0 };
  }

  get(protocol: number, a: number, aport: number, b: number, bport: number): IpvsConn | undefined {
    const k = this.key;
    k.protocol = protocol;
    k.a = a;
    k.aport = aport;
    k.b = b;
    k.bport = bport;
    return this.buckets.find(tupleHash(protocol, a, aport, b, bport), k);
  }

  /** Adds `c` under its tuple, in place of an entry with the same tuple; returns that entry. */
  set(c: IpvsConn): IpvsConn | undefined {
    const [a, aport, b, bport] = this.tupleOf(c);
    const old = this.get(c.protocol, a, aport, b, bport);
    this.buckets.put(tupleHash(c.protocol, a, aport, b, bport), c, old);
    return old;
  }

  /** Removes `c` if it is the entry under its tuple. */
  delete(c: IpvsConn): void {
    const [a, aport, b, bport] = this.tupleOf(c);
    this.buckets.remove(tupleHash(c.protocol, a, aport, b, bport), c);
  }

  private tupleOf(c: IpvsConn): [number, number, number, number] {
    return this.side === Side.OUT ? [c.daddr, c.dport, c.caddr, c.cport] : [c.caddr, c.cport, c.vaddr, c.vport];
  }
}

export class IpvsConnTable {
  private readonly byIn = new TupleIndex(Side.IN);
  private readonly byOut = new TupleIndex(Side.OUT);
  private readonly templates = new TupleIndex(Side.TEMPLATE);
  /** Every entry, connections and templates, in the order they were added. */
  private readonly all = new Set<IpvsConn>();

  constructor(private readonly now: () => number) {}

  get size(): number {
    return this.all.size;
  }

  /** ip_vs_conn_in_get: a request's connection (client -> virtual address). */
  inGet(protocol: number, caddr: number, cport: number, vaddr: number, vport: number): IpvsConn | null {
    return this.live(this.byIn.get(protocol, caddr, cport, vaddr, vport));
  }

  /** ip_vs_conn_out_get: a reply's connection (real server -> client). */
  outGet(protocol: number, daddr: number, dport: number, caddr: number, cport: number): IpvsConn | null {
    return this.live(this.byOut.get(protocol, daddr, dport, caddr, cport));
  }

  /** ip_vs_ct_in_get for a persistent service: the client's template (cport 0, vaddr:vport). */
  templateGet(protocol: number, caddr: number, svc: VirtualServer): IpvsConn | null {
    return this.live(this.templates.get(protocol, caddr, 0, svc.addr, svc.port));
  }

  /** ip_vs_conn_new + ip_vs_bind_dest: counters of the dest go up. */
  add(c: IpvsConn): IpvsConn {
    if (c.isTemplate) {
      c.dest.persistConns++;
      c.timeoutS = c.svc.persistenceTimeout;
    } else {
      c.dest.inactConns++;
      c.timeoutS = c.protocol === IPPROTO_TCP ? TCP_TIMEOUTS_S[IpvsTcpState.NONE] : UDP_TIMEOUT_S;
      if (c.template !== null) c.template.controlled++;
      this.byOut.set(c);
    }
    // An entry with the same tuple (none is live: its lookup came first) leaves the list.
    const old = (c.isTemplate ? this.templates : this.byIn).set(c);
    if (old !== undefined) this.all.delete(old);
    this.all.add(c);
    this.touch(c);
    return c;
  }

  /** ip_vs_conn_put: the timer restarts at the connection's timeout. */
  touch(c: IpvsConn): void {
    c.expiresAt = this.now() + c.timeoutS * SECOND;
  }

  /** Expires `c` now (expire_nodest_conn: its real server is gone). */
  expireNow(c: IpvsConn): void {
    this.expire(c);
  }

  /** ip_vs_conn_expire: unlink and let go of the dest (and the template). */
  private expire(c: IpvsConn): void {
    this.all.delete(c);
    if (c.isTemplate) {
      this.templates.delete(c);
      c.dest.persistConns--;
      return;
    }
    this.byIn.delete(c);
    this.byOut.delete(c);
    if (c.inactive) c.dest.inactConns--;
    else c.dest.activeConns--;
    if (c.template !== null) c.template.controlled--;
  }

  /** The entry if its timer has not run out; else it goes. A template lives on while it controls connections. */
  private live(c: IpvsConn | undefined): IpvsConn | null {
    if (c === undefined) return null;
    if (c.expiresAt > this.now()) return c;
    if (c.isTemplate && (this.reapControlled(c), c.controlled > 0)) {
      this.touch(c); // ip_vs_conn_expire restarts a template's timer while n_control != 0
      return c;
    }
    this.expire(c);
    return null;
  }

  private reapControlled(t: IpvsConn): void {
    for (const c of [...this.all]) if (!c.isTemplate && c.template === t && c.expiresAt <= this.now()) this.expire(c);
  }

  /** Reaps expired entries, then every entry (templates too) in a stable order. */
  entries(): IpvsConn[] {
    const now = this.now();
    for (const c of [...this.all]) if (!c.isTemplate && c.expiresAt <= now) this.expire(c);
    for (const c of [...this.all]) if (c.isTemplate) this.live(c);
    return [...this.all];
  }
}
