#!/usr/bin/env bash
# partial-loss.sh: how much of a real program's run a kill -9 of giltrace
# loses: records each program, kills giltrace WAIT seconds later, and reads
# the partial trace it left (docs/cpython.md, "The partial trace"). Needs
# root (uprobes).
#
#   scripts/partial-loss.sh WAIT ROUNDS [PROGRAM.py ...]     (default: scripts/partialloss/joined.py)
#   FLAGS=--lock-holds scripts/partial-loss.sh 0.9 1 fixtures/python/*.py scripts/whatif/*.py
#   GILTRACE=/path/to/another/giltrace scripts/partial-loss.sh 3 5
#
# Round r of ROUNDS waits WAIT + 0.25 s x (r-1)/ROUNDS: the trace is written
# every 0.25 s, and the loss depends on where the kill falls between two
# writes (0.28-0.53 s for the same program), so the rounds spread the kills
# over one interval.
#
# A line per run: "PROGRAM: ran T before the kill, the partial trace covers
# C (N events), lost T-C", or "(finished)" if the program ended first.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,18p' "$0" >&2; exit 2; }
WAIT=$1 ROUNDS=$2
shift 2
cd "$(dirname "$0")/.."
PY=${PY:-/root/.pyenv/versions/3.11.7/bin/python3.11}
progs=("$@")
[ ${#progs[@]} -gt 0 ] || progs=(scripts/partialloss/joined.py)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "${GILTRACE:-}" ]; then
	go build -o "$tmp/giltrace" ./cmd/giltrace
	GILTRACE=$tmp/giltrace
fi
go build -o "$tmp/partialloss" ./scripts/partialloss
for r in $(seq 1 "$ROUNDS"); do
	for p in "${progs[@]}"; do
		out=$tmp/out
		rm -rf "$out"
		# Each program from its own directory, as the examples expect.
		(cd "$(dirname "$p")" && exec "$GILTRACE" record ${FLAGS:-} -o "$out" --formats none -- "$PY" "$(basename "$p")") >"$tmp/log" 2>&1 &
		g=$!
		sleep "$(awk -v w="$WAIT" -v r="$r" -v n="$ROUNDS" 'BEGIN { printf "%.3f", w + 0.25 * (r - 1) / n }')"
		kill=$(date +%s%N)
		kill -9 "$g" 2>/dev/null || true
		wait "$g" 2>/dev/null || true
		# giltrace's SIGKILL leaves the program running: end it too.
		pkill -9 -f -- "$PY $(basename "$p")" 2>/dev/null || true
		if [ -f "$out/run.giltrace.partial" ]; then
			echo "$p: $("$tmp/partialloss" "$out/run.giltrace.partial" "$kill")"
		else
			echo "$p: (finished)"
		fi
	done
done
# The killed runs' uprobe definitions (disarmed as each died) are removed
# by the next record: one of an empty program.
"$GILTRACE" record --formats none -o "$tmp/clean" -- "$PY" -c pass >/dev/null 2>&1 || true
