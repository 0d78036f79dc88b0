#!/bin/sh
# recorder-cpu.sh: the recorder's own CPU time (user and system time of the
# giltrace process, not of the program it traces) while `giltrace record`
# traces a program, for one or more giltrace binaries, run alternately so
# that machine noise hits them alike. Needs root.
#
#   scripts/recorder-cpu.sh ROUNDS "GILTRACE..." PYTHON SCRIPT [ARGS...]
#
# Per binary, medians of ROUNDS runs: the recorder's CPU time from its
# start to the program's exit (read from /proc/PID/stat every 5 ms, in
# clock ticks of 10 ms: the interpreter's lookup and the probes'
# definitions included, the report after the run not), the program's
# wall time over the same span, and the trace's native_waits and
# native_waits_inferred (docs/cpython.md, "C calls that wait").
set -eu
ROUNDS=$1 BINS=$2
shift 2
exec python3 - "$ROUNDS" "$BINS" "$@" <<'PY'
import os, shlex, subprocess, sys, tempfile, time, statistics

rounds, bins, cmd = int(sys.argv[1]), sys.argv[2].split(), sys.argv[3:]
tck = os.sysconf("SC_CLK_TCK")

def cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / tck  # utime, stime: fields 14, 15

def children(pid):
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/children") as f:
                if f.read().strip():
                    return True
        except OSError:
            pass
    return False

def one(gt):
    out = tempfile.mkdtemp()
    t0 = time.monotonic()
    p = subprocess.Popen([gt, "record", "--quiet", "--formats", "none", "-o", out, "--", *cmd],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last, seen, wall = 0.0, False, 0.0
    while p.poll() is None:
        try:
            c, kids = cpu(p.pid), children(p.pid)
        except OSError:
            break
        if kids:
            seen, last, wall = True, c, time.monotonic() - t0
        elif seen:
            break
        time.sleep(0.005)
    p.wait()
    txt = os.path.join(out, "run.txt")
    subprocess.run([gt, "export", os.path.join(out, "run.giltrace"), "-f", "text", "-o", txt], capture_output=True)
    extra = {}
    try:
        with open(txt) as f:
            for line in f:
                if line.startswith("meta extra "):
                    k, v = shlex.split(line[len("meta extra "):])[:2]
                    extra[k] = v
    except OSError:
        pass
    subprocess.run(["rm", "-rf", out])
    return last, wall, extra.get("native_waits", "0"), extra.get("native_waits_inferred", "0")

res = {b: [] for b in bins}
for _ in range(rounds):
    for b in bins:
        res[b].append(one(b))
print(f"{' '.join(cmd)}: {rounds} rounds, load average {os.getloadavg()[0]:.1f}")
print(f"{'giltrace':40} {'recorder CPU':>13} {'wall':>8} {'CPU/wall':>9}  native_waits (inferred)")
for b, rs in res.items():
    c = statistics.median(r[0] for r in rs)
    w = statistics.median(r[1] for r in rs)
    print(f"{b:40} {c*1000:11.0f}ms {w*1000:6.0f}ms {100*c/w:8.1f}%  {rs[-1][2]} ({rs[-1][3]})  [{' '.join('%.0f' % (r[0]*1000) for r in rs)}]")
PY
