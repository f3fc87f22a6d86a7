#!/usr/bin/env bash
# Re-captures what real iptables (legacy backend, v1.8.9 here) prints back for
# each fixtures/NAME.rules: NAME.save.txt is `iptables-save -c` without its
# "#" date lines, NAME.list.txt is `iptables -t T -L -v -n -x` for every table
# the save shows, in the same order. Needs root and iptables-legacy; each
# file is loaded into a throwaway network namespace.
set -euo pipefail
cd "$(dirname "$0")/fixtures"
NS=pwipt-fx-$$
cleanup() { ip netns del "$NS" 2>/dev/null || true; }
trap cleanup EXIT
for rules in *.rules; do
  name=${rules%.rules}
  ip netns add "$NS"
  ip netns exec "$NS" iptables-legacy-restore < "$rules"
  ip netns exec "$NS" iptables-legacy-save -c | grep -v '^#' > "$name.save.txt"
  : > "$name.list.txt"
  for t in $(sed -n 's/^\*//p' "$name.save.txt"); do
    ip netns exec "$NS" iptables-legacy -t "$t" -L -v -n -x >> "$name.list.txt"
  done
  ip netns del "$NS"
  echo "captured $name"
done
