/**
 * What a tracer knows of a watched packet, as one number, so it can cross a
 * cut wire in a channel record beside the packet id (models/devices/remote-wire.ts).
 *
 * A watched packet belongs to a *root*, the selected packet it descends from
 * (itself for a selected packet, the request for the answer `followReply`
 * watches), or to none; it is *always* kept when the iptables TRACE target
 * marked it (or it is a flow packet that is not the selected one). A
 * partitioned trace keeps a step when it is always-kept or its root is among
 * the packets selected over the whole run (models/trace/trace-parts.ts).
 *
 * Encoding: 0 = not watched; else ±(root + 2), negative when always kept
 * (root -1 = none). Packet ids are below 2^53 - 2^32, so this is exact.
 */
export type TraceTag = number;

export const NOT_WATCHED: TraceTag = 0;

export function traceTag(root: number, always: boolean): TraceTag {
  return always ? -(root + 2) : root + 2;
}

/** The root packet id, or -1. */
export function tagRoot(tag: TraceTag): number {
  return Math.abs(tag) - 2;
}

export function tagAlways(tag: TraceTag): boolean {
  return tag < 0;
}

/** The same tag, always kept from now on. */
export function withAlways(tag: TraceTag): TraceTag {
  return tag === NOT_WATCHED ? traceTag(-1, true) : -Math.abs(tag);
}
