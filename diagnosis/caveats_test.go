package diagnosis_test

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// TestCaveatsAsAnalyze: the caveats computed alone, for the exporters, are
// the report's, for every bundled trace (VM runs with the CPU time they
// obtained, real programs with their tracing cost) and for a run whose
// CPU time obtained makes it a busy machine.
func TestCaveatsAsAnalyze(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(testkit.FixtureDir(), "*.giltrace"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixture traces: %v", err)
	}
	var machines, costs, busy, own int
	check := func(name string, tr *tracer.Trace) {
		s := tracer.Derive(tr)
		r := diagnosis.Analyze(s)
		m, c, o, io := diagnosis.Caveats(s, diagnosis.Summarize(s))
		if !reflect.DeepEqual(io, r.CoreIO) {
			t.Errorf("%s: core I/O %+v, the report's %+v", name, io, r.CoreIO)
		}
		if !reflect.DeepEqual(m, r.Machine) {
			t.Errorf("%s: machine %+v, the report's %+v", name, m, r.Machine)
		}
		if !reflect.DeepEqual(c, r.TracingCost) {
			t.Errorf("%s: tracing cost %+v, the report's %+v", name, c, r.TracingCost)
		}
		if m != nil {
			machines++
			if m.Busy {
				busy++
			}
		}
		if !reflect.DeepEqual(o, r.OwnIO) {
			t.Errorf("%s: own I/O %+v, the report's %+v", name, o, r.OwnIO)
		}
		if c != nil {
			costs++
		}
		if o != nil && o.High {
			own++
		}
	}
	for _, p := range paths {
		tr, err := tracer.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		check(filepath.Base(p), tr)
		if strings.HasPrefix(filepath.Base(p), "python-") {
			// The same program waiting on its own pipes.
			tr.Meta.Extra[diagnosis.ExtraIOReadings], tr.Meta.Extra[diagnosis.ExtraOwnIOReadings] = "100", "60"
			check(filepath.Base(p)+" (own I/O)", tr)
			continue
		}
		// The same run on a busy machine: 1 us of CPU obtained, next to nothing.
		tr.Meta.Extra["cpu_ns"] = "1000"
		check(filepath.Base(p)+" (busy)", tr)
	}
	if machines == 0 || costs == 0 || busy == 0 || own == 0 {
		t.Errorf("%d runs with a machine figure, %d busy, %d with a tracing cost, %d waiting on their own I/O: the test checks nothing", machines, busy, costs, own)
	}
}
