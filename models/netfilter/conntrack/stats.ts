/**
 * Per-namespace conntrack statistics, the fields of `conntrack -S`
 * (struct ip_conntrack_stat) that podwire's model can produce, counted
 * where the kernel counts them, plus one breakdown of `drop`.
 */
export interface CtStats {
  /**
   * nf_conntrack_tuple_taken found the tuple a NAT binding wanted in use.
   * (The kernel counts `found` only there, not on ordinary lookups.)
   */
  found: number;
  /** Packets that could not be tracked (ctstate INVALID): malformed, not a valid state transition, untrackable type. */
  invalid: number;
  /** ICMP errors that were malformed or related to no connection (nf_conntrack_handle_icmp). */
  error: number;
  /**
   * Entries confirmed into the table. Linux 6.x no longer counts this
   * (`insert` always reads 0 there); podwire counts it because it is useful.
   */
  insert: number;
  /** Confirmations that failed: a clash that could not be resolved, or a dying entry. */
  insertFailed: number;
  /** Packets conntrack dropped: table full, unresolved clash, a closed connection that could not be reopened. */
  drop: number;
  /** Of `drop`: new connections refused because the table was full and nothing could be evicted. */
  dropTableFull: number;
  /** Unassured entries evicted to make room for a new one (early_drop). */
  earlyDrop: number;
  /** Insertion clashes resolved without a drop (nf_ct_resolve_clash). */
  clashResolve: number;
  /**
   * Lookups restarted because a hash chain moved under a concurrent resize;
   * cannot happen in a single-threaded model, always 0 (kept so a
   * `conntrack -S` line has every field).
   */
  searchRestart: number;
}

export function emptyStats(): CtStats {
  return {
    found: 0,
    invalid: 0,
    error: 0,
    insert: 0,
    insertFailed: 0,
    drop: 0,
    dropTableFull: 0,
    earlyDrop: 0,
    clashResolve: 0,
    searchRestart: 0,
  };
}

/**
 * One `conntrack -S` line (cpu=0: the model has one). chaintoolong is 0:
 * the model does not limit hash chain length.
 */
export function formatStats(s: CtStats): string {
  return (
    `cpu=0   \tfound=${s.found} invalid=${s.invalid} insert=${s.insert} insert_failed=${s.insertFailed} ` +
    `drop=${s.drop} early_drop=${s.earlyDrop} error=${s.error} search_restart=${s.searchRestart} ` +
    `clash_resolve=${s.clashResolve} chaintoolong=0`
  );
}
