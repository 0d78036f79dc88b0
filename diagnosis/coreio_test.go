package diagnosis_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/exporters/report"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// TestCoreIO: a real program whose threads the readings found running
// or waiting for a core in a fifth or more of its I/O is warned, in every
// output, that the overlap counts that CPU as I/O that runs in parallel
// (QA: a pool of 16 on one core, "achieved 3.86x" where it ran 3.0x as
// fast as one worker); fewer awake readings, or none recorded, change
// nothing. The bundled web-scraping recording's readings are set here as
// the recorder writes them.
func TestCoreIO(t *testing.T) {
	tr, err := tracer.ReadFile(filepath.Join(testkit.FixtureDir(), "python-web-scraping-inprocess.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	byThread := func(awake, reads int) string {
		var parts []string
		for i := range tr.Threads {
			parts = append(parts, fmt.Sprintf("%d:%d/%d", i, awake, reads))
		}
		return strings.Join(parts, ",")
	}
	// The cores kept full: the CPU time obtained is what they could give.
	full := strconv.FormatInt(tr.Duration()*int64(max(tr.Meta.Cores, 1)), 10)
	idle := strconv.FormatInt(tr.Duration()*int64(max(tr.Meta.Cores, 1))/4, 10)
	for _, tc := range []struct {
		name, v, cpu string
		high         bool
	}{
		{"none recorded", "", full, false},
		{"asleep", byThread(0, 40), full, false},
		{"a tenth awake", byThread(4, 40), full, false},
		{"half awake", byThread(20, 40), full, true},
		// With a core free, the kernel's work ran beside the rest (QA's
		// cached file reads on 2 cores kept 54 % busy).
		{"half awake, the cores not full", byThread(20, 40), idle, false},
		{"malformed", "0:5/x", full, false},
		{"too few readings", "0:3/3", full, false},
	} {
		tr.Meta.Extra[diagnosis.ExtraCPU] = tc.cpu
		if tc.v == "" {
			delete(tr.Meta.Extra, diagnosis.ExtraIOAwakeByThread)
		} else {
			tr.Meta.Extra[diagnosis.ExtraIOAwakeByThread] = tc.v
		}
		s := tracer.Derive(tr)
		r := diagnosis.Analyze(s)
		if got := r.CoreIO != nil && r.CoreIO.High; got != tc.high {
			t.Errorf("%s: core I/O high %v, want %v (%+v)", tc.name, got, tc.high, r.CoreIO)
		}
		warned := false
		for _, w := range report.Warnings(s) {
			if strings.HasPrefix(w, "I/O that was CPU: ") {
				warned = true
			}
		}
		if warned != tc.high {
			t.Errorf("%s: warned %v in every output, want %v", tc.name, warned, tc.high)
		}
		if c := r.CoreIO; tc.high {
			// Half of each thread's I/O, rounded down per thread.
			if d := c.IONS - 2*c.AwakeNS; d < 0 || d > int64(2*len(tr.Threads)) {
				t.Errorf("%s: awake %d ns of %d: want half", tc.name, c.AwakeNS, c.IONS)
			}
			var b strings.Builder
			report.WriteVerdicts(&b, r)
			if !strings.Contains(b.String(), fmt.Sprintf("Warning: I/O that was CPU: %d of the %d readings of its threads in blocking I/O calls (50 %%) found them running or waiting for a core", 20*len(tr.Threads), 40*len(tr.Threads))) {
				t.Errorf("%s: the report does not warn:\n%s", tc.name, b.String())
			}
		}
	}
}
