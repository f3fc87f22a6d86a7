#!/usr/bin/env bash
# Measures what netfilter work costs on this machine's kernel, for podwire's
# NetfilterCosts (models/netfilter/netfilter.ts): ruleNs, conntrackNs,
# natSetupNs. Needs root; works only in network namespaces it creates
# (pwcal-<pid>-*), never in the root namespace, and deletes them on any exit.
# Prints one JSON document on stdout (progress goes to stderr). See README.md.
#
#   bench/calibrate/run.sh                 # 3 repetitions (about 1 minute here)
#   bench/calibrate/run.sh --reps 5        # more repetitions, tighter spread
#   bench/calibrate/run.sh --quick         # 1 repetition, fewer samples
#   bench/calibrate/run.sh > measured.json
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
reps=3
count=2000       # timed exchanges per probe run on one established flow
alt_count=1500   # timed pairs per alt run (established + first packet)
warmup=200
deadline=140     # seconds: no new repetition starts after this
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) reps="${2:?--reps needs a number}"; shift ;;
    --quick) reps=1; count=1000; alt_count=800; warmup=100 ;;
    *) echo "usage: $0 [--reps N] [--quick]" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "calibrate: $*" >&2; }
skip() { echo "SKIPPED: $*" >&2; exit 0; }

[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, iptables)"
for tool in gcc ip node awk shuf timeout iptables-nft-restore; do
  command -v "$tool" >/dev/null || skip "$tool is not installed"
done

prefix="pwcal-$$"
work="$(mktemp -d "/tmp/$prefix.XXXXXX")"
created=()
cleanup() {
  local ns
  for ns in "${created[@]+"${created[@]}"}"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

cpu=$(( $(nproc) - 1 ))   # probes and their softirqs stay on this CPU
gcc -O2 -Wall -Wextra -o "$work/probe" "$here/probe.c"
raw="$work/raw.jsonl"

# --- namespaces -------------------------------------------------------------
# A pair NAME: NAME-c (10.0.0.1) and NAME-s (10.0.0.2) joined by a veth pair,
# with permanent neighbour entries (no ARP during a run) and IPv6 off (no
# router solicitations or MLD reports on the link).
make_pair() {
  local c="$prefix-$1-c" s="$prefix-$1-s"
  ip netns add "$c"; created+=("$c")
  ip netns add "$s"; created+=("$s")
  ip -n "$c" link add eth0 type veth peer name eth0 netns "$s"
  local ns addr
  for ns in "$c" "$s"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link set lo up
  done
  # No UDP conntrack entry expires during a run (this namespace's sysctl only),
  # so the entry count a probe run leaves behind counts exactly what it created.
  ip netns exec "$s" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=600 net.netfilter.nf_conntrack_udp_timeout_stream=600
  ip -n "$c" addr add 10.0.0.1/24 dev eth0
  ip -n "$s" addr add 10.0.0.2/24 dev eth0
  ip -n "$c" link set eth0 up
  ip -n "$s" link set eth0 up
  # Service VIPs live behind the server (its nat PREROUTING rewrites them).
  ip -n "$c" route add 10.96.0.0/12 via 10.0.0.2
  ip -n "$c" neigh replace 10.0.0.2 lladdr "$(ip -n "$s" -br link show eth0 | awk '{print $3}')" dev eth0 nud permanent
  ip -n "$s" neigh replace 10.0.0.1 lladdr "$(ip -n "$c" -br link show eth0 | awk '{print $3}')" dev eth0 nud permanent
}

# restore PAIR BACKEND FILE: iptables-BACKEND-restore in the pair's server
# namespace. The replaced table is freed afterwards (RCU callbacks, nf_tables'
# destroy work), on any CPU: the pause keeps that work out of the next probe.
restore() {
  timeout 60 ip netns exec "$prefix-$1-s" "iptables-$2-restore" -w 10 < "$3"
  sleep 0.2
}

# Conntrack entries in the pair's server namespace (the count is per namespace).
ct_count() { ip netns exec "$prefix-$1-s" cat /proc/sys/net/netfilter/nf_conntrack_count; }

# probe PAIR MODE DST PORT_BASE N LABEL-JSON: one probe run, appended to
# raw.jsonl with its label and the conntrack entries it created, which says
# whether each request of a new-mode run really was a first packet.
probe() {
  local out before
  before=$(ct_count "$1")
  out=$(timeout 60 "$work/probe" -c "/run/netns/$prefix-$1-c" -s "/run/netns/$prefix-$1-s" \
    -d "$3" -b 10.0.0.2:5353 -m "$2" -n "$5" -w "$warmup" -p "$4" -C "$cpu")
  echo "{\"label\":$6,\"ctCreated\":$(( $(ct_count "$1") - before )),\"result\":$out}" >> "$raw"
}

# --- rulesets -----------------------------------------------------------------
# kube: the shape of kube-proxy's KUBE-SERVICES rules (one per service port);
#       the request (to 10.0.0.2) fails the first test, -d, as a packet to any
#       other service does.
# bare: the smallest rule there is, one address test and a verdict.
ns_list="0 1000 5000 10000 20000"
svc_list="0 5000 10000"
kube_rules() { # CHAIN N TARGET-TEMPLATE
  awk -v chain="$1" -v n="$2" -v target="$3" 'BEGIN {
    for (i = 0; i < n; i++) {
      a = sprintf("10.%d.%d.%d", 100 + int(i / 65536), int(i / 256) % 256, i % 256)
      t = target; gsub(/@/, sprintf("%d", i % 250 + 1), t)
      printf "-A %s -d %s/32 -p udp -m comment --comment \"ns%d/svc%d:dns cluster IP\" -m udp --dport 53 -j %s\n", chain, a, i, i, t
    }
  }'
}
bare_rules() { # CHAIN N
  awk -v chain="$1" -v n="$2" 'BEGIN {
    for (i = 0; i < n; i++) printf "-A %s -s 198.%d.%d.%d/32 -j DROP\n", chain, 18 + int(i / 65536), int(i / 256) % 256, i % 256
  }'
}
for n in $ns_list; do
  { echo '*filter'; echo ':INPUT ACCEPT [0:0]'; kube_rules INPUT "$n" DROP; echo COMMIT; } > "$work/rules-kube-$n"
  { echo '*filter'; echo ':INPUT ACCEPT [0:0]'; bare_rules INPUT "$n"; echo COMMIT; } > "$work/rules-bare-$n"
