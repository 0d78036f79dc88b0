package vm

import (
	"bytes"
	"context"
	"testing"

	"github.com/giltrace/giltrace/vm/workload"
)

// TestDaemonsRunAheadOfAParkedMain: daemons computing beside a main
// thread parked in a join, whose workers compute, some of them waiting
// for a core, run ahead to where a worker could touch shared state (the
// end of its countdown, after a core frees), the same run as in strict
// order. QA (a daemonising program's what-if on 1, 2 and 4 cores): bound
// by each other's queued and safe times, and by a waiting worker's own
// time, the daemons took turns a loop iteration at a time: 0.7 s, 0.5 s
// and 4.0 s to simulate a row of about 2 s. Here 140, 3.4 M and 5.2 M
// resumes before, 140, 111 k and 151 after: on 2 cores each daemon's
// safe time is still bounded by the other's for a stretch, a step a check.
func TestDaemonsRunAheadOfAParkedMain(t *testing.T) {
	w, err := workload.Parse("dmp.yaml", []byte(`name: dmp
clock: virtual
gil: {mode: none}
threads:
  - {name: main, run: m}
  - {name: w, count: 2, run: work}
  - {name: d, count: 2, run: spin, daemon: true}
functions:
  m: [{compute: 1ms}, {join: w}]
  work: [{compute: 40ms}, {native: 5ms}, {compute: 50ms}]
  spin: [{compute: 100ms}, {native: 3ms}, {compute: 100ms}]
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, cores := range []int{1, 2, 4} {
		var resumes int64
		vclockDone = func(c *vclock) { resumes = c.resumes }
		fast, err := Run(context.Background(), w, Options{ClockMode: workload.ClockVirtual, Cores: cores})
		vclockDone = nil
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d cores: %d resumes, %d events", cores, resumes, len(fast.Events))
		if resumes > 1_000_000 {
			t.Errorf("%d cores: %d resumes of the threads for %d events: want a few per time slice", cores, resumes, len(fast.Events))
		}
		if raceEnabled {
			continue
		}
		strictOrder = true
		strict, err := Run(context.Background(), w, Options{ClockMode: workload.ClockVirtual, Cores: cores})
		strictOrder = false
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(traceBytes(t, canonicalStacks(strict)), traceBytes(t, canonicalStacks(fast))) {
			t.Errorf("%d cores: running ahead changed the run", cores)
		}
	}
}
