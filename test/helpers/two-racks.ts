/**
 * Three nodes of one pod each in two racks behind a router (`underlay.segments`):
 * n1 and n2 in rack1 (192.168.10.0/24), n3 in rack2 (192.168.20.0/24). A
 * scenario's text with `head` (name, duration, routing...) before the
 * topology and `traffic` (its traffic:, servers: and capture: lines) after.
 */
export function twoRacks(head: string, traffic: string): string {
  return `${head.trim()}
underlay:
  segments:
    - { name: rack1, cidr: 192.168.10.0/24, nodes: [n1, n2] }
    - { name: rack2, cidr: 192.168.20.0/24, nodes: [n3] }
nodes:
  - { name: n1, pods: [{ name: p1 }] }
  - { name: n2, pods: [{ name: p1 }] }
  - { name: n3, pods: [{ name: p1 }] }
${traffic.trim()}
`;
}
