/**
 * Real frames, as hex, for the wire tests (smoltcp keeps such byte fixtures
 * beside each protocol). Each names where it was captured; offsets into the
 * frames are Ethernet 0, IPv4 14, transport 34 (no IP options in any).
 *
 * - kernel-ref: ../shared/kernel-ref/same-node/pcap/ref-n1-p1_eth0.pcapng
 *   (pod 10.244.1.2 pinging and sending a UDP datagram to 10.244.1.3 on one
 *   node), read with `tshark -r F -x`.
 * - throwaway netns: captured with tcpdump on Linux 6.18 in namespaces built
 *   for the purpose and deleted afterwards, pod-style addresses and MACs, TX
 *   checksum offload turned off (ETHTOOL_STXCSUM) on the sender so TCP/UDP
 *   checksums are complete. A router namespace between 10.244.1.0/24 and
 *   10.244.2.0/24 had MTU 1280 toward 10.244.2.3. capture-fixtures.sh
 *   rebuilds this and prints fresh frames (ports, idents, ISNs differ; its
 *   SYN goes to the router 10.244.1.1, the fixture's went to a peer 10.244.1.3).
 */

export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  return Uint8Array.from(clean.match(/../g)!, (b) => parseInt(b, 16));
}

/** kernel-ref frame 1: ARP who-has 10.244.1.3 tell 10.244.1.2 (42 bytes, unpadded). */
export const ARP_REQUEST = hex(`
  ffffffffffff 0a580af40102 0806
  0001 0800 06 04 0001 0a580af40102 0af40102 000000000000 0af40103`);

/** kernel-ref frame 2: ARP 10.244.1.3 is-at 0a:58:0a:f4:01:03. */
export const ARP_REPLY = hex(`
  0a580af40102 0a580af40103 0806
  0001 0800 06 04 0002 0a580af40103 0af40103 0a580af40102 0af40102`);

/** kernel-ref frame 3: ICMP echo request id 0x1234 seq 1, DF, TTL 64, 98 bytes (ping's 56-byte payload). */
export const ICMP_ECHO_REQUEST = hex(`
  0a580af40103 0a580af40102 0800
  4500 0054 452e 4000 4001 dd8e 0af40102 0af40103
  0800 9e39 1234 0001
  183e086b00000000 5d150b0000000000 101112131415161718191a1b1c1d1e1f
  202122232425262728292a2b2c2d2e2f 3031323334353637`);

/** kernel-ref frame 4: the echo reply to ICMP_ECHO_REQUEST (same ident, seq, payload; DF clear, new IP ident). */
export const ICMP_ECHO_REPLY = hex(`
  0a580af40102 0a580af40103 0800
  4500 0054 9a58 0000 4001 c864 0af40103 0af40102
  0000 a639 1234 0001
  183e086b00000000 5d150b0000000000 101112131415161718191a1b1c1d1e1f
  202122232425262728292a2b2c2d2e2f 3031323334353637`);

/**
 * kernel-ref frame 9: UDP 10.244.1.2:5555 -> 10.244.1.3:9000, 20-byte payload.
 * Its checksum 0x181a is the CHECKSUM_PARTIAL value (folded pseudo-header sum)
 * the veth carried; the complete checksum would be 0xd30b (tshark's "should be").
 */
export const UDP_PARTIAL_CSUM = hex(`
  0a580af40103 0a580af40102 0800
  4500 0030 38b3 4000 4011 ea1d 0af40102 0af40103
  15b3 2328 001c 181a
  7265662d7564702d7061796c6f61642d30303031`);
export const UDP_PARTIAL_CSUM_FULL = 0xd30b;

/** throwaway netns: UDP 10.244.1.2:33877 -> 10.244.2.3:9000 "wire-port-unreach", full checksum. */
export const UDP_FULL_CSUM = hex(`
  0a580af40101 0a580af40102 0800
  4500 002d eb77 4000 4011 365c 0af40102 0af40203
  8455 2328 0019 933b
  776972652d706f72742d756e7265616368`);

