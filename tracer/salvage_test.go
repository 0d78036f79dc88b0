package tracer

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestSalvage: a flipped bit late in the events of a version 1 or 2 file
// fails a plain Read, and a salvaging Read keeps the events before it.
func TestSalvage(t *testing.T) {
	tr := genTrace(3, 2, 4, 20000)
	tr.Dropped = 0
	var v1 bytes.Buffer
	if err := Write(&v1, tr); err != nil {
		t.Fatal(err)
	}
	v2, _ := replay(t, tr, 500)
	for _, tc := range []struct {
		name string
		file []byte
	}{{"v1", v1.Bytes()}, {"v2", v2}} {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(tc.file)
			b[len(b)*3/4] ^= 0x10
			if _, err := Read(bytes.NewReader(b)); err == nil {
				t.Fatal("a damaged file read without error")
			}
			got, err := ReadOptions{Salvage: true}.Read(bytes.NewReader(b))
			var se *SalvagedError
			if !errors.As(err, &se) || got == nil {
				t.Fatalf("salvaging read: %v", err)
			}
			if !strings.Contains(err.Error(), "checksum mismatch") || got.Salvaged == "" || !got.Truncated {
				t.Errorf("salvaged: err %v, Salvaged %q, Truncated %v", err, got.Salvaged, got.Truncated)
			}
			if len(got.Events) < len(tr.Events)/3 || len(got.Events) >= len(tr.Events) || se.Events != len(got.Events) {
				t.Errorf("kept %d of %d events (error says %d)", len(got.Events), len(tr.Events), se.Events)
			}
			for i := range got.Events {
				if got.Events[i] != tr.Events[i] {
					t.Fatalf("event %d: %+v, want %+v", i, got.Events[i], tr.Events[i])
				}
			}
			if err := got.CheckValid(); err != nil {
				t.Error(err)
			}
			if s := got.Status().String(); !strings.Contains(s, "salvaged (") {
				t.Errorf("status %q", s)
			}
		})
	}
}

// TestSalvageInvalidEvent: an event that decodes but breaks the protocol
// is cut with what follows it.
func TestSalvageInvalidEvent(t *testing.T) {
	tr := genTrace(4, 1, 3, 3000)
	tr.Dropped = 0
	i := len(tr.Events) * 2 / 3
	for tr.Events[i].Kind != KindLockAcquire {
		i++
	}
	tr.Events[i].Arg = tr.Events[i].Arg&^0xffffffff | 7 // a lock not in the table
	var buf bytes.Buffer
	if err := Write(&buf, tr); err != nil {
		t.Fatal(err)
	}
	got, err := ReadOptions{Salvage: true}.Read(bytes.NewReader(buf.Bytes()))
	var se *SalvagedError
	if !errors.As(err, &se) || got == nil {
		t.Fatalf("salvage: %v", err)
	}
	if len(got.Events) > i || len(got.Events) < i-10 {
		t.Fatalf("salvage kept %d events, the bad one is %d", len(got.Events), i)
	}
}
