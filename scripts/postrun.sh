#!/usr/bin/env bash
# Issue 14's post-run figure on the commands themselves: record's work
# after the run (record --timings: saving, deriving, every output, the
# report) against the time `giltrace validate` takes to read the same
# trace, and `giltrace report` of it, on a recorded run of about 1.9 M
# events (16 threads x 20 000 x [1 us network I/O, 200 loops], virtual
# time: the same trace every round). Wall times of whole processes, with
# /usr/bin/time's peak resident memory; docs/performance.md.
#
#   scripts/postrun.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o "$out/giltrace" ./cmd/giltrace
cat >"$out/big.yaml" <<'YAML'
name: big
clock: virtual
threads: [{name: w, count: 16, run: work, repeat: 20000}]
functions:
  work: [{io: {duration: 1us, kind: network}}, {compute: {loops: 200}}]
YAML
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(getconf _NPROCESSORS_ONLN) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); transparent huge pages: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo -)"
t() { # t LABEL CMD...: the command's wall seconds and peak KB, its output dropped
	/usr/bin/time -f "%e %M" -o "$out/time" "$@" >/dev/null 2>"$out/err" || { cat "$out/err" >&2; exit 1; }
	read -r s kb <"$out/time"
	echo "$s $kb"
}
for r in $(seq "$rounds"); do
	read -r rs rkb < <(t "$out/giltrace" record "$out/big.yaml" -o "$out/run" --timings)
	timing=$(grep '^giltrace: timings:' "$out/err")
	after=$(echo "$timing" | sed -n 's/.*after the run \([0-9]*\) ms.*/\1/p')
	events=$("$out/giltrace" validate "$out/run/run.giltrace" | sed -n 's/.* \([0-9]*\) events.*/\1/p')
	read -r vs vkb < <(t "$out/giltrace" validate "$out/run/run.giltrace")
	read -r ps pkb < <(t "$out/giltrace" report "$out/run/run.giltrace")
	awk -v r="$r" -v ev="$events" -v rs="$rs" -v rkb="$rkb" -v after="$after" -v vs="$vs" -v vkb="$vkb" -v ps="$ps" -v pkb="$pkb" 'BEGIN {
		printf "round %d, %d events: record %.2f s (%d MB), after the run %.2f s; validate %.2f s (%d MB); report %.2f s (%d MB); after the run / validate %.1fx\n",
			r, ev, rs, rkb/1024, after/1000, vs, vkb/1024, ps, pkb/1024, (after/1000)/vs }'
	echo "  $timing"
done
