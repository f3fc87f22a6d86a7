/**
 * The topology most TCP tests use: client namespace `a` (10.0.0.1) and server
 * namespace `b` (10.0.0.2) joined by a wire, both NICs captured.
 */
import type { WireParams } from '../../../models/devices/nic.js';
import type { TcpParams } from '../../../models/stack/tcp/params.js';
import type { Connection } from '../../../models/stack/tcp/connection.js';
import { ip, MS, SECOND, TestNet } from '../helpers.js';
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

/** The path of issue #5's bulk-transfer case: 1 Gbit/s and a 1000-frame sender queue. */
const BULK_PATH = { bandwidthBps: 1e9, txQueueLen: 1000 };

/**
 * Sends `total` bytes from a to b's port 5001 over `pair(...)` with BULK_PATH
 * and `params`, for up to 60 s: the client connection, when it connected and
 * when b had every byte (-1 if never).
 */
export function bulkTransfer(total: number, rttNs: number, params: Partial<TcpParams>, opts: { recordCwnd?: boolean } = {}) {
  const topo = pair({ ...BULK_PATH, delayNs: rttNs / 2, params });
  const { net, ta, tb } = topo;
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
  return { ...topo, client: client! as Connection, startAt, doneAt };
}
