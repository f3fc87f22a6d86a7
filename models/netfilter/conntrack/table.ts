/**
 * The conntrack hash table (nf_conntrack_hash): every confirmed connection
 * is linked twice, under the hash of its original tuple and of its reply
 * tuple, in chains of TupleHash nodes. A lookup hashes the packet's tuple,
 * walks one chain and compares fields; nothing is allocated.
 *
 * Buckets are kept in a Map (bucket index -> first node) so an idle
 * namespace costs nothing, while a bucket count like the kernel's
 * nf_conntrack_buckets decides which entries share a chain: early_drop
 * scans chains, not the whole table.
 *
 * Expiry is lazy, as the kernel's lookups also do (____nf_conntrack_find
 * reaps an expired entry it meets): an expired entry is removed when a walk
 * meets it, and all expired entries are reaped at once when the table is
 * full (standing in for the gc worker, which the kernel runs periodically).
 */
import { CtStatus, type Tuple } from '../types.js';
import type { TrackedConn, TupleHash } from './conn.js';
import { hashTupleFields, reciprocalScale, tupleEqual } from './tuple.js';

/** NF_CT_EVICTION_RANGE: early_drop looks at this many buckets. */
const EVICTION_RANGE = 8;

export function isExpired(ct: TrackedConn, now: number): boolean {
  return ct.expiresAt <= now; // nf_ct_is_expired: (s32)(timeout - nfct_time_stamp) <= 0
}

export class CtTable {
  private readonly heads = new Map<number, TupleHash>();
  /** Confirmed entries (cnet->count, less the unconfirmed ones: see Conntrack). */
  count = 0;
  /** A lower bound on every entry's expiresAt: nothing can have expired before it. */
  private minExpiry = Infinity;
  private readonly victims: TrackedConn[] = [];

  constructor(
    /** nf_conntrack_htable_size */
    readonly buckets: number,
    private readonly seed: number,
    /** Deletes an entry (unlinks it here and wherever else it is known). */
    private readonly destroy: (ct: TrackedConn) => void,
  ) {}

  /** hash_conntrack_raw */
  hashOf(src: number, dst: number, protocol: number, sport: number, dport: number): number {
    return hashTupleFields(this.seed, src, dst, protocol, sport, dport);
  }

  bucketOf(hash: number): number {
    return reciprocalScale(hash, this.buckets);
  }

  /** Call when an entry's expiry may have moved earlier. */
  noteExpiry(expiresAt: number): void {
    if (expiresAt < this.minExpiry) this.minExpiry = expiresAt;
  }

  /**
   * ____nf_conntrack_find: the node whose tuple equals the given fields, in
   * either direction, skipping (and reaping) expired entries.
   */
  find(hash: number, src: number, dst: number, protocol: number, sport: number, dport: number, now: number): TupleHash | null {
    const bucket = this.bucketOf(hash);
    let node = this.heads.get(bucket) ?? null;
    while (node !== null) {
      const ct = node.ct;
      if (isExpired(ct, now)) {
        this.destroy(ct);
        node = this.heads.get(bucket) ?? null; // the chain changed: start over
        continue;
      }
      if (node.src === src && node.dst === dst && node.srcPort === sport && node.dstPort === dport && node.protocol === protocol) {
        return node;
      }
      node = node.hnext;
    }
    return null;
  }

  findTuple(t: Tuple, now: number): TupleHash | null {
    const hash = this.hashOf(t.src, t.dst, t.protocol, t.srcPort, t.dstPort);
    return this.find(hash, t.src, t.dst, t.protocol, t.srcPort, t.dstPort, now);
  }

  /**
   * nf_conntrack_tuple_taken: is `t` some other entry's tuple (either
   * direction)? An entry whose original tuple equals `ignored`'s is the same
   * flow and does not count (left to clash resolution at confirm).
   */
  tupleTaken(t: Tuple, ignored: TrackedConn, now: number): boolean {
    const bucket = this.bucketOf(this.hashOf(t.src, t.dst, t.protocol, t.srcPort, t.dstPort));
    let node = this.heads.get(bucket) ?? null;
    while (node !== null) {
      const ct = node.ct;
      if (ct === ignored) {
        node = node.hnext;
        continue;
      }
      if (isExpired(ct, now)) {
        this.destroy(ct);
        node = this.heads.get(bucket) ?? null;
        continue;
      }
      if (tupleEqual(node, t) && !tupleEqual(ignored.tuple[0], ct.tuple[0])) return true;
      node = node.hnext;
    }
    return false;
  }

