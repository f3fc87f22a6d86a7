import type { SendError } from '../stack/netns.js';

/** How a flow's statistics name a send that failed: strerror's wording, as ping and other tools print it. */
export function sendErrorName(e: SendError): string {
  switch (e) {
    case 'ENETUNREACH': return 'network unreachable';
    case 'EMSGSIZE': return 'message too long';
    case 'EACCES': return 'permission denied';
  }
}

/** How ping and the statistics name ICMP errors (ping's own wording). */
export function icmpErrorName(type: number, code: number): string {
  if (type === 11) return code === 0 ? 'time to live exceeded' : 'fragment reassembly time exceeded';
  if (type === 3) {
    switch (code) {
      case 0: return 'destination net unreachable';
      case 1: return 'destination host unreachable';
      case 2: return 'destination protocol unreachable';
      case 3: return 'destination port unreachable';
      case 4: return 'frag needed and DF set';
      case 13: return 'packet filtered';
      default: return `destination unreachable (code ${code})`;
    }
  }
  return `icmp type ${type} code ${code}`;
}
