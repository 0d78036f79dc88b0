#!/bin/sh
# fidelity-virtual.sh: the classic GIL experiments in virtual time and in
# real time on this machine, as the table of docs/fidelity.md. The real
# column depends on the machine and its load (the script prints the load
# average); the virtual one is the same everywhere.
set -e
cd "$(dirname "$0")/.."
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
echo "cores: $(getconf _NPROCESSORS_ONLN)"
GILTRACE_FIDELITY=1 go test ./vm -run '^TestFidelity$' -count=1 -v | sed -n 's/^ *|/|/p'
