/**
 * Docker's rules for its default bridge and published ports, against the
 * iptables-save of a Docker 24-27 host publishing `-p 8080:80/udp` (the rules
 * docker-publish.yaml carried by hand before Docker's generator existed).
 */
import { describe, expect, test } from 'vitest';
import { dockerIptables, dockerProxyName } from '../../models/docker/docker-iptables.js';
import { IptablesRuleset } from '../../models/netfilter/iptables/ruleset.js';

const HOST_RULES = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p udp -m udp --dport 80 -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
-A DOCKER ! -i docker0 -p udp -m udp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A FORWARD -i docker0 -o docker0 -j ACCEPT
-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p udp -m udp --dport 80 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
-A DOCKER-USER -j RETURN
COMMIT
`;

const net = { bridge: 'docker0', subnet: '172.17.0.0/16' };

describe('Docker bridge network rules', () => {
  test('-p 8080:80/udp gives what iptables-save shows on a Docker host', () => {
    expect(dockerIptables(net, [{ containerIP: '172.17.0.2', containerPort: 80, hostPort: 8080, protocol: 'udp' }])).toBe(HOST_RULES);
  });

  test('several ports keep their order; a host address narrows the DNAT', () => {
    const text = dockerIptables(net, [
      { containerIP: '172.17.0.2', containerPort: 80, hostPort: 8080, protocol: 'tcp' },
      { containerIP: '172.17.0.3', containerPort: 53, hostPort: 5353, protocol: 'udp', hostIP: '192.168.1.10' },
    ]);
    expect(text).toContain(
      '-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80\n-A DOCKER -d 192.168.1.10/32 ! -i docker0 -p udp -m udp --dport 5353 -j DNAT --to-destination 172.17.0.3:53\n',
    );
    expect(text).toContain('-A DOCKER -d 172.17.0.3/32 ! -i docker0 -o docker0 -p udp -m udp --dport 53 -j ACCEPT\n');
    const rs = new IptablesRuleset({});
    rs.restore(text, 'docker');
    expect(rs.save()).toContain(':FORWARD DROP [0:0]');
  });

  test('docker-proxy is named as ps shows it', () => {
    expect(dockerProxyName({ containerIP: '172.17.0.2', containerPort: 80, hostPort: 8080, protocol: 'udp' })).toBe(
      'docker-proxy -proto udp -host-ip 0.0.0.0 -host-port 8080 -container-ip 172.17.0.2 -container-port 80',
    );
  });
});
