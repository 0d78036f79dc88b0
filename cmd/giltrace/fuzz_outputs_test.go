package main

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/model"
	"github.com/giltrace/giltrace/tracer"
)

// FuzzOutputs: whatever a damaged trace file still holds, what a salvaging
// read keeps of it (only what is valid) goes through the diagnosis, every
// output record writes and the model without a panic. The seeds are
// fixture traces, which the fuzzer damages byte by byte; the real
// programs' were streamed, in many event records, so that a damaged one
// keeps the events before it (a quarter of random damages keep about half
// the events; a VM trace's one record keeps none):
// `go test ./cmd/giltrace -run '^$' -fuzz FuzzOutputs -fuzztime 5m`; the
// default test run replays the seeds.
func FuzzOutputs(f *testing.F) {
	for _, name := range []string{"free-threaded", "web-scraping", "python-convoy", "python-c-extension-holding-gil"} {
		b, err := os.ReadFile(testkit.FixtureDir() + "/" + name + ".giltrace")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	var names []string
	for _, o := range outputs() {
		names = append(names, o.Name)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, _ := tracer.ReadOptions{Salvage: true}.Read(bytes.NewReader(data))
		if tr == nil || len(tr.Events) == 0 || len(tr.Events) > 1<<16 {
			return
		}
		r := newRun(tr)
		// Errors are allowed (a run with nothing to show); panics are not.
		_, _ = writeOutputs(context.Background(), t.TempDir(), r, names)
		_ = r.diagnosis()
		_, _ = model.Build(r.spans, model.Options{})
	})
}
