/**
 * The topology most TCP tests use: client namespace `a` (10.0.0.1) and server
 * namespace `b` (10.0.0.2) joined by a wire, both NICs captured.
 */
import type { WireParams } from '../../../models/devices/nic.js';
import type { TcpParams } from '../../../models/stack/tcp/params.js';
import { MS, TestNet } from '../helpers.js';
import { tcpOf } from './tcp-helpers.js';

export const A_MAC = '02:00:00:00:00:0a';
export const B_MAC = '02:00:00:00:00:0b';

export function pair(opts: Partial<WireParams> & { seed?: number; mtu?: number; params?: Partial<TcpParams> } = {}) {
  const net = new TestNet(opts.seed ?? 1);
  const a = net.ns('a', { component: 'ca' });
  const b = net.ns('b', { component: 'cb' });
  const [na, nb] = net.wire(a, 'eth0', A_MAC, b, 'eth0', B_MAC, {
    delayNs: opts.delayNs ?? MS,
    bandwidthBps: opts.bandwidthBps ?? 0,
    loss: opts.loss ?? 0,
    txQueueLen: opts.txQueueLen ?? 1000,
    ...(opts.mtu !== undefined ? { mtu: opts.mtu } : {}),
    cidrA: '10.0.0.1/24',
    cidrB: '10.0.0.2/24',
  });
  net.capture(na, nb);
  const ta = tcpOf(a, opts.params ?? {});
  const tb = tcpOf(b, opts.params ?? {});
  return { net, a, b, na, nb, ta, tb };
}
