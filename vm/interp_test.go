package vm

import (
	"testing"
	"time"

	"github.com/giltrace/giltrace/internal/testkit"
)

func TestQuickenKeepsSemanticsAndTicks(t *testing.T) {
	for _, n := range []int64{0, 1, 2, 1000} {
		var ticks [2]int64
		for i, quick := range []bool{false, true} {
			th := countdownThread(n, quick)
			if err := th.eval(); err != nil {
				t.Fatal(err)
			}
			ticks[i] = th.instrs
		}
		if ticks[0] != ticks[1] {
			t.Errorf("n=%d: %d instructions generic, %d quickened", n, ticks[0], ticks[1])
		}
	}
	a, b := countdownThread(1000, false), countdownThread(2000, false)
	if a.eval() != nil || b.eval() != nil {
		t.Fatal("countdown interrupted")
	}
	if b.instrs-a.instrs != 9*1000 {
		t.Errorf("1000 more iterations cost %d instructions, expected 9 each (load, load, compare, jump, load, load, subtract, store, jump back)", b.instrs-a.instrs)
	}
}

func TestQuickenSkipsJumpTargets(t *testing.T) {
	ins := []instr{
		{op: opLoadFast, a: 0},
		{op: opLoadConst, b: 0},
		{op: opCompareGT},
		{op: opPopJumpIfFalse, c: 2}, // a jump into the sequence
	}
	quicken(ins)
	if ins[0].op != opLoadFast {
		t.Errorf("fused a sequence that a jump lands inside")
	}
}

// BenchmarkCountdown measures the interpreter on Beazley's countdown
// `while n > 0: n -= 1`, alone on one goroutine, in loops/s; compare with
// scripts/bench-countdown.sh.
func BenchmarkCountdown(b *testing.B) {
	const n = 10_000_000
	for _, bc := range []struct {
		name  string
		quick bool
	}{{"fused", true}, {"generic", false}} {
		b.Run(bc.name, func(b *testing.B) {
			cpu0 := cpuTime()
			for b.Loop() {
				th := countdownThread(n, bc.quick)
				if err := th.eval(); err != nil {
					b.Fatal(err)
				}
			}
			loops := float64(n) * float64(b.N)
			b.ReportMetric(loops/b.Elapsed().Seconds(), "loops/s")
			// Per CPU second: what the interpreter does when it has a core,
			// whatever else the machine runs.
			b.ReportMetric(loops/(cpuTime()-cpu0).Seconds(), "loops/cpu-s")
		})
	}
}

// cpuTime is the CPU time used by the process so far.
func cpuTime() time.Duration { return testkit.CPUTime() }
