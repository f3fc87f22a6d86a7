export {
  DIRECTION_INBOUND,
  DIRECTION_OUTBOUND,
  DIRECTION_UNKNOWN,
  type CaptureWriter,
  type CaptureWriterOptions,
  type PacketDirection,
} from './capture-writer.js';
export { readCapture, type Capture, type CapturedPacket, type CaptureInterface } from './capture-reader.js';
export { CAPTURE_SNAPLEN, LINKTYPE_ETHERNET } from './format.js';
export { PcapWriter } from './pcap-writer.js';
export { PcapngWriter } from './pcapng-writer.js';
