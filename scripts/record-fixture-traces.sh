#!/usr/bin/env bash
# Records every fixture once into fixtures/traces/<fixture>.giltrace: the
# recorded runs that the exporters' and the report's golden tests read. The
# traces are live recordings, so re-recording changes the goldens: run
# `go test ./... -update` afterwards and review the diff.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o "$out/giltrace" ./cmd/giltrace
mkdir -p fixtures/traces
for f in fixtures/*.yaml; do
  name=$(basename "$f" .yaml)
  "$out/giltrace" record "$f" -o "$out/$name" --formats none >/dev/null 2>&1 ||
    "$out/giltrace" record "$f" -o "$out/$name" >/dev/null
  cp "$out/$name/run.giltrace" "fixtures/traces/$name.giltrace"
  printf '%-28s %s\n' "$name" "$("$out/giltrace" validate "fixtures/traces/$name.giltrace")"
done
# record streams the trace (format version 2); the committed fixtures are
# kept in the canonical form that tracer.Write writes.
go test ./tracer -run '^TestFixtureTraces$' -update >/dev/null
