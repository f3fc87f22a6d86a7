/**
 * Shards: `--shard i/n` runs the points whose index k has k % n === i, so n
 * machines (a Kubernetes Indexed Job's completion indices 0..n-1, a job
 * array's task ids) share a sweep with no coordination, and round-robin keeps
 * each shard's mix of cheap and dear points even.
 */
export interface Shard {
  index: number;
  count: number;
}

/** "2/8" -> { index: 2, count: 8 }. */
export function parseShard(text: string): Shard {
  const m = /^(0|[1-9]\d*)\/([1-9]\d*)$/.exec(text);
  if (m === null) throw new Error(`--shard: expected i/n with 0 <= i < n, e.g. 0/4 (got "${text}")`);
  const shard = { index: Number(m[1]), count: Number(m[2]) };
  if (shard.index >= shard.count) throw new Error(`--shard: index ${shard.index} is not below the count ${shard.count} (indices are 0..${shard.count - 1})`);
  return shard;
}

export function inShard(pointIndex: number, shard: Shard | null): boolean {
  return shard === null || pointIndex % shard.count === shard.index;
}
