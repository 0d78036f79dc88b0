package tracer

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestGenTraceValid(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		tr := genTrace(seed, 2, 4, 5000)
		if err := tr.CheckValid(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name              string
		procs, threads, n int
	}{
		{"one thread", 1, 1, 100},
		{"handoffs", 1, 4, 5000},
		{"processes", 3, 3, 20000},
		{"several batches", 2, 4, 3*batchEvents + 17},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := genTrace(7, tc.procs, tc.threads, tc.n)
			want.Dropped = 0
			var buf bytes.Buffer
			if err := Write(&buf, want); err != nil {
				t.Fatal(err)
			}
			got, err := Read(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip differs:\n%s", diffTraces(got, want))
			}
			t.Logf("%d events, %d bytes, %.2f bytes/event", len(want.Events), buf.Len(), float64(buf.Len())/float64(len(want.Events)))
		})
	}
}

func TestWriteFileReadFile(t *testing.T) {
	want := genTrace(3, 1, 2, 500)
	path := filepath.Join(t.TempDir(), "run.giltrace")
	if err := WriteFile(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip differs:\n%s", diffTraces(got, want))
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name string
		mut  func(tr *Trace)
		want string
	}{
		{"time order", func(tr *Trace) { tr.Events[5].Time = 0 }, "event 5: time 0 is before the previous event's"},
		{"thread", func(tr *Trace) { tr.Events[3].Thread = 99 }, "event 3: thread 99 not in the table of 2 threads"},
		{"kind", func(tr *Trace) { tr.Events[2].Kind = 0 }, "event 2: invalid kind bad"},
		{"huge record", func(tr *Trace) { tr.Meta.WorkloadSource = strings.Repeat("x", maxRecord) }, "exceeds the 67108864-byte limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := genTrace(9, 1, 2, 50)
			tc.mut(tr)
			err := Write(io.Discard, tr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Write = %v, want an error containing %q", err, tc.want)
			}
			// WriteFile leaves nothing behind.
			dir := t.TempDir()
			if err := WriteFile(filepath.Join(dir, "run.giltrace"), tr); err == nil {
				t.Fatal("WriteFile succeeded")
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("WriteFile left %v", ents)
			}
		})
	}
}

// TestWriteRaw: an argument without a compact form is written raw and read
// back unchanged (the trace is then invalid, so it is decoded directly).
func TestWriteRaw(t *testing.T) {
	tr := genTrace(9, 1, 2, 50)
	for i := range tr.Events {
		if tr.Events[i].Kind == KindLockAcquire {
			tr.Events[i].Arg = LockArg(0, 200)
			break
		}
	}
	var buf bytes.Buffer
	if err := Write(&buf, tr); err != nil {
		t.Fatal(err)
	}
	_, err := Read(&buf)
	if err == nil || !strings.Contains(err.Error(), "is not a lock and an Acquire") {
		t.Fatalf("Read = %v, want the invalid acquire code reported", err)
	}
}
