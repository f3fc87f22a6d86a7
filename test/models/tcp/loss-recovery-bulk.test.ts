/**
 * 1 MB bulk transfers at 5% random loss each way, 2 ms RTT, seeds 1..30
 * (podwire issue #5): how many retransmission timeouts the tail loss probe
 * saves with SACK (tcp_early_retrans 3 against 0), and the NewReno figures
 * (no probe without SACK, as in Linux; limited transmit only).
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../../models/stack/tcp/connection.js';
import type { TcpParams } from '../../../models/stack/tcp/params.js';
import { ip, MS, SECOND } from '../helpers.js';
import { pair } from './topo.js';

const TOTAL = 1_000_000;

function bulk(seed: number, params: Partial<TcpParams>) {
  const { net, ta, tb } = pair({ seed, loss: 0.05, delayNs: MS, params });
  let client: Connection | null = null;
  let startAt = -1;
  let doneAt = -1;
  tb.listen(5001, { onAccept: () => ({ onData: (c) => { if (c.bytesReceived === TOTAL) doneAt = net.sim.now; } }) });
  net.at(0, () => {
    client = ta.connect(ip('10.0.0.2'), 5001, { onConnected: (c) => { startAt = net.sim.now; c.send(TOTAL); } });
  });
  net.run(300 * SECOND);
  return { c: client as Connection | null, startAt, doneAt };
}

/** Sums over the seeds whose transfer completed in both runs compared. */
function totals(params: Partial<TcpParams>, seeds: number[]) {
  let timeouts = 0;
  let probes = 0;
  let seconds = 0;
  const done = new Set<number>();
  for (const seed of seeds) {
    const r = bulk(seed, params);
    if (r.doneAt < 0 || r.c === null) continue; // ARP for the server failed (random-loss.test.ts)
    done.add(seed);
    timeouts += r.c.stats.timeouts;
    probes += r.c.stats.lossProbes;
    seconds += (r.doneAt - r.startAt) / SECOND;
  }
  return { timeouts, probes, seconds, done };
}

describe('TCP bulk transfers at 5% loss: timeouts with and without the tail loss probe', () => {
  it('with SACK, the probe replaces a good share of the RTOs and shortens the transfers', () => {
    const seeds = Array.from({ length: 30 }, (_, i) => i + 1);
    const off = totals({ sack: true, earlyRetrans: 0 }, seeds);
    const on = totals({ sack: true }, seeds);
    const reno = totals({ sack: false }, seeds);
    const line = (t: ReturnType<typeof totals>): string => `${t.timeouts} RTOs, ${t.probes} probes, ${t.seconds.toFixed(2)} s over ${t.done.size} transfers`;
    console.log(`1 MB at 5% loss, 2 ms RTT, seeds 1..30: SACK without TLP ${line(off)}; SACK with TLP ${line(on)}; NewReno ${line(reno)}`);
    expect(on.done).toEqual(off.done);
    expect(on.probes).toBeGreaterThan(0);
    expect(off.probes).toBe(0);
    expect(reno.probes).toBe(0);
    expect(on.timeouts).toBeLessThan(off.timeouts * 0.9);
    expect(on.seconds).toBeLessThan(off.seconds);
  }, 300_000);
});
