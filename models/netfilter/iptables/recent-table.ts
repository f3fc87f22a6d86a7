/**
 * xt_recent's per-namespace lists (net/netfilter/xt_recent.c): each named
 * table remembers up to ip_list_tot addresses, each with the times of its
 * last ip_pkt_list_tot packets, in LRU order. A table lives while some rule
 * references it; replacing the ruleset keeps the lists of names that
 * survive, as the kernel's refcount does (new rules are checked before the
 * old ones are destroyed).
 *
 * Times are simulation nanoseconds where the kernel uses jiffies.
 */
import { formatIpv4 } from '../../wire/addr.js';

/** Module parameters with their kernel defaults. */
export const IP_LIST_TOT = 100;
export const IP_PKT_LIST_TOT = 20;

export class RecentEntry {
  readonly stamps = new Float64Array(IP_PKT_LIST_TOT);
  /** Next slot to write, 1-based after the first stamp (e->index). */
  index = 1;
  nstamps = 1;
  /** LRU list links (struct list_head lru_list). */
  prev: RecentEntry | null = null;
  next: RecentEntry | null = null;

  constructor(
    readonly addr: number,
    public ttl: number,
    now: number,
  ) {
    this.stamps[0] = now;
  }

  get lastSeen(): number {
    return this.stamps[(this.index - 1) % IP_PKT_LIST_TOT]!;
  }
}

export class RecentTable {
  private readonly byAddr = new Map<number, RecentEntry[]>();
  /** LRU: head is the least recently updated entry. */
  private head: RecentEntry | null = null;
  private tail: RecentEntry | null = null;
  entries = 0;
  refcnt = 0;

  constructor(readonly name: string) {}

  /** recent_entry_lookup: ttl 0 (or an entry ttl 0) matches any ttl. */
  lookup(addr: number, ttl: number): RecentEntry | null {
    const list = this.byAddr.get(addr);
    if (list === undefined) return null;
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!;
      if (ttl === e.ttl || ttl === 0 || e.ttl === 0) return e;
    }
    return null;
  }

  /** recent_entry_init: evicts the LRU head when the table is full. */
  init(addr: number, ttl: number, now: number): RecentEntry {
    if (this.entries >= IP_LIST_TOT && this.head !== null) this.remove(this.head);
    const e = new RecentEntry(addr, ttl, now);
    let list = this.byAddr.get(addr);
    if (list === undefined) {
      list = [];
      this.byAddr.set(addr, list);
    }
    list.push(e);
    this.linkTail(e);
    this.entries++;
    return e;
  }

  /** recent_entry_update: a new stamp, and the entry moves to the LRU tail. */
  update(e: RecentEntry, now: number): void {
    e.index %= IP_PKT_LIST_TOT;
    e.stamps[e.index++] = now;
    if (e.index > e.nstamps) e.nstamps = e.index;
    this.unlink(e);
    this.linkTail(e);
  }

  remove(e: RecentEntry): void {
    const list = this.byAddr.get(e.addr)!;
    list.splice(list.indexOf(e), 1);
    if (list.length === 0) this.byAddr.delete(e.addr);
    this.unlink(e);
    this.entries--;
  }

  /**
   * recent_entry_reap: drop the LRU head if its newest stamp is older than
   * `time`, unless it is the entry about to be updated.
   */
  reap(time: number, working: RecentEntry, update: boolean): void {
    const e = this.head;
    if (e === null || (e === working && update)) return;
    if (time > e.stamps[e.index - 1]!) this.remove(e);
  }

  flush(): void {
    this.byAddr.clear();
    this.head = this.tail = null;
    this.entries = 0;
  }

  /** The entries in LRU order (oldest first), for tests and dumps. */
  list(): RecentEntry[] {
    const out: RecentEntry[] = [];
    for (let e = this.head; e !== null; e = e.next) out.push(e);
    return out;
  }

  /** /proc/net/xt_recent/NAME, one line per entry (recent_seq_show), times in ns. */
  dump(): string {
    return this.list()
      .map((e) => {
        const stamps = Array.from(e.stamps.subarray(0, e.nstamps)).join(', ');
        return `src=${formatIpv4(e.addr)} ttl: ${e.ttl} last_seen: ${e.lastSeen} oldest_pkt: ${e.index} ${stamps}\n`;
      })
      .join('');
  }

  private linkTail(e: RecentEntry): void {
    e.prev = this.tail;
    e.next = null;
    if (this.tail !== null) this.tail.next = e;
    else this.head = e;
    this.tail = e;
  }

  private unlink(e: RecentEntry): void {
    if (e.prev !== null) e.prev.next = e.next;
    else this.head = e.next;
    if (e.next !== null) e.next.prev = e.prev;
    else this.tail = e.prev;
    e.prev = e.next = null;
  }
}

/** The namespace's tables by name (recent_net->tables). */
export class RecentRegistry {
  private readonly tables = new Map<string, RecentTable>();

  /** recent_mt_check: find or create, and take a reference. */
  acquire(name: string): RecentTable {
    let t = this.tables.get(name);
    if (t === undefined) {
      t = new RecentTable(name);
      this.tables.set(name, t);
    }
    t.refcnt++;
    return t;
  }

  /** recent_mt_destroy: the last reference frees the table and its entries. */
  release(name: string): void {
    const t = this.tables.get(name);
    if (t === undefined) return;
    if (--t.refcnt === 0) {
      t.flush();
      this.tables.delete(name);
    }
  }

  get(name: string): RecentTable | undefined {
    return this.tables.get(name);
  }

  names(): string[] {
    return [...this.tables.keys()];
  }
}
