#!/usr/bin/env bash
# Re-captures the "throwaway netns" frames of fixtures.ts (needs root, tcpdump,
# tshark, python3). Ports, sequence numbers, IP idents and timestamps differ
# per run; the structure does not. Prints each frame as hex.
#
#   wirefx-a (10.244.1.2) -- wirefx-r (10.244.1.1 | 10.244.2.1, MTU 1280) -- wirefx-b (10.244.2.3)
set -euo pipefail
A=wirefx-a; R=wirefx-r; B=wirefx-b
OUT=$(mktemp -d)
cleanup() { for n in $A $R $B; do ip netns del $n 2>/dev/null || true; done; rm -rf "$OUT"; }
trap cleanup EXIT

for n in $A $R $B; do ip netns add $n; ip -n $n link set lo up; done
ip link add wfx0 netns $A type veth peer name wfx1 netns $R
ip link add wfx2 netns $R type veth peer name wfx3 netns $B
ip -n $A link set wfx0 name eth0 address 0a:58:0a:f4:01:02 up
ip -n $R link set wfx1 name eth0 address 0a:58:0a:f4:01:01 up
ip -n $R link set wfx2 name eth1 address 0a:58:0a:f4:02:01 mtu 1280 up
ip -n $B link set wfx3 name eth0 address 0a:58:0a:f4:02:03 mtu 1280 up
ip -n $A addr add 10.244.1.2/24 dev eth0
ip -n $R addr add 10.244.1.1/24 dev eth0
ip -n $R addr add 10.244.2.1/24 dev eth1
ip -n $B addr add 10.244.2.3/24 dev eth0
ip -n $A route add default via 10.244.1.1
ip -n $B route add default via 10.244.2.1
ip netns exec $R sysctl -qw net.ipv4.ip_forward=1

# TX checksum offload off on the sender (ethtool -K eth0 tx off, without ethtool:
# SIOCETHTOOL / ETHTOOL_STXCSUM), so TCP/UDP checksums on the wire are complete.
ip netns exec $A python3 - <<'PY'
import array, fcntl, socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
val = array.array('B', struct.pack('II', 0x17, 0))
fcntl.ioctl(s, 0x8946, struct.pack('16sP', b'eth0', val.buffer_info()[0]))
PY

ip netns exec $A tcpdump -i eth0 -U -w "$OUT/a.pcap" 'ip' 2>/dev/null &
TD=$!
# lo keeps checksum offload: its TCP checksum is the CHECKSUM_PARTIAL value.
ip netns exec $A tcpdump -i lo -U -w "$OUT/lo.pcap" 'tcp' 2>/dev/null &
TDLO=$!
sleep 1.5
ip netns exec $A python3 - <<'PY'
import socket, time
def udp(port, payload, ttl=64, df=False):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    if df:
        s.setsockopt(socket.IPPROTO_IP, 10, 2)  # IP_MTU_DISCOVER = IP_PMTUDISC_DO
    s.sendto(payload, ('10.244.2.3', port))
    time.sleep(0.3)
udp(9000, b'wire-port-unreach')                           # -> ICMP port unreachable from B
udp(9000, b'wire-ttl-exceeded', ttl=1)                    # -> ICMP time exceeded from R
udp(9000, bytes(range(256)) * 5 + b'x' * 72, df=True)    # -> ICMP frag needed, MTU 1280, from R
t = socket.socket()
try:
    t.connect(('10.244.1.1', 9))                          # SYN (MSS 1460), answered by RST|ACK
except OSError:
    pass
t = socket.socket()
try:
    t.connect(('127.0.0.1', 9))                           # loopback SYN
except OSError:
    pass
time.sleep(0.3)
PY
sleep 0.5
kill "$TD" "$TDLO"; wait "$TD" "$TDLO" || true
for f in a lo; do
  tshark -r "$OUT/$f.pcap" -T fields -e frame.number -e _ws.col.Info 2>/dev/null
  tshark -r "$OUT/$f.pcap" -x 2>/dev/null
done
