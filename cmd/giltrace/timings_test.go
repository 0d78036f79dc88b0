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
// the time after it with each step; without it nothing is printed.
func TestRecordTimings(t *testing.T) {
	for _, on := range []bool{true, false} {
		var stdout, stderr bytes.Buffer
		o := &recordOptions{Workload: "../../fixtures/convoy.yaml", Out: t.TempDir(), Clock: "virtual", Cores: 2, Timings: on}
		if err := record(context.Background(), o, &stdout, &stderr); err != nil {
			t.Fatal(err)
		}
		got := regexp.MustCompile(`(?m)^giltrace: timings: .*$`).FindAllString(stderr.String(), -1)
		if !on {
			if len(got) > 0 {
				t.Errorf("without --timings: %q", got)
			}
			continue
		}
		want := regexp.MustCompile(`^giltrace: timings: run \d+ ms; after the run \d+ ms: saving the trace \d+ ms, freeing the recorder's buffers \d+ ms, deriving the spans \d+ ms, outputs \d+ ms, the diagnosis \d+ ms, printing the report \d+ ms$`)
		if len(got) != 1 || !want.MatchString(got[0]) {
			t.Errorf("--timings printed %q\nwant one line matching %s\nstderr:\n%s", got, want, stderr.String())
		}
		if !strings.HasSuffix(strings.TrimRight(stderr.String(), "\n"), got[0]) {
			t.Errorf("the timings are not the last line of stderr:\n%s", stderr.String())
		}
	}
}

// TestTimingsSum: the time after the run is the sum of its steps, and a
// nil *timings (no --timings) does nothing.
func TestTimingsSum(t *testing.T) {
	tm := &timings{steps: []timedStep{{"run", 5 * time.Millisecond}, {"a", 1500 * time.Microsecond}, {"b", 2 * time.Millisecond}}}
	var b bytes.Buffer
	tm.write(&b)
	if want := "giltrace: timings: run 5 ms; after the run 4 ms: a 2 ms, b 2 ms\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	var none *timings
	none.done("x")
	b.Reset()
	none.write(&b)
	if b.Len() != 0 {
		t.Errorf("a nil *timings wrote %q", b.String())
	}
}
