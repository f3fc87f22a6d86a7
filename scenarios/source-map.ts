/**
 * Maps a path in the parsed data (['nodes', 1, 'podCIDR']) back to a line and
 * column of the YAML text, using the node ranges of the yaml package's
 * Document. A path that leads into something the file does not spell out (a
 * defaulted field) lands on the closest enclosing node that it does.
 */
import { type Document, type LineCounter, type Node, isAlias, isMap, isScalar, isSeq } from 'yaml';
import type { PathSegment } from './errors.js';

export interface SourcePosition {
  line: number;
  col: number;
}

export class SourceMap {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** Position of the value at `path`, or of its key when `key` is set (for "unknown key"). */
  locate(path: readonly PathSegment[], key = false): SourcePosition {
    let node: unknown = this.doc.contents;
    let best: Node | null = isNode(node) ? node : null;
    for (let i = 0; i < path.length; i++) {
      if (isAlias(node)) node = node.resolve(this.doc);
      const seg = path[i];
      let next: unknown;
      if (isMap(node)) {
        const pair = node.items.find((p) => keyText(p.key) === String(seg));
        if (pair === undefined) break;
        if (key && i === path.length - 1 && isNode(pair.key)) return this.position(pair.key);
        // `podCIDR:` with nothing after it has a null value; point at the key then.
        next = pair.value ?? pair.key;
      } else if (isSeq(node) && typeof seg === 'number') {
        next = node.items[seg];
      } else {
        break;
      }
      if (!isNode(next)) break;
      node = next;
      best = next;
    }
    return best ? this.position(best) : { line: 1, col: 1 };
  }

  private position(node: Node): SourcePosition {
    const offset = node.range?.[0] ?? 0;
    return this.lines.linePos(offset);
  }
}

function isNode(x: unknown): x is Node {
  return typeof x === 'object' && x !== null && 'range' in x;
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return typeof key === 'string' ? key : undefined;
}
