#!/usr/bin/env bash
# pgo.sh: regenerate cmd/giltrace/default.pgo, the CPU profile that Go's
# profile-guided optimization builds giltrace with (go build, go run and
# go install of ./cmd/giltrace pick it up by themselves: -pgo=auto).
#
# The profile is what giltrace spends its CPU on, each part about as long
# as the others: virtual-time simulations (record --clock virtual, compare,
# the what-if rows), the tracer's encoding and decoding, the diagnosis,
# and the post-run outputs (report, pprof, Chrome trace, flame graph).
# Rerun it after large changes to those; a stale profile still helps
# (Go matches functions by name and line offsets) and never breaks a
# build. docs/performance.md, "Profile-guided optimization", has the
# figures with and without it.
#
# Usage: scripts/pgo.sh [benchtime per part, default 3s]
set -euo pipefail
cd "$(dirname "$0")/.."
bt="${1:-3s}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

prof() { # prof NAME PKG BENCHREGEX
	local name="$1" pkg="$2" re="$3"
	echo "pgo.sh: profiling $pkg ($re) for $bt each" >&2
	# -pgo=off: the profile of the code as written, not of a build that
	# an older profile optimized.
	go test -pgo=off -run '^$' -bench "$re" -benchtime "$bt" -count 1 \
		-cpuprofile "$tmp/$name.prof" -o "$tmp/$name.test" "$pkg" >/dev/null
}

prof vm ./vm 'BenchmarkVirtual$|BenchmarkVirtualThreads/.*-computed'
prof tracer ./tracer 'BenchmarkEmit|BenchmarkWrite|BenchmarkRead|BenchmarkMergeEvents|BenchmarkGatherEvents'
prof diagnosis ./diagnosis 'BenchmarkAnalyze$'
prof postrun ./cmd/giltrace 'BenchmarkPostRunEach'

go tool pprof -proto "$tmp"/*.prof >"$tmp/default.pgo"
mv "$tmp/default.pgo" cmd/giltrace/default.pgo
echo "pgo.sh: wrote cmd/giltrace/default.pgo ($(wc -c <cmd/giltrace/default.pgo) bytes)" >&2
