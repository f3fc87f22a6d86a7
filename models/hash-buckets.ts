/**
 * Entries by a small-integer hash of their key, bucketed as the kernel's hash
 * tables bucket theirs (the TCP ehash, ip_vs_conn_tab, nft's hash sets): a
 * bucket holds one entry, or an array of the entries whose keys share the
 * hash, and `same` tells them apart. A 30-bit hash is a Smi, so a lookup
 * neither makes nor hashes a heap number or a string; that is the point, on
 * paths every packet takes.
 *
 * `key` is whatever `same` compares an entry with: a caller on a hot path
 * passes an object it reuses, so a lookup allocates nothing. Entries must not
 * be arrays themselves.
 */
export class HashBuckets<T extends object, K> {
  private readonly map = new Map<number, T | T[]>();

  constructor(private readonly same: (entry: T, key: K) => boolean) {}

  /** The entry under `hash` that is the same as `key`, if any. */
  find(hash: number, key: K): T | undefined {
    const under = this.map.get(hash);
    if (under === undefined) return undefined;
    if (!Array.isArray(under)) return this.same(under, key) ? under : undefined;
    for (const e of under) if (this.same(e, key)) return e;
    return undefined;
  }

  /** Puts `entry` under `hash`: in the place of `old`, an entry there now, or beside the others. */
  put(hash: number, entry: T, old: T | undefined): void {
    const under = this.map.get(hash);
    if (under === undefined || under === old) this.map.set(hash, entry);
    else if (Array.isArray(under)) {
      const k = old === undefined ? -1 : under.indexOf(old);
      if (k >= 0) under[k] = entry;
      else under.push(entry);
    } else this.map.set(hash, [under, entry]);
  }

  /** Takes `entry` from under `hash`; false when it was not there. */
  remove(hash: number, entry: T): boolean {
    const under = this.map.get(hash);
    if (under === entry) {
      this.map.delete(hash);
      return true;
    }
    if (!Array.isArray(under)) return false;
    const k = under.indexOf(entry);
    if (k < 0) return false;
    under.splice(k, 1);
    if (under.length === 1) this.map.set(hash, under[0]!);
    return true;
  }

  clear(): void {
    this.map.clear();
  }

  /** Every entry, bucket by bucket. */
  *values(): IterableIterator<T> {
    for (const under of this.map.values()) {
      if (Array.isArray(under)) yield* under;
      else yield under;
    }
  }
}

/**
 * A 30-bit hash (a Smi) of three 32-bit values, for HashBuckets keyed by a
 * tuple: two addresses and their ports packed in one word, say.
 */
export function hash3(x: number, y: number, z: number): number {
  let h = Math.imul(x | 0, 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h ^ (y | 0), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h ^ (z | 0), 0xc2b2ae35);
  h ^= h >>> 16;
  return h & 0x3fffffff;
}
