/**
 * Conntrack sees the segments' real flags, sequence numbers and windows:
 * with an INVALID-dropping rule on the server (nf_conntrack_proto_tcp's state
 * table and tcp_in_window check every segment), a handshake, a transfer and a
 * FIN teardown go through with no drop, and `conntrack -L` shows the states
 * the kernel would: ESTABLISHED [ASSURED], then TIME_WAIT.
 */
import { describe, expect, it } from 'vitest';
import { ip, SECOND } from '../helpers.js';
import { attachNetfilter } from '../../../models/stack/netfilter-env.js';
import type { Connection } from '../../../models/stack/tcp/connection.js';
import { pair } from './topo.js';

const RULES = `*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m conntrack --ctstate INVALID -j DROP
-A OUTPUT -m conntrack --ctstate INVALID -j DROP
COMMIT
`;

describe('TCP under conntrack', () => {
  it('is tracked ESTABLISHED then TIME_WAIT, with no segment INVALID', () => {
    const { net, b, ta, tb } = pair({ bandwidthBps: 100e6, loss: 0.01, seed: 7 });
    const nf = attachNetfilter(b);
    nf.restore(RULES, 'rules');
    const total = 300_000;
    tb.listen(80, {
      onAccept: () => ({
        onData: (c) => { if (c.bytesReceived === total) c.send(1000); },
        onEnd: (c) => c.close(),
      }),
    });
    let client: Connection | null = null;
    let estab: string[] = [];
    // (read when the response arrives, before the close)
    net.at(0, () => {
      client = ta.connect(ip('10.0.0.2'), 80, {
        onConnected: (c) => c.send(total),
        onData: (c) => {
          if (c.bytesReceived === 1000) {
            estab = nf.conntrack!.dumpLines();
            c.close();
          }
        },
      });
    });
    net.run(5 * SECOND);
    const c = client! as Connection;
    expect(c.stats.bytesAcked).toBe(total);
    expect(c.stats.retransmits).toBeGreaterThan(0); // the loss exercised retransmissions too
    const port = c.localPort;
    // Read while the server's response is still unACKed: the entry runs on
    // nf_conntrack_tcp_timeout_unacknowledged (300 s), 299 whole seconds left.
    expect(estab).toEqual([
      `tcp      6 299 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=${port} dport=80 src=10.0.0.2 dst=10.0.0.1 sport=80 dport=${port} [ASSURED] mark=0 use=1`,
    ]);
    expect(net.dropsOf(b)['NETFILTER_DROP']).toBeUndefined();
    const after = nf.conntrack!.dumpLines();
    expect(after.length).toBe(1);
    expect(after[0]).toMatch(/^tcp {6}6 \d+ TIME_WAIT src=10\.0\.0\.1 /);
  });
});
