# A user-space proxy process run inside a network namespace by the kernel
# harness (kernel-traffic.ts), standing in for kube-proxy's userspace mode or
# docker-proxy the way podwire models them (models/apps/proxy-tcp-session.ts,
# userspace-proxy.ts), as
#   ip netns exec NS python3 proxy-agent.py JSON
# with JSON {"kind":"kube-proxy"|"docker-proxy","ports":[{"protocol":"TCP"|"UDP",
#   "proxyPort":N,"backends":[{"ip":"10.244.1.3","port":8080}],"affinity":"None"}]}.
#
# TCP, kube-proxy (pkg/proxy/userspace/proxysocket.go): one accept loop per port
# dials each accepted connection's backend before it accepts the next, up to
# four dials (timeouts 250 ms, 500 ms, 1 s, 2 s), each to the next endpoint
# round robin; when either direction ends it closes both connections
# (copyBytes: dest.Close(); src.Close()).
# TCP, docker-proxy (libnetwork cmd/proxy/tcp_proxy.go): a thread per client
# dials once; when one direction ends it shuts down writing towards the other
# peer (to.CloseWrite()), and closes both once both directions ended.
# UDP (both): a socket per client towards its backend (round robin), answers
# sent back from the proxy port.
# Prints "ready" once every port listens; runs until signalled.
import json
import selectors
import signal
import socket
import sys
import threading

cfg = json.loads(sys.argv[1])
KIND = cfg['kind']
DIAL_TIMEOUTS = [0.25, 0.5, 1.0, 2.0]


def tcp_socket():
    # A congestion control other than the namespace's default (Reno) is set per socket:
    # a namespace may only default to those in the global tcp_allowed_congestion_control.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if cfg.get('congestionControl'):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cfg['congestionControl'].encode())
    return s


class RoundRobin:
    def __init__(self, backends):
        self.backends = [(b['ip'], b['port']) for b in backends]
        self.next = 0
        self.lock = threading.Lock()

    def pick(self):
        with self.lock:
            b = self.backends[self.next]
            self.next = (self.next + 1) % len(self.backends)
            return b


def pump(client, backend):
    """Copies both ways until the session ends, as the proxy's kind ends it."""
    sel = selectors.DefaultSelector()
    peer = {client: backend, backend: client}
    for s in peer:
        sel.register(s, selectors.EVENT_READ)
    open_dirs = 2
    try:
        while open_dirs > 0:
            for key, _ in sel.select():
                src = key.fileobj
                dst = peer[src]
                try:
                    data = src.recv(65536)
                    if data:
                        dst.sendall(data)
                        continue
                except OSError:
                    pass  # a reset or a failed write ends the direction as an EOF does
                if KIND == 'kube-proxy':
                    return
                sel.unregister(src)
                open_dirs -= 1
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
    finally:
        client.close()
        backend.close()


def dial(rr):
    tries = DIAL_TIMEOUTS if KIND == 'kube-proxy' else [None]
    for timeout in tries:
        s = tcp_socket()
        try:
            s.settimeout(timeout)
            s.connect(rr.pick())
            s.settimeout(None)
            return s
        except OSError:
            s.close()
            continue
    return None


def serve_tcp(port):
    rr = RoundRobin(port['backends'])
    lsock = tcp_socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(('0.0.0.0', port['proxyPort']))
    lsock.listen(128)

    def session(conn):
        backend = dial(rr)
        if backend is None:
            conn.close()  # a RST if its request is unread, as Go's Close
            return
        threading.Thread(target=pump, args=(conn, backend), daemon=True).start()

    def loop():
        while True:
            conn, _ = lsock.accept()
            if KIND == 'kube-proxy':
                session(conn)  # the accept loop waits for the dialing
            else:
                threading.Thread(target=session, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()


def serve_udp(port):
    rr = RoundRobin(port['backends'])
    lsock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(('0.0.0.0', port['proxyPort']))
    clients = {}

    def replies(client, bsock):
        while True:
            try:
                data = bsock.recv(65536)
            except OSError:
                return
            lsock.sendto(data, client)

    def loop():
        while True:
            data, client = lsock.recvfrom(65536)
            bsock = clients.get(client)
            if bsock is None:
                bsock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                bsock.connect(rr.pick())
                clients[client] = bsock
                threading.Thread(target=replies, args=(client, bsock), daemon=True).start()
            bsock.send(data)

    threading.Thread(target=loop, daemon=True).start()


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
for p in cfg['ports']:
    if p['protocol'] == 'TCP':
        serve_tcp(p)
    else:
        serve_udp(p)
print('ready', flush=True)
threading.Event().wait()
