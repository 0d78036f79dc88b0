#!/bin/sh
# recorder-cpu-trace.sh: the recorder's own CPU time while the program ran,
# as each trace states it (report --json: machine.recorder_cpu_ns, from the
# program's start to its exit: the interpreter's lookup before it and the
# work after it left out), for one or more giltrace binaries run
# alternately, ROUNDS runs each. Needs root.
#
#   scripts/recorder-cpu-trace.sh ROUNDS "GILTRACE..." PYTHON SCRIPT [ARGS...]
#
# Prints, per binary, its runs' figures in ms, sorted, and their median.
set -eu
ROUNDS=$1 BINS=$2
shift 2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for r in $(seq 1 "$ROUNDS"); do
	i=0
	for b in $BINS; do
		i=$((i + 1))
		rm -rf "$out/run"
		"$b" record --formats none -o "$out/run" -- "$@" >/dev/null 2>&1
		ms=$("$b" report --json "$out/run" 2>/dev/null | python3 -c 'import json, sys; print(round((json.load(sys.stdin).get("machine") or {}).get("recorder_cpu_ns", 0) / 1e6))')
		echo "$i $ms" >>"$out/all"
	done
done
i=0
for b in $BINS; do
	i=$((i + 1))
	awk -v i="$i" '$1 == i { print $2 }' "$out/all" | sort -n | awk -v b="$b" '{ v[NR] = $1; s = s " " $1 } END { printf "%s:%s (median %s ms)\n", b, s, v[int((NR + 1) / 2)] }'
done
