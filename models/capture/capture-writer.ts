/**
 * What every capture writer offers, so a capture point can write pcapng or
 * classic pcap without knowing which.
 */

/**
 * Direction of a packet relative to the capture interface, as in pcapng's
 * epb_flags bits 0-1 and libpcap's PCAP_D_IN / PCAP_D_OUT.
 */
export type PacketDirection = 0 | 1 | 2;
export const DIRECTION_UNKNOWN = 0;
/** Received by the interface (tcpdump -Q in). */
export const DIRECTION_INBOUND = 1;
/** Sent by the interface (tcpdump -Q out). */
export const DIRECTION_OUTBOUND = 2;

export interface CaptureWriterOptions {
  /**
   * Wall-clock second that simulated time 0 maps to, so captures line up with
   * real ones in tshark. Non-negative integer; default 0 (1970-01-01).
   */
  epochSeconds?: number;
  /**
   * Write the file under its final name rather than as `<path>.tmp` renamed
   * when closed: for a folder that is staged whole (TempFileSinkOptions.inPlace).
   */
  inPlace?: boolean;
}

export interface CaptureWriter {
  /** Declares a capture point; returns the index writePacket takes. */
  addInterface(name: string, description?: string): number;
  /**
   * Appends data[off, off+len) captured at simulated time timeNs (integer
   * nanoseconds). Bytes past the snap length are cut, as tcpdump does; the
   * original length is kept.
   */
  writePacket(ifIndex: number, timeNs: number, data: Uint8Array, off: number, len: number, direction: PacketDirection): void;
  /**
   * writePacket without the argument checks, for a capture tap whose arguments
   * hold by construction: an index addInterface returned, a packet's own bytes
   * and a direction of 1 or 2. The time is still checked, as it comes from
   * outside the tap.
   */
  appendPacket(ifIndex: number, timeNs: number, data: Uint8Array, off: number, len: number, direction: PacketDirection): void;
  /**
   * Writes out what is buffered and lets go of the file; `close` then only
   * waits for the bytes and renames. See `closeAll`.
   */
  finish(): void;
  /** Flushes and renames the temporary file to its final name (written in place: waits for its bytes). */
  close(): void;
  /** Drops everything written: the file is removed. */
  abort(): void;
}

/**
 * Closes many writers: all finish first, then each is renamed, so the writes
 * a writer thread has queued (temp-file-sink.ts) are waited for once, not
 * once per file (6,301 waits for the files of a 100 x 30 cluster).
 */
export function closeAll(writers: readonly CaptureWriter[]): void {
  for (const w of writers) w.finish();
  for (const w of writers) w.close();
}

/** Shared argument check for writePacket, kept out of line so writers stay short. */
export function checkPacketArgs(
  ifIndex: number,
  ifCount: number,
  timeNs: number,
  data: Uint8Array,
  off: number,
  len: number,
  direction: number,
): void {
  if (!(ifIndex >= 0 && ifIndex < ifCount) || !Number.isInteger(ifIndex)) {
    throw new RangeError(`capture: interface ${ifIndex} was not added (have ${ifCount})`);
  }
  checkTimeNs(timeNs);
  if (!(off >= 0 && len >= 0 && off + len <= data.length) || !Number.isInteger(off) || !Number.isInteger(len)) {
    throw new RangeError(`capture: bytes [${off}, ${off}+${len}) are outside a ${data.length}-byte buffer`);
  }
  if (direction !== 0 && direction !== 1 && direction !== 2) {
    throw new RangeError(`capture: direction ${direction} is not 0 (unknown), 1 (inbound) or 2 (outbound)`);
  }
}

/** Time check shared by writePacket and appendPacket. */
export function checkTimeNs(timeNs: number): void {
  if (!(timeNs >= 0) || !Number.isSafeInteger(timeNs)) {
    throw new RangeError(`capture: time ${timeNs} is not a non-negative integer count of nanoseconds below 2^53`);
  }
}

/** Epoch option check shared by the writers. */
export function checkEpochSeconds(epochSeconds: number): number {
  if (!Number.isSafeInteger(epochSeconds) || epochSeconds < 0) {
    throw new RangeError(`capture: epochSeconds ${epochSeconds} is not a non-negative integer`);
  }
  return epochSeconds;
}
