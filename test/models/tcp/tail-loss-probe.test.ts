/**
 * The tail loss probe (RFC 8985 section 7; tcp_schedule_loss_probe and
 * tcp_send_loss_probe, net.ipv4.tcp_early_retrans = 3): when the last two
 * segments of a flight are lost, a probe about 2 SRTT + TCP_TIMEOUT_MIN after
 * the last ACK resends the last one, and its SACK makes RACK find the other lost
 * and starts fast recovery, instead of an RTO at 200 ms+. With one
 * segment in flight the probe waits for the peer's delayed ACK too
 * (2 SRTT + rto_min, never later than the RTO). Linux probes only on
 * connections that agreed SACK.
 */
import { describe, expect, it } from 'vitest';
import type { TcpParams } from '../../../models/stack/tcp/params.js';
import { MS } from '../helpers.js';
import { lossyTransfer } from './topo.js';

const MSS = 1448;

/** `total` bytes from a to b over a 2 ms RTT, the first sends at `drop` lost. */
function transfer(total: number, drop: number[], params: Partial<TcpParams>) {
  const r = lossyTransfer(total, drop, { params });
  return { ...r, lastAckAt: (before: number) => r.acks.filter((f) => f.t < before).at(-1)!.t };
}

describe('TCP tail loss probe', () => {
  it('the last two segments lost: a probe at 2 SRTT + 2 ms after the last ACK resends the last, SACK shows the other lost', () => {
    const drop = [1 + 4 * MSS, 1 + 5 * MSS];
    const r = transfer(6 * MSS, drop, {});
    expect(r.dropped.map((d) => d.off)).toEqual(drop);
    // The resends: the probe (the last segment, tcp_send_loss_probe), then the hole below it.
    const resends = r.data.filter((d) => drop.includes(d.off));
    expect(resends.map((d) => d.off)).toEqual([drop[1], drop[0]]);
    const probeAt = resends[0]!.t;
    const srtt = r.c.stats.rttSamplesNs;
    // The probe timer restarted on the last ACK (tcp_set_xmit_timer) with two segments in flight.
    const wait = probeAt - r.lastAckAt(probeAt);
    expect(wait).toBeGreaterThanOrEqual(2 * Math.min(...srtt) + 2 * MS);
    expect(wait).toBeLessThanOrEqual(2 * Math.max(...srtt) + 2 * MS);
    expect(wait).toBeLessThan(20 * MS);
    expect(r.c.stats.lossProbes).toBe(1);
    expect(r.c.stats.fastRetransmits).toBe(1);
    expect(r.c.stats.timeouts).toBe(0);
    expect(r.doneAt - r.dropped[0]!.t).toBeLessThan(30 * MS);
  });

  it('one segment in flight: the probe allows for a delayed ACK, so it goes at the RTO time, as a probe', () => {
    // Seven segments: six are ACKed, the seventh (alone in flight then) is lost.
    const last = 1 + 6 * MSS;
    const r = transfer(6 * MSS + 100, [last], {});
    const sends = r.data.filter((d) => d.off === last);
    expect(sends).toHaveLength(1);
    const wait = sends[0]!.t - r.lastAckAt(sends[0]!.t);
    // min(2 SRTT + rto_min, RTO) = RTO = SRTT + 200 ms here.
    expect(wait).toBeGreaterThanOrEqual(200 * MS);
    expect(wait).toBeLessThan(2 * r.c.rto.srttNs + 200 * MS + MS);
    expect(r.c.stats.lossProbes).toBe(1);
    expect(r.c.stats.timeouts).toBe(0);
  });

  for (const [name, params] of [['without SACK', { sack: false }], ['with tcp_early_retrans 0', { earlyRetrans: 0 }]] as const) {
    it(`${name} there is no probe: the RTO resends the tail after 200 ms+`, () => {
      const last = 1 + 3 * MSS;
      const r = transfer(4 * MSS, [last], params);
      const sends = r.data.filter((d) => d.off === last);
      expect(sends).toHaveLength(1);
      expect(sends[0]!.t - r.dropped[0]!.t).toBeGreaterThan(200 * MS);
      expect(r.c.stats.lossProbes).toBe(0);
      expect(r.c.stats.timeouts).toBe(1);
    });
  }
});
