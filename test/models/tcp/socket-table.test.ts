/**
 * The ehash (TcpLayer's socket table, inet_ehashfn / __inet_lookup_established):
 * sockets are found by their 4-tuple, also when two tuples hash alike.
 */
import { describe, expect, it } from 'vitest';
import { ip, MS } from '../helpers.js';
import { socketHash } from '../../../models/stack/tcp/tcp-layer.js';
import type { Connection } from '../../../models/stack/tcp/connection.js';
import { pair } from './topo.js';

describe('TCP socket table', () => {
  it('finds each of two connections whose 4-tuples share a bucket, and lets each go on its own', () => {
    const { net, ta, tb } = pair();
    const a = ip('10.0.0.1');
    const b = ip('10.0.0.2');
    // Two (server port, client port) pairs whose tuples hash alike: found by search, not written in.
    const seen = new Map<number, [number, number]>();
    let found: [[number, number], [number, number]] | undefined;
    for (let i = 0; found === undefined && i < 1 << 20; i++) {
      const ports: [number, number] = [1000 + (i >>> 10), 30000 + (i & 1023)];
      const h = socketHash(b, ports[0], a, ports[1]);
      const other = seen.get(h);
      if (other !== undefined) found = [other, ports];
      else seen.set(h, ports);
    }
    expect(found).toBeDefined();
    const [[rp1, lp1], [rp2, lp2]] = found!;
    for (const port of new Set([rp1, rp2])) tb.listen(port, { onAccept: () => ({}) });
    const conns: Connection[] = [];
    net.at(0, () => {
      conns.push(ta.connect(b, rp1, {}, { srcPort: lp1 }), ta.connect(b, rp2, {}, { srcPort: lp2 }));
    });
    net.run(100 * MS);
    const [c1, c2] = conns as [Connection, Connection];
    expect([c1.stateName, c2.stateName]).toEqual(['ESTABLISHED', 'ESTABLISHED']);
    expect(ta.lookup(b, rp1, a, lp1)).toBe(c1);
    expect(ta.lookup(b, rp2, a, lp2)).toBe(c2);
    expect(tb.lookup(a, lp1, b, rp1)).toBeDefined();
    expect(ta.size).toBe(2);
    c1.abort();
    expect(ta.lookup(b, rp1, a, lp1)).toBeUndefined();
    expect(ta.lookup(b, rp2, a, lp2)).toBe(c2);
    expect(ta.size).toBe(1);
    expect(ta.connections()).toEqual([c2]);
  });
});
