#!/usr/bin/env bash
# Two or more builds of giltrace side by side on record's work after the
# run: each round records FILE's workload (the big.yaml of
# scripts/postrun.sh: 16 threads x 20 000 x [1 us network I/O, 200
# loops], virtual time, 1.92 M events) once with each binary, in turn, and
# the medians (and ranges) of record --timings' figures are printed per
# binary: after the run, its CPU, deriving the spans, the outputs, in ms
# (docs/performance.md, "Post-run time, ninth pass").
#
#   scripts/record-alternate.sh ROUNDS BIN [BIN...]
#   CLOCK=real scripts/record-alternate.sh ROUNDS BIN [BIN...]
#     the same workload in real time (about 6 s a record, 2 M events;
#     "Post-run time, tenth pass")
set -euo pipefail
rounds=${1:?rounds}
shift
[ $# -ge 1 ] || { echo "usage: $0 ROUNDS BIN [BIN...]" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cp "$(dirname "$0")/postrun-big.yaml" "$out/big.yaml"
if [ -n "${CLOCK:-}" ]; then
	sed -i "s/^clock: .*/clock: $CLOCK/" "$out/big.yaml"
	grep -q "^clock: $CLOCK\$" "$out/big.yaml" || { echo "scripts/postrun-big.yaml has no top-level clock: line for CLOCK=$CLOCK to set" >&2; exit 1; }
fi
for _ in $(seq "$rounds"); do
	for b in "$@"; do
		rm -rf "$out/run"
		"$b" record "$out/big.yaml" -o "$out/run" --timings 2>&1 >/dev/null |
			sed -n "s|^giltrace: timings:.*after the run \([0-9]*\) ms (CPU \([0-9]*\) ms).*deriving the spans \([0-9]*\) ms).*outputs \([0-9]*\) ms.*|$b \1 \2 \3 \4|p"
	done
done | python3 -c '
import sys, statistics as st
d = {}
for line in sys.stdin:
    f = line.split()
    d.setdefault(f[0], []).append([int(x) for x in f[1:]])
for k, v in d.items():
    cols = list(zip(*v))
    print(k, "  ".join("%s median %d (%d-%d)" % (n, st.median(c), min(c), max(c)) for n, c in zip(["after the run", "CPU", "deriving", "outputs"], cols)))
'
