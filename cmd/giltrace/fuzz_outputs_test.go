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
// read keeps of it (only what is valid: the tables, and the events before
// the first damaged record) goes through the diagnosis, every output
// record writes and the model without a panic. The fuzzer picks a fixture
// trace, where to damage it and with which bytes (at most 16): the
// files stay whole around the damage, so that each input is a run of
// thousands of events, not a header the read refuses (fuzzed as whole
// files, 130 inputs of 131 kept no event). The real programs' traces were
// streamed in many event records, so a damaged record keeps the events
// before it: `go test ./cmd/giltrace -run '^$' -fuzz FuzzOutputs
// -fuzztime 5m`; the default test run replays the seeds.
func FuzzOutputs(f *testing.F) {
	var files [][]byte
	for _, name := range []string{"python-convoy", "python-c-extension-holding-gil", "python-multiprocessing-pool", "convoy"} {
		b, err := os.ReadFile(testkit.FixtureDir() + "/" + name + ".giltrace")
		if err != nil {
			f.Fatal(err)
		}
		files = append(files, b)
	}
	f.Add(uint8(0), uint16(40000), []byte{0xff})
	f.Add(uint8(1), uint16(20000), []byte{0, 0, 0, 0})
	f.Add(uint8(2), uint16(60000), []byte("x"))
	f.Add(uint8(3), uint16(3000), []byte{1})
	var names []string
	for _, o := range outputs() {
		names = append(names, o.Name)
	}
	f.Fuzz(func(t *testing.T, which uint8, at uint16, patch []byte) {
		b := bytes.Clone(files[int(which)%len(files)])
		copy(b[int(at)*len(b)/65536:], patch[:min(len(patch), 16)])
		tr, _ := tracer.ReadOptions{Salvage: true}.Read(bytes.NewReader(b))
		if tr == nil || len(tr.Events) == 0 {
			return
		}
		r := newRun(tr)
		// Errors are allowed (a run with nothing to show); panics are not.
		_, _ = writeOutputs(context.Background(), t.TempDir(), r, names)
		_ = r.diagnosis()
		_, _ = model.Build(r.spans, model.Options{})
	})
}
