#!/bin/sh
# fidelity.sh: the classic GIL experiments on CPython (scripts/fidelity/*.py)
# and on the VM, in real time interleaved on this machine and in virtual
# time, as the table of docs/fidelity.md, with the ratios VM / CPython.
# Timings on a shared machine move with its load: the load average is
# printed beside each round, and the figures are medians of interleaved
# rounds.
#
#   scripts/fidelity.sh                      # every experiment, 5 rounds
#   ROUNDS=3 scripts/fidelity.sh
#   ONLY=handoffs scripts/fidelity.sh        # experiments whose name contains it
#   GILTRACE_PYTHON=/path/to/python3.11 scripts/fidelity.sh
set -e
cd "$(dirname "$0")/.."
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
echo "cores: $(getconf _NPROCESSORS_ONLN)"
echo "machine: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ //')"
GILTRACE_FIDELITY=cpython GILTRACE_FIDELITY_ROUNDS="${ROUNDS:-5}" GILTRACE_FIDELITY_ONLY="${ONLY:-}" \
	go test ./vm -run '^TestFidelityCPython$' -count=1 -v -timeout 60m | sed -n 's/^ *|/|/p; s/^ *\(CPython .*\)/\1/p; s/^ *\(real within.*\)/\1/p; s/^ *fidelity_cpython_test.go:[0-9]*: \(round .*\)/\1/p'
