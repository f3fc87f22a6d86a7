/**
 * models/wire: the byte formats of the protocols podwire moves, after
 * smoltcp's src/wire/. Only this folder touches header bytes.
 *
 * The contract every protocol file keeps:
 *
 * 1. Field accessors for the hot path: `ipv4Ttl(buf, off)`, `setIpv4Ttl(buf,
 *    off, v)`, ... read or write one field of the header that starts at `off`
 *    in a Uint8Array. They allocate nothing and check nothing; the caller has
 *    already parsed (or emitted) the header once. Setters that change a field
 *    covered by a checksum on a live packet say whether they patch it
 *    (decrementTtl, setIpv4Src/Dst do, incrementally per RFC 1624).
 *
 * 2. A small plain repr (`Ipv4Repr`, ...) with
 *    - `parseX(buf, off, len, ...)`: checked. `len` is the bytes available
 *      from `off`. Throws WireError whose message names protocol and field
 *      (`ipv4: total length 20000 exceeds buffer (98)`). Verifies checksums
 *      unless `{ verifyChecksum: false }`. Byte fields such as payloads and
 *      quotes come back as views into `buf`, not copies.
 *    - `emitX(repr, buf, off, ...)`: unchecked. Writes every header field
 *      (reserved bits as 0) and the checksum; assumes `buf` has room.
 *      Payloads that a checksum covers must already be in place after the
 *      header (UDP, TCP), or are copied from the repr (ICMP).
 *    - the size emit writes: a constant `X_HEADER_LEN` / `ETH_HLEN` /
 *      `ARP_LEN`, or `xBufferLen(repr)` where it varies (IPv4 options, ICMP
 *      body, TCP options).
 *    parseX(emitX(r)) deep-equals r for every valid r (tested with fast-check).
 *    Transport parse/emit take the IPv4 `src`, `dst` for the pseudo-header.
 *
 * Shared representations (addr.ts): an IPv4 address is an unsigned 32-bit
 * number (`0x0af40102` for 10.244.1.2, always `>>> 0`); a MAC address is a
 * number 0..2^48-1 (`0x0a580af40102`), split by multiplication, never by
 * 32-bit bit operators on the whole value.
 */
export * from './errors.js';
export * from './bytes.js';
export * from './addr.js';
export * from './checksum.js';
export * from './ethernet.js';
export * from './arp.js';
export * from './ipv4.js';
export * from './icmp.js';
export * from './udp.js';
export * from './tcp.js';
// addr.ts's parseIpv4(string) and ipv4.ts's parseIpv4(buf, ...) share a name;
// here the packet parser keeps it (the parseX contract) and the address
// parser is re-exported as parseIpv4Addr. Importing from addr.js directly
// still gives parseIpv4(s).
export { parseIpv4 } from './ipv4.js';
export { parseIpv4 as parseIpv4Addr } from './addr.js';
