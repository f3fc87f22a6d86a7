# TCP request/response agent run inside a network namespace by the kernel
# harness (kernel-traffic.ts), as `ip netns exec NS python3 tcp-agent.py MODE JSON`.
#
#   server {"port":8080,"requestSize":100,"responseSize":200}
#     listens on 0.0.0.0:port, prints "ready", answers every requestSize bytes a
#     connection delivers with responseSize bytes and closes its side when the
#     peer closes (read() returned 0), like podwire's TcpServer
#     (models/apps/tcp-rr.ts); runs until it is signalled.
#   client {"to":"10.96.0.3","port":80,"count":8,"rate":10,"requestSize":100,
#           "responseSize":200,"sourcePorts":[38903,...],"timeoutMs":1000,"noDelay":false}
#     TCP_CRR: prints "ready", waits for a line "go" on stdin, then every 1/rate
#     seconds (the first at once) opens a connection (bound to sourcePorts[k]
#     when given, else an ephemeral port), writes requestSize bytes in one
#     write, reads responseSize bytes, closes; prints a JSON summary
#     {"sent","received","errors","ports","congestionControl"} and exits.
import json
import selectors
import signal
import socket
import sys
import threading
import time

mode = sys.argv[1] if len(sys.argv) > 1 else ''
cfg = json.loads(sys.argv[2] if len(sys.argv) > 2 else '{}')


def tcp_socket():
    # A congestion control other than the namespace's default (Reno) is set per socket:
    # a namespace may only default to those in the global tcp_allowed_congestion_control.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if cfg.get('congestionControl'):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cfg['congestionControl'].encode())
    return s


def pattern(n):
    # Bytes as podwire's apps write them (i & 0xff); contents are not compared.
    return bytes(i & 0xff for i in range(n))


def server():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    lsock = tcp_socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(('0.0.0.0', cfg['port']))
    lsock.listen(128)
    lsock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ, None)
    response = pattern(cfg['responseSize'])
    print('ready', flush=True)
    while True:
        for key, _ in sel.select():
            if key.data is None:
                conn, _ = lsock.accept()
                conn.setblocking(True)
                sel.register(conn, selectors.EVENT_READ, {'pending': 0})
                continue
            conn = key.fileobj
            try:
                data = conn.recv(65536)
            except ConnectionError:
                data = b''
            if not data:
                sel.unregister(conn)
                conn.close()
                continue
            key.data['pending'] += len(data)
            while key.data['pending'] >= cfg['requestSize']:
                key.data['pending'] -= cfg['requestSize']
                if response:
                    conn.sendall(response)


def client():
    ports = cfg.get('sourcePorts') or []
    count = cfg['count']
    if ports and len(ports) != count:
        print(f"sourcePorts has {len(ports)} ports for count {count}", file=sys.stderr)
        sys.exit(2)
    request = pattern(cfg['requestSize'])
    timeout = cfg['timeoutMs'] / 1000
    lock = threading.Lock()
    summary = {'sent': 0, 'received': 0, 'errors': [], 'ports': [None] * count}

    def transaction(k):
        s = tcp_socket()
        try:
            if cfg.get('noDelay'):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if ports:
                s.bind(('0.0.0.0', ports[k]))
            s.settimeout(timeout)
            s.connect((cfg['to'], cfg['port']))
            summary['ports'][k] = s.getsockname()[1]
            summary['congestionControl'] = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).split(b'\0')[0].decode()
            s.sendall(request)
            with lock:
                summary['sent'] += 1
            got = 0
            while got < cfg['responseSize']:
                data = s.recv(cfg['responseSize'] - got)
                if not data:
                    raise ConnectionError('peer closed before the whole response')
                got += len(data)
            with lock:
                summary['received'] += 1
        except Exception as e:  # noqa: BLE001 - every failure is reported per request
            with lock:
                summary['errors'].append(f'#{k + 1}: {e}')
        finally:
            s.close()

    print('ready', flush=True)
    if sys.stdin.readline().strip() != 'go':
        sys.exit(2)
    start = time.monotonic()
    threads = []
    for k in range(count):
        time.sleep(max(0.0, start + k / cfg['rate'] - time.monotonic()))
        t = threading.Thread(target=transaction, args=(k,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    print(json.dumps(summary), flush=True)


if mode == 'server':
    server()
elif mode == 'client':
    client()
else:
    print(f'usage: tcp-agent.py server|client JSON (got {mode})', file=sys.stderr)
    sys.exit(2)
