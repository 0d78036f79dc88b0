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
bin=$1 sym=$2
shift 2
. "$(dirname "$0")/uprobe-lib.sh"
uprobe_run giltrace_calls "$bin" "$sym" "" "$@"
echo "$(grep -c " $UPROBE_EVENT: " "$UPROBE_TRACE" || true) calls of $sym"
