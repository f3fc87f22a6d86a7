/**
 * The IPVS TCP state machine (net/netfilter/ipvs/ip_vs_proto_tcp.c,
 * tcp_states[] and tcp_timeouts[]): a coarser tracker than conntrack's, moved
 * by each packet's flags and direction, whose state decides the connection's
 * timeout and whether it counts as active for the schedulers.
 */
export const enum IpvsTcpState {
  NONE = 0,
  ESTABLISHED = 1,
  SYN_SENT = 2,
  SYN_RECV = 3,
  FIN_WAIT = 4,
  TIME_WAIT = 5,
  CLOSE = 6,
  CLOSE_WAIT = 7,
  LAST_ACK = 8,
  LISTEN = 9,
  SYNACK = 10,
}

export const TCP_STATE_NAMES = ['NONE', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT', 'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'SYNACK'] as const;

/** tcp_timeouts[], seconds (`ipvsadm -l --timeout` shows tcp 900, tcpfin 120). */
export const TCP_TIMEOUTS_S = [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120] as const;
/** udp_timeouts[IP_VS_UDP_S_NORMAL] (`ipvsadm -l --timeout`: udp 300). */
export const UDP_TIMEOUT_S = 300;

const ES = IpvsTcpState.ESTABLISHED;
const SS = IpvsTcpState.SYN_SENT;
const SR = IpvsTcpState.SYN_RECV;
const FW = IpvsTcpState.FIN_WAIT;
const TW = IpvsTcpState.TIME_WAIT;
const CL = IpvsTcpState.CLOSE;
const CW = IpvsTcpState.CLOSE_WAIT;
const LA = IpvsTcpState.LAST_ACK;
const LI = IpvsTcpState.LISTEN;

/** tcp_states[]: [direction][syn, fin, ack, rst][current state] -> next state. INPUT is client to real server. */
const TABLE: readonly (readonly (readonly IpvsTcpState[])[])[] = [
  // INPUT    sNO sES sSS sSR sFW sTW sCL sCW sLA sLI sSA
  [
    /*syn*/ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
    /*fin*/ [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW],
    /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
    /*rst*/ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR],
  ],
  // OUTPUT   sNO sES sSS sSR sFW sTW sCL sCW sLA sLI sSA
  [
    /*syn*/ [SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR],
    /*fin*/ [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
    /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
    /*rst*/ [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
  ],
];

const TH_FIN = 0x01;
const TH_SYN = 0x02;
const TH_RST = 0x04;
const TH_ACK = 0x10;

/** tcp_state_idx: rst, then syn, fin, ack; -1 for none of them. */
function stateIndex(flags: number): number {
  if (flags & TH_RST) return 3;
  if (flags & TH_SYN) return 0;
  if (flags & TH_FIN) return 1;
  if (flags & TH_ACK) return 2;
  return -1;
}

/** set_tcp_state: the state after a packet with TCP `flags` going `output` (real server to client) or not. */
export function nextTcpState(state: IpvsTcpState, flags: number, output: boolean): IpvsTcpState {
  const idx = stateIndex(flags);
  if (idx < 0) return state;
  return TABLE[output ? 1 : 0]![idx]![state]!;
}
