/**
 * How the two userland proxies end a proxied TCP connection, with a client
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
import { UserspaceProxy, type ProxyClosing } from '../../models/apps/userspace-proxy.js';
import type { Connection, TcpError } from '../../models/stack/tcp/connection.js';
import { TCP_RST } from '../../models/wire/tcp.js';
import { tcpFrames } from './tcp/tcp-helpers.js';
import { pair } from './tcp/topo.js';

function halfClosingClient(closing: ProxyClosing) {
  const { net, b, ta, tb } = pair();
  const proxy = new UserspaceProxy(b, [{ name: 'default/web:http', protocol: 'TCP', proxyPort: 8081, backends: [{ ip: ip('10.0.0.2'), port: 80 }], affinity: 'None' }], { copyNs: 10_000, acceptNs: 20_000, udpIdleNs: 250 * MS }, closing);
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
    const r = halfClosingClient('both');
    expect(r.answer).toBe(0);
    expect(r.clientEnded).toBe(true);
    expect(r.backendError).toBe('ECONNRESET');
    // The client's side saw no RST: it got the proxy's FIN.
    expect(tcpFrames(r.net.tap, 'a/eth0', 'in').some((f) => f.flags & TCP_RST)).toBe(false);
    expect(r.proxy.stats.backendConnects).toBe(1);
  });

  it('docker-proxy (half-close): the answer arrives, then the FIN', () => {
    const r = halfClosingClient('half');
    expect(r.answer).toBe(300);
    expect(r.clientEnded).toBe(false); // the backend never closed: no FIN to pass on
    expect(r.backendError).toBe(null);
  });
});
