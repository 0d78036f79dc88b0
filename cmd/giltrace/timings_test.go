package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRecordTimings: --timings prints, once and last, the run's time and
// the time after it with each step (each output's own time in the
// outputs step; no outputs step without outputs); without it nothing is
// printed.
func TestRecordTimings(t *testing.T) {
	for _, tc := range []struct {
		timings bool
		formats string
		want    string // the steps after the run
	}{
		{true, "", `freeing the recorder's buffers \d+ ms, saving the trace and deriving the spans \d+ ms \((saving the trace|deriving the spans) \d+ ms, (saving the trace|deriving the spans) \d+ ms\), outputs \d+ ms \(([a-z-]+ \d+ ms(, )?)+\), the diagnosis \d+ ms, printing the report \d+ ms`},
		{true, "none", `freeing the recorder's buffers \d+ ms, saving the trace and deriving the spans \d+ ms \((saving the trace|deriving the spans) \d+ ms, (saving the trace|deriving the spans) \d+ ms\), the diagnosis \d+ ms, printing the report \d+ ms`},
		{false, "", ""},
	} {
		var stdout, stderr bytes.Buffer
		o := &recordOptions{Workload: "../../fixtures/convoy.yaml", Out: t.TempDir(), Clock: "virtual", Cores: 2, Formats: tc.formats, Timings: tc.timings}
		if err := record(context.Background(), o, &stdout, &stderr); err != nil {
			t.Fatal(err)
		}
		got := regexp.MustCompile(`(?m)^giltrace: timings: .*$`).FindAllString(stderr.String(), -1)
		if !tc.timings {
			if len(got) > 0 {
				t.Errorf("without --timings: %q", got)
			}
			continue
		}
		want := regexp.MustCompile(`^giltrace: timings: run \d+ ms \(CPU \d+ ms\); after the run \d+ ms \(CPU \d+ ms\): ` + tc.want + `$`)
		if len(got) != 1 || !want.MatchString(got[0]) {
			t.Errorf("--formats %q --timings printed %q\nwant one line matching %s\nstderr:\n%s", tc.formats, got, want, stderr.String())
			continue
		}
		// Each output written, and the diagnosis computed beside them, with its time.
		if tc.formats != "none" {
			for _, n := range append(parsedFormats(t, tc.formats), "diagnosis") {
				if !regexp.MustCompile(`(\(|, )` + n + ` \d+ ms[,)]`).MatchString(got[0]) {
					t.Errorf("--timings: no time for %s in %q", n, got[0])
				}
			}
		}
		if !strings.HasSuffix(strings.TrimRight(stderr.String(), "\n"), got[0]) {
			t.Errorf("the timings are not the last line of stderr:\n%s", stderr.String())
		}
	}
}

// TestTimingsSum: the time after the run is the sum of its steps, and a
// nil *timings (no --timings) does nothing.
func TestTimingsSum(t *testing.T) {
	tm := newTimings(true)
	tm.steps = []timedStep{{"run", 5 * time.Millisecond, 6 * time.Millisecond, nil}, {"a", 1500 * time.Microsecond, time.Millisecond, nil}}
	tm.part("x", 3*time.Millisecond)
	tm.part("y", time.Millisecond)
	tm.done("b")
	tm.steps[2].d, tm.steps[2].cpu = 2*time.Millisecond, 4*time.Millisecond
	var b bytes.Buffer
	tm.write(&b)
	if want := "giltrace: timings: run 5 ms (CPU 6 ms); after the run 4 ms (CPU 5 ms): a 2 ms, b 2 ms (x 3 ms, y 1 ms)\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	// Unknown CPU time (another system): wall times alone.
	tm.steps[1].cpu = -1
	b.Reset()
	tm.write(&b)
	if want := "giltrace: timings: run 5 ms (CPU 6 ms); after the run 4 ms: a 2 ms, b 2 ms (x 3 ms, y 1 ms)\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	var none *timings
	none.done("x")
	none.part("y", time.Second)
	b.Reset()
	none.write(&b)
	if b.Len() != 0 {
		t.Errorf("a nil *timings wrote %q", b.String())
	}
}

// parsedFormats is the formats record writes for spec.
func parsedFormats(t *testing.T, spec string) []string {
	t.Helper()
	names, err := parseFormats(spec)
	if err != nil {
		t.Fatal(err)
	}
	return names
}
