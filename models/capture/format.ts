/**
 * On-disk constants of the two capture formats podwire writes and reads.
 *
 * pcapng: draft-ietf-opsawg-pcapng ("PCAP Next Generation (pcapng) Capture File
 * Format"), sections 4 (block structure) and 4.1-4.3 (SHB, IDB, EPB).
 * Classic pcap: draft-ietf-opsawg-pcap and pcap-savefile(5).
 * Link types: the tcpdump.org LINKTYPE_ registry (draft-ietf-opsawg-pcaplinktype).
 */

/** LINKTYPE_ETHERNET: IEEE 802.3 frames starting at the destination MAC, no FCS. */
export const LINKTYPE_ETHERNET = 1;

/** tcpdump's default snapshot length (MAXIMUM_SNAPLEN in tcpdump's netdissect.h). */
export const CAPTURE_SNAPLEN = 262144;

// pcapng block types (draft section 10.1).
export const PCAPNG_SECTION_HEADER = 0x0a0d0d0a;
export const PCAPNG_INTERFACE_DESCRIPTION = 0x00000001;
/** Obsolete Packet Block (appendix A); still read for old files. */
export const PCAPNG_PACKET = 0x00000002;
export const PCAPNG_SIMPLE_PACKET = 0x00000003;
export const PCAPNG_ENHANCED_PACKET = 0x00000006;

/** Written in native order in every SHB; read back it tells the section's byte order. */
export const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;

// Option codes (draft sections 3.5, 4.1, 4.2, 4.3).
export const OPT_ENDOFOPT = 0;
export const SHB_USERAPPL = 4;
export const IF_NAME = 2;
export const IF_DESCRIPTION = 3;
export const IF_TSRESOL = 9;
export const IF_TSOFFSET = 14;
/** epb_flags: bits 0-1 are the direction (00 unknown, 01 inbound, 10 outbound). */
export const EPB_FLAGS = 2;

/** if_tsresol value 9: timestamps count units of 10^-9 s. */
export const TSRESOL_NANOSECONDS = 9;

// Classic pcap magic numbers (pcap-savefile(5)), as read in the writer's byte order.
export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOSECONDS = 0xa1b23c4d;
export const PCAP_FILE_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;