  /** __nf_conntrack_hash_insert: link both directions (at the head of their chains). */
  insert(ct: TrackedConn): void {
    this.link(ct.tuple[0]);
    this.link(ct.tuple[1]);
    this.count++;
    this.noteExpiry(ct.expiresAt);
  }

  /** nf_ct_resolve_clash_harder: link only the reply direction. */
  insertReplyOnly(ct: TrackedConn): void {
    this.link(ct.tuple[1]);
    this.count++;
    this.noteExpiry(ct.expiresAt);
  }

  /** Unlinks both directions (those that are linked). */
  remove(ct: TrackedConn): void {
    const o = ct.tuple[0];
    const r = ct.tuple[1];
    if (!o.hashed && !r.hashed) return;
    if (o.hashed) this.unlink(o);
    if (r.hashed) this.unlink(r);
    this.count--;
  }

  private link(node: TupleHash): void {
    const bucket = this.bucketOf(this.hashOf(node.src, node.dst, node.protocol, node.srcPort, node.dstPort));
    node.hnext = this.heads.get(bucket) ?? null;
    node.hashed = true;
    this.heads.set(bucket, node);
  }

  private unlink(node: TupleHash): void {
    const bucket = this.bucketOf(this.hashOf(node.src, node.dst, node.protocol, node.srcPort, node.dstPort));
    let cur = this.heads.get(bucket) ?? null;
    let prev: TupleHash | null = null;
    while (cur !== null && cur !== node) {
      prev = cur;
      cur = cur.hnext;
    }
    if (cur === null) throw new Error('conntrack: unlinking a node that is not in its chain');
    if (prev === null) {
      if (node.hnext === null) this.heads.delete(bucket);
      else this.heads.set(bucket, node.hnext);
    } else {
      prev.hnext = node.hnext;
    }
    node.hnext = null;
    node.hashed = false;
  }

  /**
   * early_drop: starting at the new tuple's bucket, look at up to 8 chains;
   * in the first chain that has any, delete every confirmed entry that is not
   * ASSURED (expired ones met on the way are reaped). Returns how many were
   * dropped.
   */
  earlyDrop(hash: number, now: number): number {
    let bucket = this.bucketOf(hash);
    const victims = this.victims;
    for (let i = 0; i < EVICTION_RANGE; i++) {
      if (i > 0) bucket = (bucket + 1) % this.buckets;
      victims.length = 0;
      for (let node = this.heads.get(bucket) ?? null; node !== null; node = node.hnext) {
        const ct = node.ct;
        if (victims.includes(ct)) continue; // both directions in one chain
        if (isExpired(ct, now) || (ct.status & (CtStatus.ASSURED | CtStatus.DYING)) === 0) victims.push(ct);
      }
      let drops = 0;
      for (const ct of victims) {
        if (!isExpired(ct, now)) drops++;
        this.destroy(ct);
      }
      victims.length = 0;
      if (drops > 0) return drops;
    }
    return 0;
  }

  /** Reaps every expired entry (the gc worker's job). Cheap when nothing can have expired. */
  reapExpired(now: number): void {
    if (now < this.minExpiry) return;
    const victims = this.victims;
    victims.length = 0;
    let min = Infinity;
    for (const ct of this.entries()) {
      if (isExpired(ct, now)) victims.push(ct);
      else if (ct.expiresAt < min) min = ct.expiresAt;
    }
    for (const ct of victims) this.destroy(ct);
    victims.length = 0;
    this.minExpiry = min;
  }

  /** Every entry once (visiting reply nodes only, as get_next_corpse does). */
  *entries(): IterableIterator<TrackedConn> {
    for (const head of this.heads.values()) {
      for (let node: TupleHash | null = head; node !== null; node = node.hnext) {
        if (node.dir === 1) yield node.ct;
      }
    }
  }
}
