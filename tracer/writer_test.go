package tracer

import (
	"bytes"
	"path/filepath"
	"reflect"
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