/**
 * throwaway netns: the router 10.244.1.1 answers a TTL-1 UDP datagram with
 * ICMP time exceeded; TOS 0xc0 (IPTOS_PREC_INTERNETCONTROL), the quote has
 * the original TTL 1 and the whole 45-byte datagram.
 */
export const ICMP_TIME_EXCEEDED_FRAME = hex(`
  0a580af40102 0a580af40101 0800
  45c0 0049 8fdb 0000 4001 d22e 0af40101 0af40102
  0b00 0e17 00000000
  4500 002d eb99 4000 0111 753a 0af40102 0af40203
  8a3a 2328 0019 da29 776972652d74746c2d6578636565646564`);

/**
 * throwaway netns: 10.244.2.3 answers UDP to a closed port with ICMP port
 * unreachable; the quoted datagram (TTL 63 after one hop) is quoted whole.
 */
export const ICMP_PORT_UNREACH_FRAME = hex(`
  0a580af40102 0a580af40101 0800
  45c0 0049 1350 0000 3f01 4eb8 0af40203 0af40102
  0303 1614 00000000
  4500 002d eb77 4000 3f11 375c 0af40102 0af40203
  8455 2328 0019 933b 776972652d706f72742d756e7265616368`);

/**
 * throwaway netns: a 1380-byte DF datagram hits the router's 1280-byte link;
 * the router sends ICMP frag needed, next-hop MTU 1280, 590-byte frame: it
 * quotes 548 bytes (576 - 20 - 8) of the datagram, whose UDP payload was
 * bytes 0,1,...,255,0,1,... So the frame is this 70-byte head plus 520
 * pattern bytes.
 */
export const ICMP_FRAG_NEEDED_FRAME = (() => {
  const head = hex(`
    0a580af40102 0a580af40101 0800
    45c0 0240 8fdf 0000 4001 d033 0af40101 0af40102
    0304 3bea 0000 0500
    4500 0564 0000 4000 4011 1c9d 0af40102 0af40203
    8b26 2328 0550 7be3`);
  const frame = new Uint8Array(590);
  frame.set(head);
  for (let i = 0; i < 520; i++) frame[head.length + i] = i & 0xff;
  return frame;
})();

/**
 * throwaway netns: `connect()` from 10.244.1.2 to closed port 9 on 10.244.1.3.
 * Linux 6.18's SYN: MSS 1460, SACK_PERM, TS, NOP, WS 10; full checksum.
 */
export const TCP_SYN = hex(`
  0a580af40103 0a580af40102 0800
  4500 003c 7c59 4000 4006 a676 0af40102 0af40103
  98d0 0009 74252a3c 00000000 a002 faf0 fc03 0000
  020405b4 0402080a aeab5335 00000000 0103030a`);

/** throwaway netns: the RST|ACK answering TCP_SYN (ack = SYN seq + 1, IP ident 0, no options). */
export const TCP_RST_ACK = hex(`
  0a580af40102 0a580af40103 0800
  4500 0028 0000 4000 4006 22e4 0af40103 0af40102
  0009 98d0 00000000 74252a3d 5014 0000 60a8 0000`);

/**
 * throwaway netns, loopback with offload left on: a SYN 127.0.0.1:57842 -> :9
 * (MSS 65495 for lo's MTU). Its checksum 0xfe30 is the CHECKSUM_PARTIAL value;
 * tshark computes the full one as 0xb7d9.
 */
export const TCP_SYN_LOOPBACK_PARTIAL = hex(`
  000000000000 000000000000 0800
  4500 003c bc19 4000 4006 80a0 7f000001 7f000001
  e1f2 0009 0c0f8921 00000000 a002 ffd7 fe30 0000
  0204ffd7 0402080a d2794e7f 00000000 0103030a`);
export const TCP_SYN_LOOPBACK_FULL = 0xb7d9;

/** A buffer of `len` bytes filled with 0xa5, so any field emit forgets shows up. */
export function poisoned(len: number): Uint8Array {
  return new Uint8Array(len).fill(0xa5);
}
