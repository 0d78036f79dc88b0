#!/bin/sh
# cpython-overhead.sh: overhead of tracing real CPython programs with
# source/cpython (uprobes through tracefs), traced vs untraced, runs
# interleaved so that machine noise hits both alike. Needs root.
#
#   scripts/cpython-overhead.sh [PYTHON] [ROUNDS]
#   WORKLOADS="pool_20k" scripts/cpython-overhead.sh ...   (a subset)
#   RECORD_FLAGS=--lock-holds=false scripts/cpython-overhead.sh ...   (record flags)
#
# Per workload (scripts/overhead/*.py), medians of ROUNDS runs:
#   program    the program's own wall time (measured inside it), untraced
#              and traced, and the overhead: what tracing costs the program;
#   end-to-end the whole `giltrace record --formats none` command traced,
#              including the report, the prediction and the
#              recorder's start (interpreter lookup, DWARF, probe
#              definitions) and stop (unregistering the uprobes, draining);
#   events     events recorded, and the program's extra time per event.
set -eu
PY=${1:-/root/.pyenv/versions/3.11.7/bin/python3}
ROUNDS=${2:-7}
cd "$(dirname "$0")/.."
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
go build -o "$TMP/giltrace" ./cmd/giltrace
now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "python: $PY ($($PY -V 2>&1)), $(nproc) cores, $ROUNDS rounds, kernel $(uname -r)"
printf '%-14s %10s %10s %9s %11s %8s %9s\n' workload untraced traced overhead end-to-end events ns/event
for w in ${WORKLOADS:-cpu_threads convoy_like pool_blocking pool_20k blocking_calls}; do
	rm -f "$TMP"/u "$TMP"/t "$TMP"/e2e "$TMP"/ev
	for _ in $(seq "$ROUNDS"); do
		TIMED_OUT="$TMP/u" "$PY" scripts/overhead/timed.py "scripts/overhead/$w.py"
		s=$(now)
		TIMED_OUT="$TMP/t" "$TMP/giltrace" record ${RECORD_FLAGS:-} --quiet -o "$TMP/run" --formats none -- "$PY" scripts/overhead/timed.py "scripts/overhead/$w.py" >/dev/null
		echo $(($(now) - s)) >>"$TMP/e2e"
		"$TMP/giltrace" report --json "$TMP/run/run.giltrace" | grep -o '"events": *[0-9]*' | head -1 | grep -o '[0-9]*$' >>"$TMP/ev"
	done
	u=$(median <"$TMP/u") t=$(median <"$TMP/t") x=$(median <"$TMP/e2e") e=$(median <"$TMP/ev")
	awk -v w="$w" -v u="$u" -v t="$t" -v x="$x" -v e="$e" 'BEGIN {
		printf "%-14s %8.0fms %8.0fms %8.1f%% %9.0fms %8d %9.0f\n", w, u/1e6, t/1e6, 100*(t-u)/u, x/1e6, e, (e > 0 ? (t-u)/e : 0) }'
done
