/**
 * The IPVS service table (struct ip_vs_service / ip_vs_dest): virtual
 * servers keyed by protocol, address and port, each with a scheduler, an
 * optional persistence timeout and its real servers. Only the masquerading
 * forwarding method (IP_VS_CONN_F_MASQ, ipvsadm -m) is modelled: it is the
 * one kube-proxy uses.
 */
import { formatIpv4, parseIpv4 } from '../../wire/addr.js';
import { WrrMark } from './scheduler.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../wire/ipv4.js';

export type IpvsProtocol = 'TCP' | 'UDP';
/** The schedulers modelled (scheduler.ts): every value kube-proxy's --ipvs-scheduler takes. */
export const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'sed', 'nq', 'sh', 'dh'] as const;
export type SchedulerName = (typeof SCHEDULERS)[number];

/** A virtual server as configuration (what `ipvsadm -A` / `-a` are given): plain data. */
export interface VirtualServerSpec {
  protocol: IpvsProtocol;
  address: string;
  port: number;
  scheduler: SchedulerName;
  /** ipvsadm -p SECONDS (persistence, netmask 255.255.255.255); absent: not persistent. */
  persistenceTimeout?: number;
  /** Real servers in the order they are added (`ipvsadm -a` each). */
  realServers: { address: string; port: number; weight: number }[];
}

/** struct ip_vs_dest */
export class RealServer {
  /** ip_vs_dest counters shown by `ipvsadm -Ln` (ActiveConn, InActConn) and the templates it backs. */
  activeConns = 0;
  inactConns = 0;
  persistConns = 0;
  /** Deleted from its service (ipvsadm -d): connections still bound to it expire at their next packet. */
  removed = false;
  constructor(
    readonly addr: number,
    readonly port: number,
    readonly weight: number,
  ) {}
}

/** struct ip_vs_service */
export class VirtualServer {
  /**
   * svc->destinations: ip_vs_add_dest links a new dest at the head of the list
   * (list_add_rcu), so the last one added comes first, and rr starts from the head.
   */
  readonly dests: RealServer[] = [];
  /** rr's svc->sched_data: the position of the last dest chosen (-1: the list head). */
  rrLast = -1;
  /** sh's and dh's svc->sched_data: the 256 buckets, made again when the dests change (null: not made yet). */
  private buckets: (RealServer | null)[] | null = null;
  /** wrr's svc->sched_data; null for the other schedulers. */
  readonly wrr: WrrMark | null;
  /** lblc's svc->sched_data: the dest each destination address was given; null for the other schedulers. */
  readonly lblc: Map<number, RealServer> | null;
  /** lblcr's svc->sched_data: each destination address's set of dests, the newest first; null for the other schedulers. */
  readonly lblcr: Map<number, RealServer[]> | null;
  constructor(
    readonly protocol: number,
    readonly addr: number,
    readonly port: number,
    readonly scheduler: SchedulerName,
    /** Persistence timeout in seconds; 0 = not persistent. */
    readonly persistenceTimeout: number,
  ) {
    this.wrr = scheduler === 'wrr' ? new WrrMark() : null;
    this.lblc = scheduler === 'lblc' ? new Map() : null;
    this.lblcr = scheduler === 'lblcr' ? new Map() : null;
    this.wrr?.destChanged(this.dests);
  }

  addDest(d: RealServer): void {
    if (this.dests.some((x) => x.addr === d.addr && x.port === d.port)) {
      throw new Error(`ipvs: ${protocolName(this.protocol)} ${formatIpv4(this.addr)}:${this.port} already has real server ${formatIpv4(d.addr)}:${d.port}`);
    }
    this.dests.unshift(d);
    this.rrLast = -1;
    this.buckets = null;
    this.wrr?.destChanged(this.dests);
  }

  /** The hash buckets of sh or dh, assigned by `assign` from the dests as they are now (the add_dest/del_dest reassign). */
  hashBuckets(assign: (dests: readonly RealServer[]) => (RealServer | null)[]): (RealServer | null)[] {
    return (this.buckets ??= assign(this.dests));
  }

  /** ip_vs_del_dest (ipvsadm -d); rr's position steps back to the previous dest (ip_vs_rr_del_dest). */
  removeDest(addr: number, port: number): boolean {
    const i = this.dests.findIndex((x) => x.addr === addr && x.port === port);
    if (i < 0) return false;
    this.dests[i]!.removed = true;
    this.dests.splice(i, 1);
    if (i <= this.rrLast) this.rrLast--;
    this.buckets = null;
    this.wrr?.destChanged(this.dests);
    return true;
  }
}

export function protocolNumber(p: IpvsProtocol): number {
  return p === 'TCP' ? IPPROTO_TCP : IPPROTO_UDP;
}

export function protocolName(p: number): string {
  return p === IPPROTO_TCP ? 'TCP' : p === IPPROTO_UDP ? 'UDP' : 'IP';
}

export function serviceKey(protocol: number, addr: number, port: number): number {
  // 8 + 32 + 16 bits: exact in a double.
  return (protocol * 0x1_0000_0000 + addr) * 65536 + port;
}

/** Builds the live service from its spec; a bad spec throws an Error naming the service. */
export function virtualServerOf(spec: VirtualServerSpec): VirtualServer {
  const name = `${spec.protocol} ${spec.address}:${spec.port}`;
  if (spec.protocol !== 'TCP' && spec.protocol !== 'UDP') throw new Error(`ipvs ${name}: protocol must be TCP or UDP`);
  if (!(SCHEDULERS as readonly string[]).includes(spec.scheduler)) {
    throw new Error(`ipvs ${name}: scheduler ${String(spec.scheduler)} is not modelled (${SCHEDULERS.join(', ')})`);
  }
  if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535) throw new Error(`ipvs ${name}: port must be 1-65535`);
  const t = spec.persistenceTimeout ?? 0;
  if (!Number.isInteger(t) || t < 0) throw new Error(`ipvs ${name}: persistence timeout must be a whole number of seconds`);
  const vs = new VirtualServer(protocolNumber(spec.protocol), parseIpv4(spec.address), spec.port, spec.scheduler, t);
  for (const r of spec.realServers) {
    if (!Number.isInteger(r.weight) || r.weight < 0) throw new Error(`ipvs ${name}: real server ${r.address}:${r.port} weight must be >= 0`);
    vs.addDest(new RealServer(parseIpv4(r.address), r.port, r.weight));
  }
  return vs;
}
