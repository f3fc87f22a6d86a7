/**
 * kube-proxy's userspace mode (pkg/proxy/userspace, removed in v1.26): the
 * iptables rules that send a Service's traffic to the proxy process, and the
 * proxy's table of ports (models/apps/userspace-proxy.ts does the proxying).
 *
 * For each service port, on its own proxy port:
 *   nat KUBE-PORTALS-CONTAINER (from PREROUTING): -d <clusterIP> --dport <port> -j REDIRECT --to-ports <proxy port>
 *   nat KUBE-PORTALS-HOST (from OUTPUT):          -d <clusterIP> --dport <port> -j DNAT --to-destination <node IP>:<proxy port>
 * and for a NodePort, on the node's local addresses:
 *   nat KUBE-NODEPORT-CONTAINER: --dport <nodePort> -j REDIRECT --to-ports <proxy port>
 *   nat KUBE-NODEPORT-HOST:      --dport <nodePort> -j DNAT --to-destination <node IP>:<proxy port>
 *   filter KUBE-NODEPORT-NON-LOCAL (from INPUT): --dport <proxy port> -j ACCEPT
 * as the Kubernetes debugging guide shows them ("Userspace mode", Debug Services).
 *
 * The proxy port was whatever the kernel gave a bind to port 0 (a random
 * ephemeral port); here it is drawn from the same range with the node's seeded
 * stream, so runs repeat.
 */
import type { KubeProxyInput, Service } from './service.js';

export interface UserspacePort {
  /** "namespace/name:port" (kube-proxy's ServicePortName). */
  name: string;
  protocol: 'TCP' | 'UDP';
  proxyPort: number;
  backends: { ip: string; port: number }[];
  affinity: 'None' | 'ClientIP';
}

export interface UserspaceConfig {
  /** iptables-restore text (nat and filter tables). */
  rules: string;
  ports: UserspacePort[];
}

const EPHEMERAL_LOW = 32768;
const EPHEMERAL_HIGH = 60999;

function servicePortName(svc: Service, portName: string): string {
  return `${svc.namespace}/${svc.name}${portName === '' ? '' : `:${portName}`}`;
}

/**
 * The rules and proxy ports of one node. `draw` returns numbers in [0, 1)
 * (the node's seeded stream) to choose free proxy ports.
 */
export function kubeProxyUserspace(input: KubeProxyInput, draw: () => number): UserspaceConfig {
  const nodeIP = input.node.nodeIPs[0];
  if (nodeIP === undefined) throw new Error('kube-proxy userspace: the node has no address');
  const used = new Set<number>();
  const pickPort = (): number => {
    const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
    let p = EPHEMERAL_LOW + Math.floor(draw() * span);
    while (used.has(p)) p = p === EPHEMERAL_HIGH ? EPHEMERAL_LOW : p + 1;
    used.add(p);
    return p;
  };
  const portals: string[] = [];
  const hostPortals: string[] = [];
  const nodePorts: string[] = [];
  const hostNodePorts: string[] = [];
  const nonLocal: string[] = [];
  const ports: UserspacePort[] = [];
  for (const svc of input.services) {
    if (svc.clusterIP === '' || svc.clusterIP === 'None') continue;
    for (const p of svc.ports) {
      if (p.protocol === 'SCTP') throw new Error(`kube-proxy userspace: ${svc.namespace}/${svc.name}: SCTP is not supported by the userspace proxier`);
      const name = servicePortName(svc, p.name);
      const proxyPort = pickPort();
      const proto = p.protocol.toLowerCase();
      const comment = `-m comment --comment "${name}"`;
      portals.push(`-A KUBE-PORTALS-CONTAINER -d ${svc.clusterIP}/32 -p ${proto} ${comment} -m ${proto} --dport ${p.port} -j REDIRECT --to-ports ${proxyPort}`);
      hostPortals.push(`-A KUBE-PORTALS-HOST -d ${svc.clusterIP}/32 -p ${proto} ${comment} -m ${proto} --dport ${p.port} -j DNAT --to-destination ${nodeIP}:${proxyPort}`);
      if (p.nodePort !== undefined && p.nodePort > 0) {
        nodePorts.push(`-A KUBE-NODEPORT-CONTAINER -p ${proto} ${comment} -m ${proto} --dport ${p.nodePort} -j REDIRECT --to-ports ${proxyPort}`);
        hostNodePorts.push(`-A KUBE-NODEPORT-HOST -p ${proto} ${comment} -m ${proto} --dport ${p.nodePort} -j DNAT --to-destination ${nodeIP}:${proxyPort}`);
        nonLocal.push(`-A KUBE-NODEPORT-NON-LOCAL -p ${proto} ${comment} -m ${proto} --dport ${proxyPort} -j ACCEPT`);
      }
      const backends = (svc.endpoints ?? [])
        .filter((e) => e.ready !== false)
        .map((e) => ({ ip: e.ip, port: e.ports?.[p.name] ?? p.targetPort ?? p.port }));
      ports.push({ name, protocol: p.protocol, proxyPort, backends, affinity: svc.sessionAffinity ?? 'None' });
    }
  }
  const clusterIPsFirst = '-m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules"';
  const nodePortsLast = '-m addrtype --dst-type LOCAL -m comment --comment "handle service NodePorts; NOTE: this must be the last rule in the chain"';
  const rules = [
    '*nat',
    ':KUBE-PORTALS-CONTAINER - [0:0]',
    ':KUBE-PORTALS-HOST - [0:0]',
    ':KUBE-NODEPORT-CONTAINER - [0:0]',
    ':KUBE-NODEPORT-HOST - [0:0]',
    `-A PREROUTING ${clusterIPsFirst} -j KUBE-PORTALS-CONTAINER`,
    `-A PREROUTING ${nodePortsLast} -j KUBE-NODEPORT-CONTAINER`,
    `-A OUTPUT ${clusterIPsFirst} -j KUBE-PORTALS-HOST`,
    `-A OUTPUT ${nodePortsLast} -j KUBE-NODEPORT-HOST`,
    ...portals,
    ...hostPortals,
    ...nodePorts,
    ...hostNodePorts,
    'COMMIT',
    '*filter',
    ':KUBE-NODEPORT-NON-LOCAL - [0:0]',
    '-A INPUT -m comment --comment "Ensure that non-local NodePort traffic can flow" -j KUBE-NODEPORT-NON-LOCAL',
    ...nonLocal,
    'COMMIT',
    '',
  ].join('\n');
  return { rules, ports };
}
