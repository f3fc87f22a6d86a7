/** models/netfilter/ipvs: the IP Virtual Server (NAT forwarding) as kube-proxy's IPVS mode drives it. Start at ipvs.ts. */
export { Ipvs, type IpvsHost, type IpvsHookOps, type IpvsStats } from './ipvs.js';
export { VirtualServer, RealServer, virtualServerOf, SCHEDULERS, type VirtualServerSpec, type SchedulerName, type IpvsProtocol } from './service.js';
export { schedule, connOverhead, hash32, shBuckets, dhBuckets } from './scheduler.js';
export { IpvsConn, IpvsConnTable } from './conn.js';
export { IpvsTcpState, TCP_STATE_NAMES, TCP_TIMEOUTS_S, UDP_TIMEOUT_S, nextTcpState } from './tcp-state.js';
export { ipvsadmList, ipvsadmConnections } from './dump.js';
