#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run). Installs what the tests need
# on a fresh machine: Go modules (through the Go module proxy), and the
# pieces the integration tests bring up themselves.
set -euo pipefail
cd "$(dirname "$0")"

go mod download
go vet ./...
# Debian's Chromium and ChromeDriver for the browser tests (the flame graph
# page, and the Perfetto deep link of giltrace view).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq -o DPkg::Lock::Timeout=300 chromium chromium-driver >/dev/null
fi
# The debug symbols of Debian's own python3.11, for the test that giltrace
# probes the copies of the GIL functions its link-time optimised build
# inlined (source/cpython TestInlinedProbed).
if dpkg -s python3.11-minimal >/dev/null 2>&1 && ! dpkg -s python3.11-dbg >/dev/null 2>&1; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq -o DPkg::Lock::Timeout=300 python3.11-dbg >/dev/null
fi
# Debian unstable's python3.14 and python3.15 (link-time optimised, with
# their debug files), checked and unpacked into /opt/giltrace-python/3.MINOR
# (their debug files under /usr/lib/debug), for the tests that trace a
# distribution's 3.14 and 3.15 (source/cpython TestRecordLTO,
# TestCountdownVersions, TestUnjoinedThreads). If one cannot be installed
# (the archive unreachable, the package gone from unstable), the suite runs
# on and those tests say so (in CI, they fail).
for minor in 14 15; do
	bash scripts/install-debian-python.sh "$minor" >/dev/null ||
		echo "test.sh: Debian's python3.$minor could not be installed (above); the tests that trace it will say so" >&2
done
# Jaeger v2 for the OpenTelemetry integration test (exporters/oteltrace
# TestJaeger), built from its own tools module so that its dependencies stay
# out of go.mod. Cached in tools/jaeger/bin and the Go build cache: a cold
# build takes about 10 minutes on 2 cores, a rebuild only when go.sum changes.
if [ ! tools/jaeger/bin/jaeger -nt tools/jaeger/go.sum ]; then
	(cd tools/jaeger && go build -o bin/jaeger github.com/jaegertracing/jaeger/cmd/jaeger)
fi
# -timeout: the Jaeger integration test builds Jaeger from source on a cold
# cache (about 10 minutes on 2 cores).
go test -count=1 -timeout 60m ./...
