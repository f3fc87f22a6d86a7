/** fast-check generators shared by the wire property tests. */
import fc from 'fast-check';

export const u8 = fc.integer({ min: 0, max: 0xff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
export const ipv4Addr = u32;
export const mac = fc.integer({ min: 0, max: 2 ** 48 - 1 });
export const bytes = (maxLength: number) => fc.uint8Array({ maxLength });

/** A random buffer with a random offset into it, for checksum properties. */
export const bufferSlice = fc
  .uint8Array({ minLength: 0, maxLength: 256 })
  .chain((buf) => fc.record({ buf: fc.constant(buf), off: fc.integer({ min: 0, max: buf.length }) }))
  .chain(({ buf, off }) =>
    fc.record({ buf: fc.constant(buf), off: fc.constant(off), len: fc.integer({ min: 0, max: buf.length - off }) }),
  );
