/**
 * A tiny pcapng / pcap encoder written straight from the spec, independent of
 * models/capture, so reader tests can build files in either byte order with
 * blocks and options the writers never produce.
 */

export type Option = [code: number, value: Uint8Array];

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function fields(le: boolean, spec: [size: 1 | 2 | 4 | 8, value: number | bigint][]): Uint8Array {
  const out = new Uint8Array(spec.reduce((n, [s]) => n + s, 0));
  const dv = new DataView(out.buffer);
  let at = 0;
  for (const [size, value] of spec) {
    if (size === 1) dv.setUint8(at, Number(value));
    else if (size === 2) dv.setUint16(at, Number(value), le);
    else if (size === 4) dv.setUint32(at, Number(value), le);
    else dv.setBigUint64(at, BigInt(value), le);
    at += size;
  }
  return out;
}

export function ascii(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** Options list with opt_endofopt, values zero-padded to 32 bits. */
export function options(le: boolean, opts: Option[]): Uint8Array {
  if (opts.length === 0) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  for (const [code, value] of opts) {
    parts.push(fields(le, [[2, code], [2, value.length]]), value, new Uint8Array(-value.length & 3));
  }
  parts.push(fields(le, [[2, 0], [2, 0]]));
  return concat(...parts);
}

export function block(le: boolean, type: number, body: Uint8Array): Uint8Array {
  const total = 12 + body.length;
  return concat(fields(le, [[4, type], [4, total]]), body, fields(le, [[4, total]]));
}

export function shb(le: boolean, opts: Option[] = []): Uint8Array {
  const body = concat(fields(le, [[4, 0x1a2b3c4d], [2, 1], [2, 0], [8, 0xffffffffffffffffn]]), options(le, opts));
  return block(le, 0x0a0d0d0a, body);
}

export function idb(le: boolean, linkType: number, snaplen: number, opts: Option[] = []): Uint8Array {
  return block(le, 1, concat(fields(le, [[2, linkType], [2, 0], [4, snaplen]]), options(le, opts)));
}

export function epb(le: boolean, ifId: number, units: bigint, data: Uint8Array, origLen = data.length, opts: Option[] = []): Uint8Array {
  const head = fields(le, [[4, ifId], [4, units >> 32n], [4, units & 0xffffffffn], [4, data.length], [4, origLen]]);
  return block(le, 6, concat(head, data, new Uint8Array(-data.length & 3), options(le, opts)));
}

/** Obsolete Packet Block (pcapng appendix A): u16 interface id, u16 drops. */
export function opb(le: boolean, ifId: number, units: bigint, data: Uint8Array, opts: Option[] = []): Uint8Array {
  const head = fields(le, [[2, ifId], [2, 0], [4, units >> 32n], [4, units & 0xffffffffn], [4, data.length], [4, data.length]]);
  return block(le, 2, concat(head, data, new Uint8Array(-data.length & 3), options(le, opts)));
}

export function spb(le: boolean, data: Uint8Array): Uint8Array {
  return block(le, 3, concat(fields(le, [[4, data.length]]), data, new Uint8Array(-data.length & 3)));
}

export function u32(le: boolean, v: number): Uint8Array {
  return fields(le, [[4, v]]);
}

export function u64(le: boolean, v: bigint): Uint8Array {
  return fields(le, [[8, v]]);
}

/** Classic pcap file: header then records [seconds, fraction (µs or ns), data]. */
export function pcapFile(le: boolean, nano: boolean, linkType: number, records: [number, number, Uint8Array][]): Uint8Array {
  const header = fields(le, [[4, nano ? 0xa1b23c4d : 0xa1b2c3d4], [2, 2], [2, 4], [4, 0], [4, 0], [4, 65535], [4, linkType]]);
  const recs = records.map(([sec, frac, data]) => concat(fields(le, [[4, sec], [4, frac], [4, data.length], [4, data.length]]), data));
  return concat(header, ...recs);
}
