package diagnosis

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/giltrace/giltrace/tracer"
)

// TestReacquireSamplesAreTheRuns: a thread's re-acquire samples after I/O
// (ioReacquireSamples, the convoy's) have the latencies of its re-acquire
// run (reacquires, by eachReacquire), which the convoy then uses as they
// are when it keeps every sample.
func TestReacquireSamplesAreTheRuns(t *testing.T) {
	var paths []string
	for _, dir := range []string{filepath.Join("..", "fixtures", "traces"), "testdata"} {
		m, err := filepath.Glob(filepath.Join(dir, "*.giltrace"))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	checked := 0
	for _, path := range paths {
		tr, err := tracer.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s := tracer.Derive(tr)
		a := newAnalysis(tr, s, &Report{Summary: *Summarize(s)})
		a.processes()
		for i := range tr.Threads {
			var lats []int64
			for _, x := range a.ioReacquireSamples(tracer.ThreadID(i), nil) {
				lats = append(lats, x.lat)
			}
			slices.Sort(lats)
			if !slices.Equal(lats, a.ioReacquire[i]) { // nil and empty are equal
				t.Errorf("%s: thread %d: samples' latencies %v, its re-acquire run %v", path, i, lats, a.ioReacquire[i])
			}
			checked += len(lats)
		}
	}
	if checked == 0 {
		t.Fatal("no re-acquire after I/O in the traces")
	}
}