done
# Conntrack on or off with nothing else different: a chain no packet reaches,
# holding a rule whose match needs conntrack (nf_ct_netns_get at checkentry) or
# one that does not. Table replacement drops the old rule and with it conntrack.
ct_table() { # MATCH
  printf '*filter\n:INPUT ACCEPT [0:0]\n:PWCAL - [0:0]\n-A PWCAL %s -j DROP\nCOMMIT\n' "$1"
}
ct_table '-m mark --mark 0x1' > "$work/ct-off"
ct_table '-m conntrack --ctstate INVALID' > "$work/ct-on"
{ cat "$work/ct-on"
  printf '*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n'
  echo '-A PREROUTING -d 10.96.0.10/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.0.0.2:5353'
  echo COMMIT; } > "$work/nat"
# N services in a KUBE-SERVICES chain, the one the request is for last: its
# first packet walks all N in nat PREROUTING, later packets none.
for n in $svc_list; do
  { printf '*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n'
    echo '-A PREROUTING -j KUBE-SERVICES'
    kube_rules KUBE-SERVICES "$n" 'DNAT --to-destination 10.0.1.@:5353'
    echo '-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp --dport 53 -j DNAT --to-destination 10.0.0.2:5353'
    echo COMMIT; } > "$work/svc-$n"
done

# --- backends -----------------------------------------------------------------
backends="nft"
legacy_note="iptables-legacy is not installed"
if command -v iptables-legacy-restore >/dev/null; then
  make_pair probe-legacy
  if ip netns exec "$prefix-probe-legacy-s" iptables-legacy -w 10 -t filter -L -n >/dev/null 2>&1; then
    backends="nft legacy"; legacy_note="available"
  else
    legacy_note="iptables-legacy is installed but the kernel has no x_tables filter table"
  fi
fi
iptables_version="$(iptables --version 2>/dev/null || echo unknown)"
log "backends: $backends (legacy: $legacy_note); CPU $cpu; $reps repetition(s)"
echo "{\"label\":{\"exp\":\"machine\"},\"result\":{\"iptables\":\"$iptables_version\",\"legacy\":\"$legacy_note\",\"cpu\":$cpu,\"reps\":$reps,\"count\":$count,\"altCount\":$alt_count,\"warmup\":$warmup}}" >> "$raw"

