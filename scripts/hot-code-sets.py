#!/usr/bin/env python3
"""hot-code-sets.py: how a run's hot code falls into the L1 instruction
cache's sets.

Reads a callgrind profile made with per-instruction counts and prints
the 64-byte lines of code that ran at least MIN_IR instructions a run,
how many of the cache's sets (64 of 8 ways: 32 KiB, this project's
machine's) hold more of them than their ways, and the functions with
the most such lines. docs/performance.md, "Twentieth pass": 64 contended
virtual threads, 476 lines at 2 000 instructions a run, 22 sets over.

Usage, from vm/:
  go test -c -pgo=../cmd/giltrace/default.pgo -o /tmp/vm.test .
  GOMAXPROCS=1 valgrind --tool=callgrind --dump-instr=yes \\
      --callgrind-out-file=/tmp/cg.out /tmp/vm.test -test.run '^$' \\
      -test.bench 'BenchmarkVirtualThreads/64-threads-computed$' -test.benchtime 30x
  ../scripts/hot-code-sets.py /tmp/cg.out 31 2000
RUNS is the benchmark's runs (b.Loop runs -benchtime Nx N+1 times).
"""
import collections
import sys

SETS, WAYS, LINE = 64, 8, 64


def load(path):
    """Instructions by 64-byte line of code, and each line's function."""
    cost, owner, names = collections.Counter(), {}, {}
    fn, addr, skip = "", 0, False

    def name(s):
        s = s.strip()
        if s.startswith("(") and ")" in s:
            i = s.index(")")
            key, rest = s[: i + 1], s[i + 1 :].strip()
            if rest:
                names[key] = rest
            return key
        return s

    for line in open(path):
        if line.startswith("fn="):
            fn = name(line[3:])
            continue
        if line.startswith("cfn="):
            name(line[4:])
            continue
        if line.startswith("calls="):
            skip = True  # the next line is the call's inclusive cost
            continue
        if line[:1] not in "0123456789+-*":
            skip = False
            continue
        parts = line.split()
        a = parts[0]
        if a.startswith("0x"):
            addr = int(a, 16)
        elif a.startswith("+"):
            addr += int(a[1:])
        elif a.startswith("-"):
            addr -= int(a[1:])
        if skip:
            skip = False
            continue
        if len(parts) >= 3:
            cost[addr // LINE] += int(parts[2])
            owner[addr // LINE] = fn
    return cost, {k: names.get(v, v) for k, v in owner.items()}


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cost, owner = load(sys.argv[1])
    runs, min_ir = int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    hot = [k for k, v in cost.items() if v >= min_ir * runs]
    sets = collections.Counter(k % SETS for k in hot)
    over = sorted(((s, n) for s, n in sets.items() if n > WAYS), key=lambda x: (-x[1], x[0]))
    print(f"{len(hot)} lines of code ({len(hot) * LINE // 1024} KiB) at >= {min_ir} instructions a run")
    print(f"{len(over)} of {SETS} sets hold more than {WAYS}: " + ", ".join(f"set {s}: {n}" for s, n in over))
    print("functions with the most of those lines:")
    for f, n in collections.Counter(owner[k] for k in hot).most_common(20):
        print(f"  {n:4d}  {f.replace('github.com/giltrace/giltrace/', '')}")


if __name__ == "__main__":
    main()
