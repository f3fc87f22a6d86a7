/**
 * The two userland proxies' TCP sessions (models/apps/proxy-tcp-session.ts).
 *
 * Dialing the backend. kube-proxy's TryConnectEndpoints dials up to four
 * times, each to the next endpoint, giving up on a dial after 250 ms, 500 ms,
 * 1 s, 2 s; its ProxyLoop accepts the next connection only once the dialing
 * is over. docker-proxy dials once per client, in the client's own goroutine.
 * A proxy that finds no backend closes the client's connection, which resets
 * it when the request is still unread.
 *
 * Ending. How the two userland proxies end a proxied TCP connection, with a client
 * that half-closes: it sends its request, then shutdown(SHUT_WR), and waits
 * for an answer the backend sends 5 ms later.
 * - kube-proxy's userspace mode (pkg/proxy/userspace/proxysocket.go,
 *   copyBytes: `dest.Close(); src.Close()`) closes both connections when the
 *   client's side ends, so the late answer meets a closed socket: the proxy
 *   resets the backend (RFC 1122 4.2.2.13, tcp_rcv_state_process) and the
 *   client gets a FIN and no answer. Half-closing clients were a known
 *   limitation of that mode.
 * - docker-proxy (libnetwork tcp_proxy.go, broker: `to.CloseWrite()`) only
 *   passes the FIN on, so the answer arrives, then the backend's FIN.
 */
import { describe, expect, it } from 'vitest';
import { ip, MS, SECOND } from './helpers.js';
import { UserspaceProxy } from '../../models/apps/userspace-proxy.js';
import type { ProxyKind } from '../../models/apps/proxy-tcp-session.js';
import type { Connection, TcpError } from '../../models/stack/tcp/connection.js';
import { TCP_RST } from '../../models/wire/tcp.js';
import { tcpFrames } from './tcp/tcp-helpers.js';
import { pair } from './tcp/topo.js';

function halfClosingClient(kind: ProxyKind) {
  const { net, b, ta, tb } = pair();
  const proxy = new UserspaceProxy(b, [{ name: 'default/web:http', protocol: 'TCP', proxyPort: 8081, backends: [{ ip: ip('10.0.0.2'), port: 80 }], affinity: 'None' }], { copyNs: 10_000, acceptNs: 20_000, udpIdleNs: 250 * MS }, kind);
  let backendError: TcpError | null = null;
  tb.listen(80, {
    onAccept: () => ({
      onData: (c) => {
        if (c.bytesReceived === 100) net.at(net.sim.now + 5 * MS, () => { if (c.stateName === 'CLOSE-WAIT') c.send(300); });
      },
      onEnd: () => {},
      onError: (_c, e) => { backendError = e; },
    }),
  });
  let answer = 0;
  let clientEnded = false;
  net.at(0, () => {
    ta.connect(ip('10.0.0.2'), 8081, {
      onConnected: (c: Connection) => {
        c.send(100);
        c.shutdown();
      },
      onData: (c) => { answer = c.bytesReceived; },
      onEnd: () => { clientEnded = true; },
    });
  });
  net.run(1 * SECOND);
  return { net, proxy, answer, clientEnded, backendError };
}

describe('a half-closing client through a userland proxy', () => {
  it("kube-proxy (close both): the client's FIN closes the backend connection too; the late answer is reset", () => {
    const r = halfClosingClient('kube-proxy');
    expect(r.answer).toBe(0);
    expect(r.clientEnded).toBe(true);
    expect(r.backendError).toBe('ECONNRESET');
    // The client's side saw no RST: it got the proxy's FIN.
    expect(tcpFrames(r.net.tap, 'a/eth0', 'in').some((f) => f.flags & TCP_RST)).toBe(false);
    expect(r.proxy.stats.backendConnects).toBe(1);
  });

  it('docker-proxy (half-close): the answer arrives, then the FIN', () => {
    const r = halfClosingClient('docker-proxy');
    expect(r.answer).toBe(300);
    expect(r.clientEnded).toBe(false); // the backend never closed: no FIN to pass on
    expect(r.backendError).toBe(null);
  });
});

describe('a proxy that closes a connection it is still writing to', () => {
  it("kube-proxy's close of both fails its waiting write to the client: the client gets what was queued, then the FIN", () => {
    // The backend streams 4 MB; the client half-closes 1 ms in. kube-proxy's copy from the
    // client ends and closes both connections; the other copy, blocked writing the answer to
    // the client (the send buffer is full), fails (Go's Close under a blocked Write), so only
    // what the kernel had queued reaches the client, then a FIN. podwire once finished that
    // write first and delivered all 4 MB.
    const { net, b, ta, tb } = pair();
    const proxy = new UserspaceProxy(b, [{ name: 'default/web:http', protocol: 'TCP', proxyPort: 8081, backends: [{ ip: ip('10.0.0.2'), port: 80 }], affinity: 'None' }], { copyNs: 10_000, acceptNs: 20_000, udpIdleNs: 250 * MS }, 'kube-proxy');
    tb.listen(80, { onAccept: () => ({ onData: (c) => { if (c.bytesReceived === 100) c.send(4_000_000); }, onError: () => {} }) });
    let received = 0;
    let ended = false;
    net.at(0, () => {
      ta.connect(ip('10.0.0.2'), 8081, {
        onConnected: (c: Connection) => { c.send(100); net.at(net.sim.now + 1 * MS, () => c.shutdown()); },
        onData: (c) => { received = c.bytesReceived; },
        onEnd: () => { ended = true; },
      });
    });
    net.run(2 * SECOND);
    expect(ended).toBe(true);
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(4_000_000);
    expect(proxy.stats.backendConnects).toBe(1);
  });
});

