#!/bin/sh
# cpython-overhead.sh: wall-time overhead of tracing real CPython programs
# with source/cpython (uprobes through tracefs), traced vs untraced, runs
# interleaved so that machine noise hits both alike. Needs root.
#
#   scripts/cpython-overhead.sh [PYTHON] [ROUNDS]
#
# Prints per workload the median wall time untraced and traced, the
# overhead, the events recorded and the cost per event (the extra wall
# time divided by the events). The traced time includes the recorder's
# start (interpreter lookup, probe definition) and its drain at the end,
# as a user sees it.
set -eu
PY=${1:-/root/.pyenv/versions/3.11.7/bin/python3}
ROUNDS=${2:-7}
cd "$(dirname "$0")/.."
BIN=$(mktemp -d)/record
go build -o "$BIN" ./source/cpython/internal/record
OUT=$(mktemp -d)
now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "python: $PY ($($PY -V 2>&1)), $(nproc) cores, $ROUNDS rounds, kernel $(uname -r)"
printf '%-18s %10s %10s %9s %9s %12s\n' workload untraced traced overhead events ns/event
for w in cpu_threads convoy_like pool_blocking; do
	: >"$OUT/u" ; : >"$OUT/t"; : >"$OUT/e"
	for _ in $(seq "$ROUNDS"); do
		s=$(now); "$PY" "scripts/overhead/$w.py"; echo $(( $(now) - s )) >>"$OUT/u"
		s=$(now); "$BIN" -q -o "$OUT/run.giltrace" -- "$PY" "scripts/overhead/$w.py"; echo $(( $(now) - s )) >>"$OUT/t"
		go run ./cmd/giltrace report --json "$OUT/run.giltrace" 2>/dev/null | grep -o '"events": *[0-9]*' | head -1 | grep -o '[0-9]*$' >>"$OUT/e" || echo 0 >>"$OUT/e"
	done
	u=$(median <"$OUT/u"); t=$(median <"$OUT/t"); e=$(median <"$OUT/e")
	awk -v w="$w" -v u="$u" -v t="$t" -v e="$e" 'BEGIN {
		printf "%-18s %8.0fms %8.0fms %8.1f%% %9d %12.0f\n", w, u/1e6, t/1e6, 100*(t-u)/u, e, (e > 0 ? (t-u)/e : 0) }'
done
