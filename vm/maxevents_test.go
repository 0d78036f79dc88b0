package vm

import (
	"context"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

// TestMaxEventsCapped: the recorder's bound leaves each thread room for its
// buffer but never passes twice the tracer's default, whatever the threads
// (1024 threads asked 128 Mi events, 4 GiB, and a run that filled them died
// out of memory merging them).
func TestMaxEventsCapped(t *testing.T) {
	for _, c := range []struct{ threads, want int }{
		{1, tracer.DefaultMaxEvents},
		{128, tracer.DefaultMaxEvents},
		{200, 200 * threadReserve},
		{1024, 2 * tracer.DefaultMaxEvents},
		{1 << 20, 2 * tracer.DefaultMaxEvents},
	} {
		if got := maxEvents(0, settings{threads: c.threads}); got != c.want {
			t.Errorf("%d threads: bound %d, want %d", c.threads, got, c.want)
		}
	}
	if got := maxEvents(5, settings{threads: 1024}); got != 5 {
		t.Errorf("asked 5: bound %d", got)
	}
}

// TestFileCoresNeedVirtualTime: a workload's cores: is refused for a real
// run, and taken by a run made virtual by the options (record --clock
// virtual) as by one whose file says clock: virtual.
func TestFileCoresNeedVirtualTime(t *testing.T) {
	w, err := workload.Parse("c.yaml", []byte("name: c\ncores: 2\nthreads: [{name: t, count: 4, run: f}]\nfunctions:\n  f: [{compute: 1ms}]\ngil: {mode: none}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), w, Options{}); err == nil || !strings.Contains(err.Error(), "simulated cores need virtual time") {
		t.Errorf("a real run of a file with cores: %v", err)
	}
	tr, err := Run(context.Background(), w, Options{ClockMode: workload.ClockVirtual})
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.Meta.Cores; got != 2 {
		t.Errorf("virtual run: %d cores, want the file's 2", got)
	}
}
