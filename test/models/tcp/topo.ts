/**
 * The topology most TCP tests use: client namespace `a` (10.0.0.1) and server
 * namespace `b` (10.0.0.2) joined by a wire, both NICs captured.
 */
import type { WireParams } from '../../../models/devices/nic.js';
import type { TcpParams } from '../../../models/stack/tcp/params.js';
import type { Connection } from '../../../models/stack/tcp/connection.js';
import { ip, MS, route, SECOND, TestNet } from '../helpers.js';
import { dropFirstSends } from './drop-first-sends.js';
import { tcpFrames, tcpOf } from './tcp-helpers.js';

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

/** The path of issue #5's bulk-transfer case: 1 Gbit/s and a 1000-frame queue at the sender's node. */
const BULK_PATH = { bandwidthBps: 1e9, txQueueLen: 1000 };

/**
 * Sends `total` bytes for up to 60 s from a pod `p` (10.0.1.2) to b's port
 * 5001: p's veth leads to node `a` (10.0.1.1, forwarding), whose eth0
 * (10.0.0.1) is wired to b (10.0.0.2) with BULK_PATH (or `opts.txQueueLen` frames of
 * queue) and `rttNs` / 2 each way;
 * a/eth0 and b/eth0 are captured. A pod's packets stop counting against its
 * socket at the veth (skb_orphan), so TCP small queues do not hold the flow
 * back and it can fill the node's queue, as issue #5 saw. (A sender on the
 * node itself keeps about a millisecond of data in its queue: TSQ, tsq.test.ts.)
 * Returns the client connection, when it connected and when b had every byte
 * (-1 if never).
 */
export function bulkTransfer(total: number, rttNs: number, params: Partial<TcpParams>, opts: { recordCwnd?: boolean; txQueueLen?: number } = {}) {
  const net = new TestNet(1);
  const p = net.ns('p', { component: 'ca' });
  const a = net.ns('a', { component: 'ca', forward: true });
  const b = net.ns('b', { component: 'cb' });
  const [vp] = net.veth(p, 'eth0', '02:00:00:00:00:01', a, 'vethp', '02:00:00:00:00:02', { cidrA: '10.0.1.2/24', cidrB: '10.0.1.1/24' });
  const [na, nb] = net.wire(a, 'eth0', A_MAC, b, 'eth0', B_MAC, { ...BULK_PATH, txQueueLen: opts.txQueueLen ?? BULK_PATH.txQueueLen, delayNs: rttNs / 2, cidrA: '10.0.0.1/24', cidrB: '10.0.0.2/24' });
  route(vp, '0.0.0.0/0', '10.0.1.1');
  route(nb, '10.0.1.0/24', '10.0.0.1');
  net.capture(na, nb);
  const ta = tcpOf(p, params);
  const tb = tcpOf(b, params);
  let client: Connection | null = null;
  let startAt = -1;
  let doneAt = -1;
  tb.listen(5001, { onAccept: () => ({ onData: (c) => { if (c.bytesReceived === total) doneAt = net.sim.now; } }) });
  net.at(0, () => {
    client = ta.connect(ip('10.0.0.2'), 5001, {
      onConnected: (c) => {
        startAt = net.sim.now;
        if (opts.recordCwnd === true) c.recordCwnd = true;
        c.send(total);
      },
    });
  });
  net.run(60 * SECOND);
  return { net, a, b, p, client: client! as Connection, startAt, doneAt };
}

/**
 * `total` bytes from a to b over `pair` with a 2 ms RTT, the first `times` sends
 * of the data segments at the stream offsets `drop` lost on a's wire: the
 * client, when b had every byte, what was dropped, a's data segments as sent
 * (time and stream offset; the capture sees no dropped send) and the pure ACKs
 * a received.
 */
export function lossyTransfer(total: number, drop: number[], opts: { times?: number; params?: Partial<TcpParams> } = {}) {
  const { net, na, ta, tb } = pair({ delayNs: MS, params: opts.params ?? {} });
  let client: Connection | null = null;
  let doneAt = -1;
  tb.listen(5001, { onAccept: () => ({ onData: (c) => { if (c.bytesReceived === total) doneAt = net.sim.now; } }) });
  const dropped = dropFirstSends(na, () => client, drop, () => net.sim.now, opts.times ?? 1);
  net.at(0, () => {
    client = ta.connect(ip('10.0.0.2'), 5001, { onConnected: (c) => { c.send(total); } });
    client.recordRtt = true;
  });
  net.run(10 * SECOND);
  const c = client! as Connection;
  const data = tcpFrames(net.tap, 'a/eth0', 'out').filter((f) => f.payload.length > 0).map((f) => ({ t: f.t, off: (f.seq - c.iss) >>> 0 }));
  const acks = tcpFrames(net.tap, 'a/eth0', 'in').filter((f) => f.payload.length === 0);
  return { c, doneAt, dropped, data, acks };
}
