/**
 * The value every optional scenario field takes when the file leaves it out
 * (normalize.ts applies them).
 */
import type { Arrivals, Routing, Runtime, TcpMode } from './scenario.js';

export const DEFAULTS = {
  seed: 1,
  duration: '10s',
  runtime: 'cni' as Runtime,
  vethDelay: '2us',
  loopbackDelay: '2us',
  // Calibrated on the kernel reference machine: bench/calibrate/README.md.
  netfilter: { ruleCost: '15ns', conntrackCost: '340ns', natSetupCost: '1250ns' },
  mtu: 1500,
  clusterCIDR: '10.244.0.0/16',
  routing: 'host-gw' as Routing,
  /** flannel's vxlan backend: VNI 1, the Linux port 8472, UDP checksums on (netlink sends no IFLA_VXLAN_UDP_CSUM). */
  vxlan: { vni: 1, port: 8472, udpChecksum: true },
  underlay: { cidr: '192.168.49.0/24', bandwidth: '10Gbit', delay: '20us', loss: 0, txqueuelen: 1000 },
  ping: { count: 3, interval: '1s', size: 56, start: 0, timeout: '1s' },
  udp: {
    port: 9000,
    sourcePort: 0,
    count: 1,
    rate: 1,
    arrivals: 'constant' as Arrivals,
    requestSize: 64,
    responseSize: 64,
    start: 0,
    timeout: '1s',
  },
  /** netperf TCP_RR's defaults: 1-byte request and response, one transaction in flight; closed loop unless a rate is given. */
  tcp: {
    port: 9000,
    mode: 'rr' as TcpMode,
    count: 1,
    arrivals: 'constant' as Arrivals,
    concurrency: 1,
    requestSize: 1,
    responseSize: 1,
    bytes: 1_000_000,
    noDelay: false,
    timeout: '1s',
  },
  stagger: true,
  podsPerNode: 1,
  capture: 'all' as const,
  /** iputils' habit of a recognisable identifier; the item index keeps flows apart. */
  identBase: 0x1234,
};
