#!/usr/bin/env bash
# Records every real-program fixture (fixtures/python/*.py, the twins of the
# VM fixtures) once under `giltrace record --` into
# fixtures/traces/python-<name>.giltrace: the real CPython traces that the
# exporters', the diagnosis's and the what-if tests read exactly. Needs root
# (uprobes). Record on a quiet machine: the traces are live. Re-recording
# changes the goldens: run `go test ./... -update` afterwards and review.
# The traces observe lock holds (--lock-holds): their models serialise
# critical sections as the program did.
#
#   sudo scripts/record-python-traces.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-/root/.pyenv/versions/3.11.7/bin/python3.11}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o "$out/giltrace" ./cmd/giltrace
mkdir -p fixtures/traces
for f in fixtures/python/*.py; do
	name=python-$(basename "$f" .py | tr _ -)
	(cd fixtures/python && "$out/giltrace" record --lock-holds -o "$out/$name" --formats none -- "$py" "$(basename "$f")") >"$out/$name.txt" 2>&1 || {
		cat "$out/$name.txt"
		exit 1
	}
	cp "$out/$name/run.giltrace" "fixtures/traces/$name.giltrace"
	printf '%-34s %s | %s\n' "$name" "$(grep -m1 '^Verdict' "$out/$name.txt")" "$("$out/giltrace" validate "fixtures/traces/$name.giltrace")"
done
# record streams the trace (format version 2); the committed fixtures are
# kept in the canonical form that tracer.Write writes.
go test ./tracer -run '^TestFixtureTraces$' -update >/dev/null
