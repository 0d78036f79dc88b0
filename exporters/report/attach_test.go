package report

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/tracer"
)

// TestAttachBlockedSpeedup: the report of an attach begun while every
// thread was asleep (compare/testdata/attach-blocked.giltrace, whose
// program is compare/testdata/attach_blocked.py): its Speedup section
// counts the main thread's 1.69s before the trace first saw it as a
// blocking call, says so, and gives 1.00x where it gave "achieved 0.03x"
// and "as processes 0.03x" (59.1ms of work over a wall of 1.75s). The JSON
// lists the thread under work.blocked_before.
func TestAttachBlockedSpeedup(t *testing.T) {
	tr, err := tracer.ReadFile(filepath.Join("..", "..", "compare", "testdata", "attach-blocked.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	txt, js := textAndJSON(t, tracer.Derive(tr))
	const want = `
Speedup
  work 1.75s: serial (needs the GIL) 3.4%, parallel (I/O, GIL-releasing native, no GIL) 96.6%
  of it, time before the trace first saw a thread that existed before the attach, counted as a blocking call (the thread table has its time from then): MainThread 1.69s, first seen 1.69s into the trace
  ceiling for 2 threads: GIL 1.02x (serial work, or work per thread); Amdahl's law 1.94x (an estimate, not a bound: threads overlapping I/O can beat it)
  achieved, from the trace's overlap: 1.00x (the same work on one thread: 1.75s, wall 1.75s)
  measured: not known (no one-thread run of the same work: time the program with one thread to measure it; giltrace compare predicts one from the model)
  estimated on 2 cores, with the same threads: as processes 1.01x, without a GIL 1.01x
`
	if !strings.Contains(txt.String(), want) {
		t.Errorf("text lacks\n%s\ngot:\n%s", want, txt.String())
	}
	if !strings.Contains(txt.String(), "Verdict: none of the verdicts' thresholds was reached") {
		t.Errorf("text gives a verdict:\n%s", txt.String())
	}
	const wantJSON = `"blocked_before": [
      {
        "thread": "MainThread",
        "process": "blocked",
        "first_seen_ns": 1691749418,
        "blocked_ns": 1691749418,
        "from_ns": 0
      }
    ]`
	if !bytes.Contains(js.Bytes(), []byte(wantJSON)) {
		t.Errorf("JSON lacks %s:\n%s", wantJSON, js.String())
	}
}
