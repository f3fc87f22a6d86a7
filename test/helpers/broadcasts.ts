/**
 * Three nodes and every kind of broadcast, one flow at a time (a kernel's
 * agents start on wall-clock time, so overlapping flows could interleave
 * differently there): UDP with SO_BROADCAST to the underlay's directed
 * broadcast from a node (the switch floods it; n2's server answers, n3
 * consumes it), to a pod network's from a pod (cni0 floods it to a2, whose
 * server answers, and up to n1), 255.255.255.255 from a pod, and `ping -b`.
 * Compared with the kernel (test/kernel/broadcast.kernel.test.ts) and run
 * partitioned (test/run/partitioned.test.ts): floods cross the cut wires.
 */
export const BROADCASTS = `name: broadcasts
duration: 1200ms
nodes:
  - name: n1
    pods: [{ name: a }, { name: a2 }]
  - name: n2
    pods: [{ name: b }]
  - name: n3
    pods: [{ name: c }]
servers:
  - { on: n2, port: 9000, responseSize: 64 }
  - { on: n1/a2, port: 9001, responseSize: 16 }
traffic:
  - udp: { from: n1, to: 192.168.49.255, port: 9000, count: 2, rate: 20, requestSize: 32, responseSize: 64, broadcast: true }
  - udp: { from: n1/a, to: 10.244.1.255, port: 9001, count: 2, rate: 20, requestSize: 8, responseSize: 16, broadcast: true, start: 300ms }
  - udp: { from: n3/c, to: 255.255.255.255, port: 9002, count: 1, requestSize: 8, responseSize: 0, broadcast: true, start: 600ms }
  - ping: { from: n2, to: 192.168.49.255, count: 2, interval: 100ms, broadcast: true, timeout: 200ms, start: 800ms }
capture: all
`;
