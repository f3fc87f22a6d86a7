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

function inKey(protocol: number, caddr: number, cport: number, vaddr: number, vport: number): string {
  return `${protocol}:${caddr}:${cport}:${vaddr}:${vport}`;
}

/** Templates live in the same table, apart from connections (IP_VS_CONN_F_TEMPLATE is part of the match). */
function keyOf(c: IpvsConn): string {
  const k = inKey(c.protocol, c.caddr, c.cport, c.vaddr, c.vport);
  return c.isTemplate ? `T${k}` : k;
}

export class IpvsConnTable {
  private readonly byIn = new Map<string, IpvsConn>();
  private readonly byOut = new Map<string, IpvsConn>();

  constructor(private readonly now: () => number) {}

  get size(): number {
    return this.byIn.size;
  }

  /** ip_vs_conn_in_get: a request's connection (client -> virtual address). */
  inGet(protocol: number, caddr: number, cport: number, vaddr: number, vport: number): IpvsConn | null {
    return this.live(this.byIn.get(inKey(protocol, caddr, cport, vaddr, vport)));
  }

  /** ip_vs_conn_out_get: a reply's connection (real server -> client). */
  outGet(protocol: number, daddr: number, dport: number, caddr: number, cport: number): IpvsConn | null {
    return this.live(this.byOut.get(inKey(protocol, daddr, dport, caddr, cport)));
  }

  /** ip_vs_ct_in_get for a persistent service: the client's template (cport 0, vaddr:vport). */
  templateGet(protocol: number, caddr: number, svc: VirtualServer): IpvsConn | null {
    return this.live(this.byIn.get(`T${inKey(protocol, caddr, 0, svc.addr, svc.port)}`));
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
      this.byOut.set(inKey(c.protocol, c.daddr, c.dport, c.caddr, c.cport), c);
    }
    this.byIn.set(keyOf(c), c);
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
    this.byIn.delete(keyOf(c));
    if (c.isTemplate) {
      c.dest.persistConns--;
      return;
    }
    this.byOut.delete(inKey(c.protocol, c.daddr, c.dport, c.caddr, c.cport));
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
    for (const c of [...this.byOut.values()]) if (c.template === t && c.expiresAt <= this.now()) this.expire(c);
  }

  /** Reaps expired entries, then every entry (templates too) in a stable order. */
  entries(): IpvsConn[] {
    const now = this.now();
    for (const c of [...this.byIn.values()]) if (!c.isTemplate && c.expiresAt <= now) this.expire(c);
    for (const c of [...this.byIn.values()]) if (c.isTemplate) this.live(c);
    return [...this.byIn.values()];
  }
}
