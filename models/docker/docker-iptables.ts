/**
 * The iptables rules Docker (24-27, libnetwork's bridge driver with
 * iptables=true) writes for its default bridge network and the ports its
 * containers publish (`docker run -p [ip:]hostPort:containerPort[/proto]`),
 * as `iptables-save` shows them on a host:
 *
 *   nat:    PREROUTING/OUTPUT jump to DOCKER for local destinations (OUTPUT not
 *           for 127.0.0.0/8: with the userland proxy, loopback goes to
 *           docker-proxy), MASQUERADE of the network's subnet leaving by another
 *           interface, a hairpin MASQUERADE per published port, and in DOCKER a
 *           RETURN for the bridge then one DNAT per published port;
 *   filter: FORWARD policy DROP; DOCKER-USER, the two isolation stages, the
 *           established/related ACCEPT, the jump to DOCKER, ACCEPT out of the
 *           bridge, and in DOCKER one ACCEPT per published port.
 *
 * In CNM's terms: the network is `bridge` (docker0), each container's sandbox
 * is its network namespace and its endpoint the veth on docker0.
 */
export interface DockerNetwork {
  /** The bridge device, docker0. */
  bridge: string;
  /** The network's subnet, e.g. 172.17.0.0/16. */
  subnet: string;
}

export interface PublishedPort {
  /** The container's address on the network (its endpoint). */
  containerIP: string;
  containerPort: number;
  hostPort: number;
  protocol: 'tcp' | 'udp';
  /** -p ip:hostPort:containerPort; absent: every address (0.0.0.0). */
  hostIP?: string;
}

export function dockerIptables(net: DockerNetwork, ports: readonly PublishedPort[]): string {
  const br = net.bridge;
  const hairpin = ports.map((p) => `-A POSTROUTING -s ${p.containerIP}/32 -d ${p.containerIP}/32 -p ${p.protocol} -m ${p.protocol} --dport ${p.containerPort} -j MASQUERADE`);
  const dnat = ports.map((p) => {
    const dst = p.hostIP !== undefined && p.hostIP !== '0.0.0.0' ? `-d ${p.hostIP}/32 ` : '';
    return `-A DOCKER ${dst}! -i ${br} -p ${p.protocol} -m ${p.protocol} --dport ${p.hostPort} -j DNAT --to-destination ${p.containerIP}:${p.containerPort}`;
  });
  const accept = ports.map((p) => `-A DOCKER -d ${p.containerIP}/32 ! -i ${br} -o ${br} -p ${p.protocol} -m ${p.protocol} --dport ${p.containerPort} -j ACCEPT`);
  return [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ':DOCKER - [0:0]',
    '-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER',
    '-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER',
    `-A POSTROUTING -s ${net.subnet} ! -o ${br} -j MASQUERADE`,
    ...hairpin,
    `-A DOCKER -i ${br} -j RETURN`,
    ...dnat,
    'COMMIT',
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD DROP [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':DOCKER - [0:0]',
    ':DOCKER-ISOLATION-STAGE-1 - [0:0]',
    ':DOCKER-ISOLATION-STAGE-2 - [0:0]',
    ':DOCKER-USER - [0:0]',
    '-A FORWARD -j DOCKER-USER',
    '-A FORWARD -j DOCKER-ISOLATION-STAGE-1',
    `-A FORWARD -o ${br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    `-A FORWARD -o ${br} -j DOCKER`,
    `-A FORWARD -i ${br} ! -o ${br} -j ACCEPT`,
    `-A FORWARD -i ${br} -o ${br} -j ACCEPT`,
    ...accept,
    `-A DOCKER-ISOLATION-STAGE-1 -i ${br} ! -o ${br} -j DOCKER-ISOLATION-STAGE-2`,
    '-A DOCKER-ISOLATION-STAGE-1 -j RETURN',
    `-A DOCKER-ISOLATION-STAGE-2 -o ${br} -j DROP`,
    '-A DOCKER-ISOLATION-STAGE-2 -j RETURN',
    '-A DOCKER-USER -j RETURN',
    'COMMIT',
    '',
  ].join('\n');
}

/** docker-proxy's command line for a published port (what `ps` shows on a Docker host). */
export function dockerProxyName(p: PublishedPort): string {
  return `docker-proxy -proto ${p.protocol} -host-ip ${p.hostIP ?? '0.0.0.0'} -host-port ${p.hostPort} -container-ip ${p.containerIP} -container-port ${p.containerPort}`;
}