const ALIVE = { ip: ip('10.0.0.2'), port: 80 };
const REFUSED = { ip: ip('10.0.0.2'), port: 81 };
/** No host answers ARP for it: a SYN to it never leaves. */
const DEAD = { ip: ip('10.0.0.9'), port: 80 };

/** Clients at `starts` (ns) each send a 100-byte request through the proxy on b; the server answers 200. */
function requests(kind: ProxyKind, backends: { ip: number; port: number }[], starts: number[], until = 10 * SECOND) {
  const { net, b, ta, tb } = pair();
  const proxy = new UserspaceProxy(b, [{ name: 'default/web:http', protocol: 'TCP', proxyPort: 8081, backends, affinity: 'None' }], { copyNs: 10_000, acceptNs: 20_000, udpIdleNs: 250 * MS }, kind);
  tb.listen(80, { onAccept: () => ({ onData: (c) => { if (c.bytesReceived === 100) c.send(200); }, onEnd: (c) => c.close() }) });
  const answeredAt: (number | null)[] = starts.map(() => null);
  const errors: (TcpError | null)[] = starts.map(() => null);
  starts.forEach((t, i) => {
    net.at(t, () => {
      ta.connect(ip('10.0.0.2'), 8081, {
        onConnected: (c: Connection) => c.send(100),
        onData: (c) => { if (c.bytesReceived === 200) { answeredAt[i] = net.sim.now; c.close(); } },
        onError: (_c, e) => { errors[i] = e; },
      });
    });
  });
  net.run(until);
  return { proxy, answeredAt, errors };
}

describe('dialing the backend', () => {
  it('kube-proxy: a refused dial goes to the next endpoint at once', () => {
    const r = requests('kube-proxy', [REFUSED, ALIVE], [0]);
    expect(r.errors).toEqual([null]);
    expect(r.answeredAt[0]).toBeLessThan(10 * MS);
    expect(r.proxy.stats.backendConnects).toBe(2);
  });

  it('kube-proxy: a dial with no route (ENETUNREACH) goes to the next endpoint at once', () => {
    const r = requests('kube-proxy', [{ ip: ip('203.0.113.9'), port: 80 }, ALIVE], [0]);
    expect(r.errors).toEqual([null]);
    expect(r.answeredAt[0]).toBeLessThan(10 * MS);
    expect(r.proxy.stats.backendConnects).toBe(2);
  });

  it('kube-proxy: an unanswered dial is given up after 250 ms, and the connection accepted meanwhile waits for it', () => {
    // Round robin: the first client's dials go to DEAD, then ALIVE; the second's, which
    // starts only when the first's are over, to DEAD again, then ALIVE.
    const r = requests('kube-proxy', [DEAD, ALIVE], [0, 10 * MS]);
    expect(r.errors).toEqual([null, null]);
    expect(r.answeredAt[0]).toBeGreaterThan(250 * MS);
    expect(r.answeredAt[0]).toBeLessThan(260 * MS);
    expect(r.answeredAt[1]).toBeGreaterThan(500 * MS);
    expect(r.answeredAt[1]).toBeLessThan(510 * MS);
    expect(r.proxy.stats.backendConnects).toBe(4);
  });

  it('kube-proxy: after four failed dials the client is reset (its request unread)', () => {
    const r = requests('kube-proxy', [REFUSED], [0]);
    expect(r.errors).toEqual(['ECONNRESET']);
    expect(r.proxy.stats.backendConnects).toBe(4);
  });

  it('docker-proxy: one dial, and each client dials on its own', () => {
    const refused = requests('docker-proxy', [REFUSED], [0]);
    expect(refused.errors).toEqual(['ECONNRESET']);
    expect(refused.proxy.stats.backendConnects).toBe(1);
    // A dial that gets no answer holds up nobody else: 100 ms in, both clients' dials are out.
    expect(requests('docker-proxy', [DEAD], [0, 10 * MS], 100 * MS).proxy.stats.backendConnects).toBe(2);
    // kube-proxy's accept loop is still on the first client's dials (250 ms, then 500 ms, ...).
    expect(requests('kube-proxy', [DEAD], [0, 10 * MS], 100 * MS).proxy.stats.backendConnects).toBe(1);
  });
});

describe('a backend that resets', () => {
  // Both proxies copy with io.Copy; a reset makes it fail, and the proxy ends that
  // direction as at an EOF: Close (kube-proxy) or CloseWrite (docker-proxy) of the
  // client's connection, a FIN either way.
  for (const kind of ['kube-proxy', 'docker-proxy'] as const) {
    it(`${kind}: the client gets a FIN, not a RST`, () => {
      const { net, b, ta, tb } = pair();
      const proxy = new UserspaceProxy(b, [{ name: 'default/web:http', protocol: 'TCP', proxyPort: 8081, backends: [ALIVE], affinity: 'None' }], { copyNs: 10_000, acceptNs: 20_000, udpIdleNs: 250 * MS }, kind);
      tb.listen(80, { onAccept: () => ({ onData: (c) => { if (c.bytesReceived === 100) c.abort(); } }) });
      let ended = false;
      let error: TcpError | null = null;
      net.at(0, () => {
        ta.connect(ip('10.0.0.2'), 8081, { onConnected: (c: Connection) => c.send(100), onEnd: () => { ended = true; }, onError: (_c, e) => { error = e; } });
      });
      net.run(1 * SECOND);
      expect([ended, error]).toEqual([true, null]);
      expect(tcpFrames(net.tap, 'a/eth0', 'in').some((f) => f.flags & TCP_RST)).toBe(false);
      expect(proxy.stats.errors).toBe(1);
    });
  }
});
