#!/usr/bin/env bash
# Side-by-side benchmark: ns-3 3.37 (Debian libns3-dev) against podwire on the
# same two workloads (bridged LAN, routed cluster), on this machine, one after
# the other, single thread each. Prints a table of frame-hops/s and peak RSS and
# writes it to bench/results/ns3-compare.json. See README.md beside this file.
#
#   bench/peers/ns3/run.sh             # both topologies at two sizes, best of 3
#   bench/peers/ns3/run.sh --quick     # the small size of each, one repetition
#   bench/peers/ns3/run.sh --reps 5    # best of 5
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
build="$here/build"
reps=3
quick=0
long=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; reps=1 ;;
    --reps) reps="${2:?--reps needs a number}"; shift ;;
    --long) long=1 ;;
    *) echo "usage: $0 [--quick] [--reps N] [--long]" >&2; exit 2 ;;
  esac
  shift
done

# --- ns-3 ------------------------------------------------------------------
have_ns3() { [ -f /usr/include/ns3/bridge-module.h ] && ls /usr/lib/*/libns3-core.so >/dev/null 2>&1; }
if ! have_ns3; then
  echo "libns3-dev is not installed; installing it with apt-get"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      echo "SKIPPED: libns3-dev is missing and installing it needs root (no passwordless sudo)"; exit 0
    fi
  fi
  if ! command -v apt-get >/dev/null; then echo "SKIPPED: libns3-dev is missing and there is no apt-get"; exit 0; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y libns3-dev >/dev/null 2>&1 || { $sudo apt-get update -qq && $sudo apt-get install -y libns3-dev >/dev/null; } ||
    { echo "SKIPPED: apt-get could not install libns3-dev"; exit 0; }
  have_ns3 || { echo "SKIPPED: libns3-dev installed but its headers or libraries are not where expected"; exit 0; }
fi
ns3_version="$(dpkg-query -W -f='${Version}' libns3-dev 2>/dev/null || echo unknown)"
# The programs use the 3.37 API (V4Ping became Ping in 3.39).
case "$ns3_version" in 3.37*) ;; *) echo "WARNING: libns3-dev is $ns3_version; these programs are written for 3.37" ;; esac

# Debian's ns3-*.pc files carry a broken Cflags ("-I/usr;"), so the flags are
# spelled out: headers in /usr/include/ns3, one library per module, named
# libns3-<module>.so (not the upstream libns3.37-<module>-default.so).
CXX="${CXX:-g++}"
CXXFLAGS="${CXXFLAGS:--O2}"
NS3_LIBS="-lns3-bridge -lns3-csma -lns3-internet-apps -lns3-internet -lns3-network -lns3-core"
mkdir -p "$build"
for prog in bridged-lan routed-cluster; do
  bin="$build/$prog"
  stale=0
  [ -x "$bin" ] || stale=1
  for src in "$here/$prog.cc" "$here"/*.h; do [ "$src" -nt "$bin" ] && stale=1; done
  if [ "$stale" = 1 ]; then
    echo "compiling $prog ($CXX -std=c++17 $CXXFLAGS)"
    $CXX -std=c++17 $CXXFLAGS -I/usr/include -o "$bin" "$here/$prog.cc" $NS3_LIBS
  fi
done

# --- podwire -----------------------------------------------------------------
echo "building podwire (npm run build)"
if ! (cd "$root" && npm run build --silent); then
  # tsc still writes output when another folder has type errors (bench/README.md).
  if [ -f "$root/dist/scenarios/build.js" ]; then echo "WARNING: npm run build reported errors; using the dist/ it wrote"
  else echo "npm run build failed and there is no dist/" >&2; exit 1; fi
fi

# --- runs ----------------------------------------------------------------------
runs="$(mktemp "${TMPDIR:-/tmp}/ns3-compare-runs.XXXXXX")"
checks="$(mktemp "${TMPDIR:-/tmp}/ns3-compare-checks.XXXXXX")"
trap 'rm -f "$runs" "$checks"' EXIT
ns3() { "$build/$1" "${@:2}"; }
pw() { node "$here/podwire-side.mjs" "$@"; }

# Small workloads: the frame-hop counts side by side, and each process's RSS
# with almost nothing built (the baseline the per-pod memory is measured from).
for l in csma simple; do
  ns3 bridged-lan --hosts=3 --count=1 --link=$l
  ns3 routed-cluster --nodes=3 --podsPerNode=2 --count=1 --link=$l
done >>"$checks"
{ pw --topology bridged-lan --hosts 3 --count 1; pw --topology routed-cluster --nodes 3 --podsPerNode 2 --count 1; } >>"$checks"

if [ "$quick" = 1 ]; then lan_sizes="100"; cluster_sizes="10"; else lan_sizes="100 1000"; cluster_sizes="10 100"; fi
# --long: the same traffic for ten times as long (100 pings per pod, 10.1 s
# simulated), large sizes only: a run long enough that podwire's start-up (JIT
# compilation) no longer weighs on its rate. Written to a file of its own.
ns3_len=()
pw_len=()
result="$root/bench/results/ns3-compare.json"
if [ "$long" = 1 ]; then
  lan_sizes="1000"; cluster_sizes="100"
  ns3_len=(--count=100 --duration=10100ms)
  pw_len=(--count 100 --duration 10100ms)
  result="$root/bench/results/ns3-compare-long.json"
fi
# One run: its JSON line goes to $runs, a progress line to the terminal.
timed() {
  local label="$1" out
  shift
  out="$("$@")"
  echo "$out" >>"$runs"
  printf '  %-54s run %8ss  frameHops %s\n' "$label" \
    "$(sed -n 's/.*"wallSeconds":\([0-9.]*\).*/\1/p' <<<"$out" | cut -c1-7)" \
    "$(sed -n 's/.*"frameHops":\([0-9]*\).*/\1/p' <<<"$out")"
}
echo "timed runs (ns-3 $ns3_version, best of $reps$([ "$long" = 1 ] && echo ', long: 100 pings per pod, 10.1 s simulated')):"
for i in $(seq "$reps"); do
  for h in $lan_sizes; do
    for l in csma simple; do timed "ns-3 $l bridged-lan H=$h" ns3 bridged-lan --hosts="$h" --link=$l "${ns3_len[@]}"; done
    timed "podwire bridged-lan H=$h" pw --topology bridged-lan --hosts "$h" "${pw_len[@]}"
    timed "podwire bridged-lan H=$h (after 2 warm-ups)" pw --topology bridged-lan --hosts "$h" --warmup 2 "${pw_len[@]}"
  done
  for k in $cluster_sizes; do
    for l in csma simple; do timed "ns-3 $l routed-cluster ${k}x30" ns3 routed-cluster --nodes="$k" --podsPerNode=30 --link=$l "${ns3_len[@]}"; done
    timed "podwire routed-cluster ${k}x30" pw --topology routed-cluster --nodes "$k" --podsPerNode 30 "${pw_len[@]}"
    timed "podwire routed-cluster ${k}x30 (after 2 warm-ups)" pw --topology routed-cluster --nodes "$k" --podsPerNode 30 --warmup 2 "${pw_len[@]}"
  done
done

echo
export NS3_PACKAGE_VERSION="$ns3_version"
PODWIRE_COMMIT="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
git -C "$root" diff --quiet HEAD -- 2>/dev/null || PODWIRE_COMMIT="$PODWIRE_COMMIT+uncommitted changes"
export PODWIRE_COMMIT
node "$here/report.mjs" "$runs" "$checks" "$result"
