package vm

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

// sim runs w in virtual time and checks that its trace is valid.
func sim(t testing.TB, w *workload.Workload, o Options) (*tracer.Trace, *tracer.Spans) {
	t.Helper()
	o.ClockMode = workload.ClockVirtual
	tr, err := Run(context.Background(), w, o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := tr.CheckValid(); err != nil {
		t.Fatalf("invalid trace: %v", err)
	}
	return tr, tracer.Derive(tr)
}

// traceBytes is the trace file of tr.
func traceBytes(t testing.TB, tr *tracer.Trace) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := tracer.Write(&b, tr); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestVirtualSmoke(t *testing.T) {
	files, _ := filepath.Glob("../fixtures/*.yaml")
	for _, f := range files {
		w, err := workload.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		tr, s := sim(t, w, Options{})
		t.Logf("%s: %d events, wall %v, real %v", w.Name, len(tr.Events), wall(s), time.Since(start))
	}
}
