/**
 * ICMP errors about a connecting socket (tcp_v4_err, icmp_err_convert in
 * net/ipv4/icmp.c): while in SYN-SENT a destination-unreachable or
 * time-exceeded ends connect() with the errno of its code — host unreachable
 * (e.g. ARP never answered: neigh_invalidate -> ICMP host unreachable to the
 * sender itself, "No route to host" after ~3 s) gives EHOSTUNREACH.
 */
import { describe, expect, it } from 'vitest';
import { ip, SECOND } from '../helpers.js';
import type { TcpError } from '../../../models/stack/tcp/connection.js';
import { pair } from './topo.js';

describe('TCP and ICMP errors', () => {
  it('connect() to an address nobody answers ARP for fails with EHOSTUNREACH once ARP gives up', () => {
    const { net, ta } = pair();
    let err: TcpError | null = null;
    let at = -1;
    net.at(0, () => {
      ta.connect(ip('10.0.0.9'), 80, { onError: (_c, e) => { err = e; at = net.sim.now; } });
    });
    net.run(10 * SECOND);
    expect(err).toBe('EHOSTUNREACH');
    // 3 broadcast probes 1 s apart, FAILED at 3 s (neigh_timer_handler); the SYN retransmitted at 1 s waits in the same queue.
    expect(at).toBe(3 * SECOND);
    expect(ta.size).toBe(0);
  });
});
