package main

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/model"
	"github.com/giltrace/giltrace/tracer"
)

// FuzzOutputs: every output record writes, the diagnosis and the model,
// on valid traces the fuzzer shapes, without a panic. A damaged file
// reaches them as what a salvaging read keeps of it: the tables, and the
// events before the first damaged record, which a checksum guards (so
// fuzzing whole files' bytes gave a dozen distinct traces, every one an
// unaltered prefix of its seed). Instead the fuzzer picks a fixture, cuts
// its events anywhere (a run cut off mid-write), and gives a thread, a
// function, a file or a lock a name of any bytes; the trace goes through
// Write and Read as a file would. `go test ./cmd/giltrace -run '^$'
// -fuzz FuzzOutputs -fuzztime 5m`; the default test run replays the seeds.
func FuzzOutputs(f *testing.F) {
	var traces []*tracer.Trace
	for _, name := range []string{"python-convoy", "python-c-extension-holding-gil", "python-multiprocessing-pool", "convoy", "free-threaded"} {
		t, err := tracer.ReadFile(testkit.FixtureDir() + "/" + name + ".giltrace")
		if err != nil {
			f.Fatal(err)
		}
		traces = append(traces, t)
	}
	f.Add(uint8(0), uint16(30000), uint8(0), "</script><script>alert(1)</script>")
	f.Add(uint8(1), uint16(65535), uint8(1), "a\x00b\xff\"\\\n;")
	f.Add(uint8(2), uint16(12000), uint8(2), "")
	f.Add(uint8(3), uint16(1), uint8(3), "λ 線程 {\"x\":1}")
	f.Add(uint8(4), uint16(50000), uint8(4), "%s%d%!")
	var names []string
	for _, o := range outputs() {
		names = append(names, o.Name)
	}
	f.Fuzz(func(t *testing.T, which uint8, cut uint16, what uint8, name string) {
		src := traces[int(which)%len(traces)]
		tr := *src
		n := 1 + int(cut)*len(src.Events)/65536
		tr.Events = slices.Clone(src.Events[:n])
		tr.Truncated = tr.Truncated || n < len(src.Events)
		tr.Threads, tr.Frames, tr.Locks = slices.Clone(src.Threads), slices.Clone(src.Frames), slices.Clone(src.Locks)
		switch i := int(what >> 2); what % 4 {
		case 0:
			tr.Threads[i%len(tr.Threads)].Name = name
		case 1:
			if len(tr.Frames) > 0 {
				tr.Frames[i%len(tr.Frames)].Func = name
			}
		case 2:
			if len(tr.Frames) > 0 {
				tr.Frames[i%len(tr.Frames)].File = name
			}
		case 3:
			if len(tr.Locks) > 0 {
				tr.Locks[i%len(tr.Locks)].Name = name
			}
		}
		var buf bytes.Buffer
		if err := tracer.Write(&buf, &tr); err != nil {
			return // a name the format refuses (too long)
		}
		back, err := tracer.ReadOptions{Salvage: true}.Read(&buf)
		if back == nil || len(back.Events) == 0 {
			if err == nil {
				t.Fatalf("a trace of %d events read back with none", n)
			}
			return
		}
		r := newRun(back)
		// Errors are allowed (a run with nothing to show); panics are not.
		_, _ = writeOutputs(context.Background(), t.TempDir(), r, names)
		_ = r.diagnosis()
		_, _ = model.Build(r.spans, model.Options{})
		_ = whatIfHint(r, "x.giltrace")
	})
}
