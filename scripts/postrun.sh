#!/usr/bin/env bash
# Issue 14's post-run figure on the commands themselves: record's work
# after the run (record --timings: saving, deriving, every output, the
# report) against the time `giltrace validate` takes to read the same
# trace, and `giltrace report` of it, on a recorded run of about 1.9 M
# events (16 threads x 20 000 x [1 us network I/O, 200 loops], virtual
# time: the same trace every round). Wall times of whole processes (to
# the millisecond), with /usr/bin/time's peak resident memory;
# docs/performance.md.
#
# Each round measures both commands in two ways:
#   - warm: each right after a run of the same command (not timed),
#     in memory that process just gave back;
#   - cold: each after COLD seconds (default 5) with nothing running, as
#     a user runs a command after a pause. On a virtual machine whose
#     balloon reports free pages to the host (virtio's free page
#     reporting, about 2 s after they are freed), a process then touches
#     memory the host must back again, and both commands are slower the
#     more memory they touch. COLD=0 leaves this pass out.
#
#   scripts/postrun.sh [ROUNDS]
#   GILTRACE_BIN=path/to/giltrace scripts/postrun.sh  # another build
#   CLOCK=real scripts/postrun.sh  # the same workload run in real time
#     (about 6 s a run, 2 M events, a different trace each round; its
#     trace is streamed, version 2, which validate reads apart)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [ -n "${GILTRACE_BIN:-}" ]; then
	cp "$GILTRACE_BIN" "$out/giltrace"
else
	go build -o "$out/giltrace" ./cmd/giltrace
fi
cp scripts/postrun-big.yaml "$out/big.yaml"
if [ -n "${CLOCK:-}" ]; then
	sed -i "s/^clock: .*/clock: $CLOCK/" "$out/big.yaml"
	grep -q "^clock: $CLOCK\$" "$out/big.yaml" || { echo "scripts/postrun-big.yaml has no top-level clock: line for CLOCK=$CLOCK to set" >&2; exit 1; }
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(getconf _NPROCESSORS_ONLN) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); transparent huge pages: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo -)"
cold=${COLD:-5}
t() { # t CMD...: the command's wall seconds and peak KB, its output dropped
	local t0=$EPOCHREALTIME
	/usr/bin/time -f "%M" -o "$out/time" "$@" >/dev/null 2>"$out/err" || { cat "$out/err" >&2; exit 1; }
	local t1=$EPOCHREALTIME
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') $(cat "$out/time")"
}
after() { # the post-run milliseconds of record's --timings line in $out/err
	grep '^giltrace: timings:' "$out/err" | sed -n 's/.*after the run \([0-9]*\) ms.*/\1/p'
}
for r in $(seq "$rounds"); do
	if [ "$cold" != 0 ]; then
		sleep "$cold"
		rm -rf "$out/run"
		read -r crs _ < <(t "$out/giltrace" record "$out/big.yaml" -o "$out/run" --timings)
		ctiming=$(grep '^giltrace: timings:' "$out/err")
		cms=$(after)
		sleep "$cold"
		read -r cvs _ < <(t "$out/giltrace" validate "$out/run/run.giltrace")
		awk -v r="$r" -v rs="$crs" -v after="$cms" -v vs="$cvs" 'BEGIN {
			printf "round %d, cold (after %s s idle): record %.2f s, after the run %.3f s; validate %.3f s; after the run / validate %.1fx\n",
				r, "'"$cold"'", rs, after/1000, vs, (after/1000)/(vs > 0 ? vs : 0.001) }'
		echo "  $ctiming"
	fi
	# Warm: each command right after one like it (the first not timed).
	t "$out/giltrace" record "$out/big.yaml" -o "$out/run" >/dev/null
	read -r rs rkb < <(t "$out/giltrace" record "$out/big.yaml" -o "$out/run" --timings)
	timing=$(grep '^giltrace: timings:' "$out/err")
	ms=$(after)
	events=$("$out/giltrace" validate "$out/run/run.giltrace" | sed -n 's/.* \([0-9]*\) events.*/\1/p')
	read -r vs vkb < <(t "$out/giltrace" validate "$out/run/run.giltrace")
	t "$out/giltrace" report "$out/run/run.giltrace" >/dev/null
	read -r ps pkb < <(t "$out/giltrace" report "$out/run/run.giltrace")
	awk -v r="$r" -v ev="$events" -v rs="$rs" -v rkb="$rkb" -v after="$ms" -v vs="$vs" -v vkb="$vkb" -v ps="$ps" -v pkb="$pkb" 'BEGIN {
		printf "round %d, %d events, warm: record %.2f s (%d MB), after the run %.3f s; validate %.3f s (%d MB); report %.2f s (%d MB); after the run / validate %.1fx\n",
			r, ev, rs, rkb/1024, after/1000, vs, vkb/1024, ps, pkb/1024, (after/1000)/(vs > 0 ? vs : 0.001) }'
	echo "  $timing"
done
