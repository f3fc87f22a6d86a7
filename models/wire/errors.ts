/**
 * The one error the checked `parseX` functions throw. The message always starts
 * with the protocol and names the offending field, e.g.
 * `ipv4: total length 20000 exceeds buffer (98)`, so a drop reason can be
 * logged as is; `protocol` and `field` let code and tests match without
 * parsing the text.
 */
export class WireError extends Error {
  override readonly name = 'WireError';

  constructor(
    readonly protocol: string,
    readonly field: string,
    detail: string,
  ) {
    super(`${protocol}: ${field} ${detail}`);
  }
}

/** Throws unless `have` bytes hold at least `need` (the common truncation check). */
export function checkLen(protocol: string, field: string, have: number, need: number): void {
  if (have < need) throw new WireError(protocol, field, `truncated: ${have} bytes, need ${need}`);
}

/** `0x0800`-style text for 16-bit values in messages. */
export function hex16(v: number): string {
  return `0x${v.toString(16).padStart(4, '0')}`;
}
