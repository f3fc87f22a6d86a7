/**
 * The ARC4 stream of seedrandom 3 (David Bau's `seedrandom(seed)`), draw for
 * draw: the same key mixing of the seed string, the same RC4-drop[256], and
 * the same 53-bit doubles. podwire keeps a stream per component and purpose,
 * two per pod, and seedrandom holds each one's 256-entry state in a plain
 * array (about 3.4 KB, a quarter of a 100-node cluster's heap) and mixes every
 * new state into a global entropy pool as a string. Here the state is 256
 * bytes of a shared slab and nothing global is touched; test/engine/arc4.test.ts checks the
 * draws against seedrandom itself.
 */

const WIDTH = 256;
const MASK = WIDTH - 1;
/** seedrandom's `startdenom` (256^6), `significance` (2^52) and `overflow` (2^53). */
const START_DENOM = 2 ** 48;
const SIGNIFICANCE = 2 ** 52;
const OVERFLOW = 2 ** 53;

/** The key of the stream being made (mixKey), reused: a stream is made at a time. */
const key = new Uint8Array(WIDTH);

/**
 * seedrandom's mixkey: the seed string folded into a key of at most 256
 * bytes, written to `key`; returns the key's length.
 */
function mixKey(seed: string): number {
  let smear = 0;
  for (let j = 0; j < seed.length; j++) {
    const k = j & MASK;
    // `smear ^= key[k] * 19` with key[k] not yet set XORs NaN, that is 0.
    if (j >= WIDTH) smear ^= key[k]! * 19;
    key[k] = MASK & (smear + seed.charCodeAt(j));
  }
  return Math.min(seed.length, WIDTH);
}

/**
 * States are cut from shared slabs, 256 bytes each: a Uint8Array of its own
 * would add an ArrayBuffer (and a malloc'd backing store) per stream.
 */
const SLAB_BYTES = 64 * 1024;
let slab = new Uint8Array(SLAB_BYTES);
let slabUsed = 0;

export class Arc4Stream {
  /** This stream's state is s[base .. base + 256). */
  private readonly s: Uint8Array;
  private readonly base: number;
  private i = 0;
  private j = 0;

  constructor(seed: string) {
    if (slabUsed === SLAB_BYTES) {
      slab = new Uint8Array(SLAB_BYTES);
      slabUsed = 0;
    }
    this.s = slab;
    this.base = slabUsed;
    slabUsed += WIDTH;
    let keyLength = mixKey(seed);
    if (keyLength === 0) {
      key[0] = 0;
      keyLength = 1;
    }
    const s = this.s;
    const b = this.base;
    for (let i = 0; i < WIDTH; i++) s[b + i] = i;
    let j = 0;
    for (let i = 0, k = 0; i < WIDTH; i++) {
      const t = s[b + i]!;
      j = MASK & (j + key[k]! + t);
      s[b + i] = s[b + j]!;
      s[b + j] = t;
      if (++k === keyLength) k = 0;
    }
    this.drop(WIDTH);
  }

  /** RC4-drop[n], as seedrandom's constructor drops 256: g(n) without making a number of the bytes. */
  private drop(n: number): void {
    const s = this.s;
    const b = this.base;
    let i = this.i;
    let j = this.j;
    while (n-- > 0) {
      i = MASK & (i + 1);
      const t = s[b + i]!;
      j = MASK & (j + t);
      s[b + i] = s[b + j]!;
      s[b + j] = t;
    }
    this.i = i;
    this.j = j;
  }

  /** The next `count` bytes of the stream as one big-endian number (exact for count <= 6). */
  private g(count: number): number {
    const s = this.s;
    const b = this.base;
    let i = this.i;
    let j = this.j;
    let r = 0;
    while (count-- > 0) {
      i = MASK & (i + 1);
      const t = s[b + i]!;
      j = MASK & (j + t);
      const u = s[b + j]!;
      s[b + i] = u;
      s[b + j] = t;
      r = r * WIDTH + s[b + (MASK & (u + t))]!;
    }
    this.i = i;
    this.j = j;
    return r;
  }

  /** Uniform in [0, 1), with randomness in all 53 bits of the mantissa. */
  double(): number {
    let n = this.g(6);
    let d = START_DENOM;
    let x = 0;
    while (n < SIGNIFICANCE) {
      n = (n + x) * WIDTH;
      d *= WIDTH;
      x = this.g(1);
    }
    while (n >= OVERFLOW) {
      n /= 2;
      d /= 2;
      x >>>= 1;
    }
    return (n + x) / d;
  }
}
