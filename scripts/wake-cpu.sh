#!/usr/bin/env bash
# wake-cpu.sh: where the kernel runs a thread that another thread woke with
# futex(FUTEX_WAKE) (one that woke a thread), and how long after the call it
# left its futex wait:
# on the waker's CPU (queued behind the waker until it blocks) or on
# another, per futex word (its address's last 12 bits). Run with bpftrace
# on CPython (scripts/fidelity/handoff.py: THREADS CPU-bound threads at a
# switch interval) and on the VM in real time (the same threads as a
# workload: SECONDS of compute in all). The figures behind docs/fidelity.md's
# "Where the dropper runs after the switch". Needs root and bpftrace
# (apt-get install bpftrace), and python3.11 (GILTRACE_PYTHON, else pyenv's
# 3.11).
#
# CPython 3.11.7 (pyenv's build) puts the GIL's condition's two group
# futexes at ...1776 and ...1780, gil->mutex at 1784, switch_cond's group
# futexes at 1864 and 1868 and switch_mutex at 1872. The VM's words are
# heap addresses that change from run to run: each guest thread's Waker
# (woken for the GIL's condition and for the switch alike), the GIL's
# mutex, and Go's runtime's own (an idle processor's thread started).
#
#   scripts/wake-cpu.sh [THREADS] [INTERVAL_MS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-4} iv=${2:-0.2} secs=${3:-1}
py=${GILTRACE_PYTHON:-$(ls /root/.pyenv/versions/3.11*/bin/python3.11 2>/dev/null | head -1)}
py=${py:-python3.11}
command -v bpftrace >/dev/null || { echo "wake-cpu.sh: needs bpftrace (apt-get install bpftrace)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o "$out/giltrace" ./cmd/giltrace
cat >"$out/wake.bt" <<'BT'
tracepoint:syscalls:sys_enter_futex /comm == str($1)/ {
  $op = args->op & 127; $u = (uint64)args->uaddr;
  @ua[tid] = $u; @op[tid] = $op; @in[tid] = 1;
  if ($op == 1) { @wc[tid] = cpu; @wn[tid] = nsecs; }
}
tracepoint:syscalls:sys_exit_futex /comm == str($1) && @in[tid]/ {
  $u = @ua[tid];
  if (@op[tid] == 1 && args->ret > 0) { @wcpu[$u] = @wc[tid]; @wt[$u] = @wn[tid]; }
  if ((@op[tid] == 0 || @op[tid] == 9) && args->ret == 0 && @wt[$u] > 0) {
    $same = cpu == @wcpu[$u] ? 1 : 0;
    @wakes[$u & 0xfff, $same] = count();
    @mean_us[$u & 0xfff, $same] = avg((nsecs - @wt[$u]) / 1000);
    delete(@wt[$u]);
  }
  delete(@in[tid]);
}
END { clear(@in); clear(@ua); clear(@op); clear(@wt); clear(@wcpu); clear(@wc); clear(@wn); }
BT
# [word, 1] is a wake-up that ran on the waker's CPU, [word, 0] on another.
report() {
	grep '^@' | sed 's/^@\([a-z_]*\)\[\([0-9]*\), \([01]\)\]: /\1 \2 \3 /' |
		awk '{ k = $2; if ($1 == "wakes") n[k, $3] = $4; else m[k, $3] = $4; keys[k] = 1 }
		END { printf "%6s %22s %22s %16s\n", "word", "on the waking CPU", "on another CPU", "share on waking"
			for (k in keys) { a = n[k, 1] + 0; b = n[k, 0] + 0; if (a + b < 20) continue
				printf "%6s %10d (%5d us) %10d (%5d us) %15.0f%%\n", k, a, m[k, 1], b, m[k, 0], 100 * a / (a + b) } }' |
		sort -k1,1n
}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "CPython ($($py -V 2>&1)), $n threads at $iv ms, $secs s: wake-ups per futex word (mean latency)"
(cd scripts/fidelity && bpftrace "$out/wake.bt" "$(basename "$py" | cut -c1-15)" -c "$py handoff.py $n $iv $secs" 2>/dev/null) | report
cat >"$out/w.yaml" <<YAML
name: wake-cpu
threads: [{name: T, count: $n, run: f}]
functions:
  f: [{compute: $(awk -v s="$secs" -v n="$n" 'BEGIN { printf "%dms", s * 1000 / n }')}]
YAML
echo "VM (real time), the same threads: wake-ups per futex word (mean latency)"
bpftrace "$out/wake.bt" giltrace -c "$out/giltrace record $out/w.yaml --switch-interval ${iv}ms -o $out/run --formats none" 2>/dev/null | report
