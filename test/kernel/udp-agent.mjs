// UDP request/response agent run inside a network namespace by the kernel
// harness (kernel-traffic.ts), as `ip netns exec NS node udp-agent.mjs MODE JSON`.
//
//   server {"port":9000,"responseSize":64}
//     binds port on every IPv4 address of the namespace (and 0.0.0.0 for the
//     rest), prints "ready", answers every datagram with responseSize bytes
//     (none when 0) until it is signalled; the answer starts with the request's
//     first 4 bytes (its sequence number) and leaves from the address the
//     request was sent to, like podwire's UdpServer (models/apps/udp-rr.ts,
//     udp.sendFrom(dst, ...)). One wildcard socket would answer from the source
//     address of the route back instead (ip_route_output picks it), which differs
//     when a request reaches the host on another interface's address.
//   client {"to":"10.244.1.3","port":9000,"sourcePort":5555,"count":1,"rate":1,
//           "arrivals":"constant","requestSize":64,"responseSize":64,"timeoutMs":1000,"seed":1,
//           "broadcast":false}
//     binds sourcePort (0 = ephemeral; SO_BROADCAST with broadcast), prints "ready", waits for a line "go" on
//     stdin, sends count requests at rate per second (constant spacing, or
//     exponential gaps for poisson, the first at once), waits for the responses
//     (at most timeoutMs after the last request), prints a JSON summary, exits.
import dgram from 'node:dgram';
import os from 'node:os';
import { performance } from 'node:perf_hooks';

const [mode, json] = process.argv.slice(2);
const cfg = JSON.parse(json ?? '{}');

if (mode === 'server') {
  // The most specific bound socket gets a datagram (net/ipv4/udp.c, compute_score), so a
  // request to a local address is answered by the socket bound to it, from that address.
  const local = Object.values(os.networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && a.family === 'IPv4')
    .map((a) => a.address);
  const addresses = [...new Set(local), '0.0.0.0'];
  let bound = 0;
  for (const address of addresses) {
    // SO_REUSEADDR lets the wildcard socket share the port with the specific ones.
    const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    sock.on('message', (msg, rinfo) => {
      if (cfg.responseSize <= 0) return;
      const response = Buffer.alloc(cfg.responseSize);
      for (let i = 0; i < response.length; i++) response[i] = i & 0xff;
      msg.copy(response, 0, 0, Math.min(4, msg.length, response.length));
      sock.send(response, rinfo.port, rinfo.address);
    });
    sock.on('error', (e) => {
      console.error(`${address}:${cfg.port}: ${String(e)}`);
      process.exit(1);
    });
    sock.bind(cfg.port, address, () => {
      if (++bound === addresses.length) console.log('ready');
    });
  }
} else if (mode === 'client') {
  const sock = dgram.createSocket('udp4');
  // Request bytes as podwire's UdpClient writes them: i & 0xff, the sequence number in the first 4.
  const request = Buffer.alloc(cfg.requestSize);
  for (let i = 0; i < request.length; i++) request[i] = i & 0xff;
  let sent = 0;
  let received = 0;
  let lastSendAt = 0;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    console.log(JSON.stringify({ sent, received }));
    sock.close();
    process.exit(0);
  };
  sock.on('message', () => {
    received++;
    if (cfg.responseSize > 0 && received >= cfg.count && sent >= cfg.count) finish();
  });
  sock.on('error', (e) => {
    console.error(String(e));
    process.exit(1);
  });
  // mulberry32: a small seeded generator, so poisson gaps repeat from run to run.
  let state = cfg.seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const offsetsMs = [];
  let at = 0;
  for (let k = 0; k < cfg.count; k++) {
    offsetsMs.push(at);
    at += cfg.arrivals === 'poisson' ? (-Math.log(1 - random()) / cfg.rate) * 1000 : 1000 / cfg.rate;
  }
  const go = () => {
    const start = performance.now();
    const sendNext = () => {
      if (request.length >= 4) request.writeUInt32BE(sent + 1, 0);
      sock.send(request, cfg.port, cfg.to, () => {
        sent++;
        lastSendAt = performance.now();
        if (sent < cfg.count) {
          setTimeout(sendNext, Math.max(0, start + offsetsMs[sent] - performance.now()));
        } else if (cfg.responseSize > 0 && received >= cfg.count) {
          finish();
        } else {
          setTimeout(finish, Math.max(0, lastSendAt + cfg.timeoutMs - performance.now()));
        }
      });
    };
    if (cfg.count > 0) sendNext();
    else finish();
  };
  sock.bind(cfg.sourcePort, '0.0.0.0', () => {
    if (cfg.broadcast === true) sock.setBroadcast(true);
    let buffered = '';
    let started = false;
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (s) => {
      buffered += s;
      if (!started && buffered.includes('go\n')) {
        started = true;
        process.stdin.pause();
        go();
      }
    });
    console.log('ready');
  });
} else {
  console.error(`usage: udp-agent.mjs server|client JSON (got ${mode})`);
  process.exit(2);
}
