#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run). Installs what the tests need
# on a fresh machine: Go modules (through the Go module proxy), and the
# pieces the integration tests bring up themselves.
set -euo pipefail
cd "$(dirname "$0")"

go mod download
go vet ./...
# -timeout: the Jaeger integration test builds Jaeger from source on a cold
# cache (about 10 minutes on 2 cores).
go test -count=1 -timeout 60m ./...
