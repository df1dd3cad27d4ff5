#!/bin/sh
# The ablation table's raw runs (docs/perf/issue16-ablation.md): hot-path.ts once per
# SWAPSTATE_ABLATE setting, round-robin, ROUNDS times, so that load from elsewhere spreads
# over all of them alike. `sh test/bench/ablate.sh [ROUNDS] > out.txt`
cd "$(dirname "$0")/../.." || exit 1
ROUNDS=${1:-2}
SETS="none accesslog inflight activity metrics scheduler proxy extract bytes accesslog,inflight,activity,metrics,scheduler,proxy,extract,bytes"
r=0
while [ "$r" -lt "$ROUNDS" ]; do
  for s in $SETS; do
    v=$s; [ "$s" = none ] && v=
    echo "== round $r ablate=$s load=$(cut -d' ' -f1 /proc/loadavg)"
    SWAPSTATE_ABLATE=$v npx tsx test/bench/hot-path.ts --seconds 3 2>&1 | grep -E '^(1 conn|run)'
  done
  r=$((r + 1))
done
