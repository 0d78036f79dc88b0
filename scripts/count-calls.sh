#!/usr/bin/env bash
# count-calls.sh: how many times a Go test binary calls one of its
# functions (not where it is inlined), counted by a uprobe at its entry
# while the binary runs the given arguments. Figures that earlier passes
# took with temporary counters can be taken this way without a change to
# the code (docs/performance.md, "Nineteenth pass").
#
# Usage (root, linux/amd64, tracefs mounted), from vm/:
#   go test -c -pgo=../cmd/giltrace/default.pgo -o /tmp/vm.test .
#   ../scripts/count-calls.sh /tmp/vm.test 'github.com/giltrace/giltrace/vm.(*lock).ringWalks' \
#       -test.run '^$' -test.bench 'BenchmarkVirtualThreads/64-threads-computed$' -test.benchtime 100x
# (b.Loop runs -benchtime Nx N+1 times: divide by N+1 for a run's.)
# The probe, and the tracefs instance that holds its events, are removed
# on every exit.
set -euo pipefail
if [ $# -lt 2 ]; then
	sed -n '2,/^set/p' "$0" | sed '$d' >&2
	exit 2
fi
bin=$(readlink -f "$1") sym=$2
shift 2
tr=/sys/kernel/tracing
[ -d "$tr/instances" ] || tr=/sys/kernel/debug/tracing
[ -w "$tr/uprobe_events" ] || { echo "count-calls.sh: $tr/uprobe_events is not writable (root and a mounted tracefs are needed)" >&2; exit 1; }
addr=$(go tool nm "$bin" | awk -v s="$sym" '$3 == s { print $1 }' | head -1)
[ -n "$addr" ] || { echo "count-calls.sh: no function $sym in $bin (inlined everywhere, or misspelt?)" >&2; exit 1; }
read -r segoff segaddr < <(readelf -lW "$bin" | awk '$1 == "LOAD" && ($7 ~ /E/ || $8 ~ /E/) { print $2, $3; exit }')
off=$(printf '0x%x' $((16#$addr - segaddr + segoff)))
event=giltrace_calls_$$
inst=$tr/instances/$event
cleanup() {
	[ -d "$inst" ] && { echo 0 >"$inst/events/uprobes/$event/enable" 2>/dev/null || true; rmdir "$inst" 2>/dev/null || true; }
	echo "-:$event" >>"$tr/uprobe_events" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
echo "p:$event $bin:$off" >>"$tr/uprobe_events"
mkdir "$inst"
echo 65536 >"$inst/buffer_size_kb" # per CPU: a default buffer overwrote the oldest events of a busy run
echo 1 >"$inst/events/uprobes/$event/enable"
"$bin" "$@" | grep -E '^(Benchmark|ok|FAIL|PASS)' || true
echo 0 >"$inst/events/uprobes/$event/enable"
echo "$(grep -c " $event: " "$inst/trace" || true) calls of $sym"
