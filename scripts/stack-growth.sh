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
bin=$1
shift
. "$(dirname "$0")/uprobe-lib.sh"
uprobe_run giltrace_morestack "$bin" runtime.morestack.abi0 'lo=+0(%r14):u64 hi=+8(%r14):u64 sp=%sp:u64' "$@"
echo "growths  stack size  depth (bytes in use when it grew)"
sed -n "s/.* $UPROBE_EVENT: .* lo=\([0-9]*\) hi=\([0-9]*\) sp=\([0-9]*\).*/\1 \2 \3/p" "$UPROBE_TRACE" |
	awk '{ print $2 - $1, $2 - $3 }' | sort | uniq -c | sort -rn | head -20 |
	awk '{ printf "%7d  %10d  %5d\n", $1, $2, $3 }'
