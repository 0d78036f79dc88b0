#!/usr/bin/env bash
# stack-growth.sh: where a Go test binary's goroutines grow their stacks.
# A uprobe on the runtime's runtime.morestack (entered from a function's
# prologue when its frame does not fit) records each goroutine's stack
# size and depth (its bounds from R14, Go's register for the running
# goroutine, on amd64; the stack pointer), while the binary runs the
# given arguments; the script prints how many growths each (size, depth)
# had. docs/performance.md, "Twentieth pass": with 64 contended virtual
# threads, 64 growths a run at a depth of 1 128 bytes of a 2 KiB stack
# before growStack, at 248 bytes after it.
#
# Usage (root, linux/amd64, tracefs mounted), from vm/:
#   go test -c -pgo=../cmd/giltrace/default.pgo -o /tmp/vm.test .
#   ../scripts/stack-growth.sh /tmp/vm.test -test.run '^$' \
#       -test.bench 'BenchmarkVirtualThreads/64-threads-computed$' -test.benchtime 100x
# The probe, and the tracefs instance that holds its events, are removed
# on every exit.
set -euo pipefail
if [ $# -lt 1 ]; then
	sed -n '2,/^set/p' "$0" | sed '$d' >&2
	exit 2
fi
bin=$(readlink -f "$1")
shift
tr=/sys/kernel/tracing
[ -d "$tr/instances" ] || tr=/sys/kernel/debug/tracing
[ -w "$tr/uprobe_events" ] || { echo "stack-growth.sh: $tr/uprobe_events is not writable (root and a mounted tracefs are needed)" >&2; exit 1; }
addr=$(go tool nm "$bin" | awk '$3 == "runtime.morestack.abi0" { print $1 }')
[ -n "$addr" ] || { echo "stack-growth.sh: no runtime.morestack.abi0 in $bin (not a linux/amd64 Go binary?)" >&2; exit 1; }
# The symbol's file offset: its address less its executable segment's,
# plus that segment's offset in the file.
read -r segoff segaddr < <(readelf -lW "$bin" | awk '$1 == "LOAD" && ($7 ~ /E/ || $8 ~ /E/) { print $2, $3; exit }')
off=$(printf '0x%x' $((16#$addr - segaddr + segoff)))
event=giltrace_morestack_$$
inst=$tr/instances/$event
cleanup() {
	[ -d "$inst" ] && { echo 0 >"$inst/events/uprobes/$event/enable" 2>/dev/null || true; rmdir "$inst" 2>/dev/null || true; }
	echo "-:$event" >>"$tr/uprobe_events" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
echo "p:$event $bin:$off lo=+0(%r14):u64 hi=+8(%r14):u64 sp=%sp:u64" >>"$tr/uprobe_events"
mkdir "$inst"
echo 65536 >"$inst/buffer_size_kb" # per CPU: a default buffer overwrote the oldest events of a busy run
echo 1 >"$inst/events/uprobes/$event/enable"
"$bin" "$@" | grep -E '^(Benchmark|ok|FAIL|PASS)' || true
echo 0 >"$inst/events/uprobes/$event/enable"
echo "growths  stack size  depth (bytes in use when it grew)"
sed -n "s/.*$event: .* lo=\([0-9]*\) hi=\([0-9]*\) sp=\([0-9]*\).*/\1 \2 \3/p" "$inst/trace" |
	awk '{ print $2 - $1, $2 - $3 }' | sort | uniq -c | sort -rn | head -20 |
	awk '{ printf "%7d  %10d  %5d\n", $1, $2, $3 }'