# Every experiment gets pairs of its own, so one's conntrack entries or
# leftover tables (legacy tables stay registered once loaded) never reach another.
make_pair raw
for b in $backends; do
  for p in rules ct; do make_pair "$p-$b"; done
  restore "ct-$b" "$b" "$work/ct-off"
done

# The first-packet pairs are made afresh each repetition: deleting a namespace
# deletes its conntrack entries, so every repetition measures first packets
# against the same small table (at most a few thousand entries) instead of one
# that grows from repetition to repetition (it did: +30 % by the fifth).
fresh_flow_pairs() {
  local b p
  for b in $backends; do
    for p in flowct flownat svc; do
      ip netns del "$prefix-$p-$b-c" 2>/dev/null || true
      ip netns del "$prefix-$p-$b-s" 2>/dev/null || true
    done
  done
  sleep 0.5   # cleanup_net runs in a workqueue: let it finish before measuring
  for b in $backends; do
    for p in flowct flownat svc; do make_pair "$p-$b"; done
    restore "flowct-$b" "$b" "$work/ct-on"
    restore "flownat-$b" "$b" "$work/nat"
  done
  next_port=()
}

# Client ports for alt runs: each takes a block no earlier run in its pair
# used (its established flow's port, then one per fresh flow), so every fresh
# request really is a new conntrack entry.
declare -A next_port
take_ports() { # PAIR: sets port to the block's second port (probe -p)
  local start=${next_port[$1]:-10000}
  next_port[$1]=$(( start + alt_count + warmup + 1 ))
  port=$(( start + 1 ))
}

# --- measurements -----------------------------------------------------------------
# Repetitions are the outer loop and every order inside is shuffled, so slow
# drift on a shared machine spreads over all figures instead of biasing one.
# Established-flow runs use client port 9999 (probe -p 10000).
done_reps=0
for rep in $(seq 1 "$reps"); do
  if [ "$rep" -gt 1 ] && [ "$SECONDS" -gt "$deadline" ]; then log "deadline reached after $done_reps repetition(s)"; break; fi
  log "repetition $rep/$reps (t=${SECONDS}s)"
  fresh_flow_pairs
  for b in $(shuf -e $backends); do
    # Per-rule cost: N rules in the server's filter INPUT, one established flow.
    for n in $(shuf -e $ns_list); do
      for shape in $(shuf -e kube bare); do
        restore "rules-$b" "$b" "$work/rules-$shape-$n"
        probe "rules-$b" est 10.0.0.2:5353 10000 "$count" "{\"exp\":\"rules\",\"backend\":\"$b\",\"shape\":\"$shape\",\"n\":$n,\"rep\":$rep}"
      done
    done
    # Conntrack per packet: the same established flow with conntrack off and
    # on, in the order A B B A, so a drift that is linear in time cancels.
    order=$(shuf -n1 -e "off on on off" "on off off on")
    for state in $order; do
      restore "ct-$b" "$b" "$work/ct-$state"
      probe "ct-$b" est 10.0.0.2:5353 10000 "$count" "{\"exp\":\"conntrack\",\"backend\":\"$b\",\"state\":\"$state\",\"rep\":$rep}"
    done
    # First packets against established ones, with conntrack only and with DNAT.
    for pair in $(shuf -e flowct flownat); do
      dst=10.0.0.2:5353; [ "$pair" = flownat ] && dst=10.96.0.10:53
      take_ports "$pair-$b"
      probe "$pair-$b" alt "$dst" "$port" "$alt_count" "{\"exp\":\"$pair\",\"backend\":\"$b\",\"rep\":$rep}"
    done
    # First-packet latency with N kube-proxy services in nat PREROUTING.
    for n in $(shuf -e $svc_list); do
      restore "svc-$b" "$b" "$work/svc-$n"
      take_ports "svc-$b"
      probe "svc-$b" alt 10.96.0.10:53 "$port" "$alt_count" "{\"exp\":\"svc\",\"backend\":\"$b\",\"n\":$n,\"rep\":$rep}"
    done
  done
  # Control without any netfilter: what a fresh (cold) client socket costs by itself.
  take_ports raw
  probe raw alt 10.0.0.2:5353 "$port" "$alt_count" "{\"exp\":\"raw\",\"rep\":$rep}"
  done_reps=$rep
done
log "measured in ${SECONDS}s; fitting"
node "$here/report.mjs" "$raw"
