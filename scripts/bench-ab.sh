#!/usr/bin/env bash
# bench-ab.sh: compare test binaries on the same benchmarks, in rounds
# that alternate the binaries, pinned to one CPU, and print each
# benchmark's median and range per binary (events/cpu-s where the
# benchmark reports it, else ns/op). On a machine whose speed moves from
# one minute to the next, alternating is what makes two builds
# comparable (docs/performance.md, "Virtual time").
#
# Usage: scripts/bench-ab.sh ROUNDS BENCHREGEX BENCHTIME TESTBIN...
# Build the binaries first, e.g. in vm/:
#   go test -c -pgo=off -o /tmp/vm.old.test .        (at the old commit)
#   go test -c -pgo=../cmd/giltrace/default.pgo -o /tmp/vm.new.test .
# then, from the package's directory (the benchmarks read its testdata):
#   ../scripts/bench-ab.sh 4 'BenchmarkVirtual$' 0.5s /tmp/vm.old.test /tmp/vm.new.test
set -euo pipefail
if [ $# -lt 4 ]; then
	sed -n '2,/^set/p' "$0" | sed '$d' >&2
	exit 2
fi
rounds=$1 re=$2 bt=$3
shift 3
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for _ in $(seq "$rounds"); do
	for bin in "$@"; do
		taskset -c 0 "$bin" -test.run '^$' -test.bench "$re" -test.benchtime "$bt" 2>&1 |
			awk -v b="$(basename "$bin")" '/^Benchmark/ {
				v = ""; w = ""
				for (i = 1; i < NF; i++) {
					if ($(i+1) == "events/cpu-s") v = $i
					if ($(i+1) == "ns/op") w = $i
				}
				print b, $1, (v != "" ? v : w)
			}' >>"$out"
	done
done
python3 - "$out" <<'PY'
import collections, statistics, sys
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    b, n, v = line.split()
    d[(n, b)].append(float(v))
for (n, b), vs in sorted(d.items()):
    vs.sort()
    print(f"{n:60s} {b:16s} median {statistics.median(vs):14.0f}  [{vs[0]:.0f} .. {vs[-1]:.0f}]")
PY
