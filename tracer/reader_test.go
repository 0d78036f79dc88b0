package tracer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/internal/golden"
)

// smallBatches makes event records of n events for the test.
func smallBatches(t *testing.T, n int) {
	old := batchEvents
	batchEvents = n
	t.Cleanup(func() { batchEvents = old })
}

func encode(t testing.TB, tr *Trace) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, tr); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// recordSpans returns the byte ranges [start, end) of a well-formed file's
// records.
func recordSpans(t *testing.T, b []byte) [][2]int {
	var spans [][2]int
	for i := headerLen; i < len(b); {
		n, k := binary.Uvarint(b[i+1:])
		if k <= 0 {
			t.Fatalf("bad length at %d", i)
		}
		end := i + 1 + k + int(n) + 4
		spans = append(spans, [2]int{i, end})
		i = end
	}
	return spans
}

// TestReadTruncated cuts a file at every byte: Read never panics, always
// reports the cut, and returns the complete records once the events began.
func TestReadTruncated(t *testing.T) {
	smallBatches(t, 32)
	want := genTrace(5, 1, 3, 300)
	b := encode(t, want)
	spans := recordSpans(t, b)
	firstEvents := -1
	for _, s := range spans {
		if b[s[0]] == recEvents {
			firstEvents = s[0]
			break
		}
	}
	prev := -1
	for n := 0; n < len(b); n++ {
		got, err := Read(bytes.NewReader(b[:n]))
		var te *TruncatedError
		if !errors.As(err, &te) {
			t.Fatalf("cut at %d: err = %v, want a *TruncatedError", n, err)
		}
		if te.Offset != int64(n) {
			t.Fatalf("cut at %d: error says byte %d", n, te.Offset)
		}
		if n <= firstEvents {
			if got != nil {
				t.Fatalf("cut at %d, before the events at %d: got a trace", n, firstEvents)
			}
			continue
		}
		if got == nil || !got.Truncated {
			t.Fatalf("cut at %d: got %v, want a truncated trace (err %v)", n, got, err)
		}
		if len(got.Events) < prev {
			t.Fatalf("cut at %d: %d events, fewer than %d at the previous cut", n, len(got.Events), prev)
		}
		prev = len(got.Events)
		wantPart := *want
		wantPart.Events = want.Events[:len(got.Events)]
		if len(wantPart.Events) == 0 {
			wantPart.Events = nil
		}
		wantPart.Truncated = true
		if !reflect.DeepEqual(got, &wantPart) {
			t.Fatalf("cut at %d: complete part differs:\n%s", n, diffTraces(got, &wantPart))
		}
	}
	if prev != len(want.Events) {
		t.Fatalf("cut in the end record: %d events, want all %d", prev, len(want.Events))
	}
}

// TestTruncatedStaysTruncated: the complete part of a cut-off file, written
// again, reads back truncated (and so valid without its thread-ends).
func TestTruncatedStaysTruncated(t *testing.T) {
	b := encode(t, genTrace(4, 1, 3, 300))
	part, err := Read(bytes.NewReader(b[:len(b)-5]))
	var te *TruncatedError
	if !errors.As(err, &te) || part == nil {
		t.Fatalf("Read of a cut file = %v, %v", part, err)
	}
	part.Events = part.Events[:len(part.Events)/2] // threads without their end
	got, err := Read(bytes.NewReader(encode(t, part)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, part) {
		t.Fatalf("differs:\n%s", diffTraces(got, part))
	}
}

// TestReadCorrupt flips every byte of a file in turn: Read never panics and
// names the damaged record.
func TestReadCorrupt(t *testing.T) {
	smallBatches(t, 16)
	b := encode(t, genTrace(6, 1, 2, 100))
	spans := recordSpans(t, b)
	recordAt := func(pos int) int {
		for i, s := range spans {
			if pos >= s[0] && pos < s[1] {
				return i
			}
		}
		return -1 // header
	}
	for pos := range b {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			c := bytes.Clone(b)
			c[pos] ^= flip
			got, err := Read(bytes.NewReader(c))
			if err == nil || got != nil && !got.Truncated {
				t.Fatalf("byte %d ^ %#x: no error", pos, flip)
			}
			var fe *FormatError
			var te *TruncatedError
			switch {
			case errors.As(err, &fe):
				if fe.Record != recordAt(pos) {
					t.Fatalf("byte %d ^ %#x: error names record %d, want %d: %v", pos, flip, fe.Record, recordAt(pos), err)
				}
			case errors.As(err, &te):
				if te.Record != recordAt(pos) {
					t.Fatalf("byte %d ^ %#x: error names record %d, want %d: %v", pos, flip, te.Record, recordAt(pos), err)
				}
			default:
				t.Fatalf("byte %d ^ %#x: err = %v, want a *FormatError or *TruncatedError", pos, flip, err)
			}
		}
	}
}

// file builds a file from records with valid checksums.
func file(recs ...[]byte) []byte {
	var buf bytes.Buffer
	w := &writer{bw: newBufWriter(&buf)}
	w.bw.WriteString(Magic)
	w.bw.Write(binary.LittleEndian.AppendUint32(nil, FormatVersion))
	for _, r := range recs {
		w.record(r[0], r[1:])
	}
	w.bw.Flush()
	return buf.Bytes()
}

// rec is a record of type typ: each field an int as a uvarint, or a byte
// as itself (an event header).
func rec(typ byte, fields ...any) []byte {
	b := []byte{typ}
	for _, f := range fields {
		switch f := f.(type) {
		case byte:
			b = append(b, f)
		case int:
			b = binary.AppendUvarint(b, uint64(f))
		case uint64:
			b = binary.AppendUvarint(b, f)
		default:
			panic("rec: bad field")
		}
	}
	return b
}

// tableRecs are the records before the events of a small file: the meta,
// the empty string, a process p without a GIL, n threads of it named t, u,
// v..., and the empty stack.
func tableRecs(n int) (meta, strs, procs, threads, stacks []byte) {
	meta = append([]byte{recMeta}, appendMeta(nil, &Meta{})...)
	strs = rec(recStrings, 1, 0)
	procs = append(rec(recProcs, 1, 1, byte('p')), binary.AppendVarint(nil, 1)...)
	procs = binary.AppendUvarint(procs, uint64(NoLock))
	fields := []any{n}
	for i := range n {
		fields = append(fields, 1, byte('t'+i), 0)
	}
	return meta, strs, procs, rec(recThreads, fields...), rec(recStacks, 1, 0, 0)
}

// TestReadDamaged feeds files whose records are intact but whose contents
// are wrong: the error names the record, the event and what was expected.
func TestReadDamaged(t *testing.T) {
	meta, strs, procs, threads, stacks := tableRecs(1)
	start := rec(recEvents, 1, 1, 0, byte(KindThreadStart)|evSameStack|evArgZero, 0)
	tests := []struct {
		name   string
		file   []byte
		record int
		event  int
		want   string
	}{
		{"no meta first", file(strs), 0, -1, "found a strings record first, expected the meta record"},
		{"two metas", file(meta, meta), 1, -1, "a second meta record"},
		{"table after events", file(meta, strs, procs, threads, stacks, start, strs), 6, -1, "tables come first"},
		{"unknown record type", file(meta, rec(42)), 1, -1, "unknown record type 42"},
		{"leftover bytes", file(meta, rec(recStrings, 1, 0, 0)), 1, -1, "1 bytes left over"},
		{"absurd count", file(meta, rec(recStrings, 1<<40)), 1, -1, "does not fit in the 0 bytes left"},
		{"string too long", file(meta, rec(recStrings, 1, 5, byte('a'))), 1, -1, "string of 5 bytes, only 1 left"},
		{"bool out of range", file(meta, rec(recLocks, 1, 0, 0, 2)), 1, -1, "boolean is 2"},
		{"32-bit overflow", file(meta, rec(recThreads, 1, 0, 1<<33)), 1, -1, "overflows 32 bits"},
		{"invalid kind", file(meta, strs, procs, threads, stacks, rec(recEvents, 1, 1, 0, evArgZero)), 5, 0, "invalid event kind 0"},
		{"event thread dangling", file(meta, strs, procs, threads, stacks, rec(recEvents, 1, 1, 0, byte(KindThreadStart), 3, 0)), 5, 0, "thread 3 not in the table of 1 threads"},
		{"event stack dangling", file(meta, strs, procs, threads, stacks, rec(recEvents, 1, 1, 0, byte(KindThreadStart), 0, 4, 0)), 5, 0, "stack 4 not in the table of 1 stacks"},
		{"same thread first", file(meta, strs, procs, threads, stacks, rec(recEvents, 1, 1, 0, byte(KindThreadStart)|evSameThread|evSameStack|evArgZero)), 5, 0, "the first event has the same-thread flag"},
		{"event cut inside", file(meta, strs, procs, threads, stacks, rec(recEvents, 2, 2, 0, byte(KindThreadStart)|evSameStack|evArgZero, 0, 5)), 5, 1, "expected its header byte"},
		{"time overflow", file(meta, strs, procs, threads, stacks, rec(recEvents, 2, 1, 0, byte(KindThreadStart)|evSameStack|evArgZero, 0),
			rec(recEvents, 1, 1, uint64(1<<63), byte(KindThreadEnd)|evSameStack|evArgZero|evSameThread)), 6, 1, "overflows the time"},
		{"time beyond MaxTime", file(meta, strs, procs, threads, stacks, rec(recEvents, 2, 1, 0, byte(KindThreadStart)|evSameStack|evArgZero, 0),
			rec(recEvents, 1, 1, uint64(MaxTime+1), byte(KindThreadEnd)|evSameStack|evArgZero|evSameThread)), 6, 1, "event time 4503599627370497 ns is beyond 4503599627370496 ns (52 days), the most a trace may span"},
		{"events left mismatch", file(meta, strs, procs, threads, stacks, start,
			rec(recEvents, 1, 1, 1, byte(KindThreadEnd)|evSameStack|evArgZero|evSameThread)), 6, 1, "the record says 1 events are left, expected 0"},
		{"more events than left", file(meta, strs, procs, threads, stacks, rec(recEvents, 1, 2, 0, byte(KindThreadStart)|evSameStack|evArgZero, 0, 0, byte(KindThreadEnd)|evSameStack|evArgZero|evSameThread)),
			5, 0, "the record holds 2 events, more than the 1 it says are left"},
		{"forged events left", file(meta, strs, procs, threads, stacks, rec(recEvents, uint64(1<<62), 1, 0, byte(KindThreadStart)|evSameStack|evArgZero, 0), rec(recEnd, 0, 1)),
			6, -1, "announced 4611686018427387903 more events than they hold"},
		{"both arg flags", file(meta, strs, procs, threads, stacks, rec(recEvents, 1, 1, 0, byte(KindThreadStart)|evSameStack|evArgZero|evArgRaw, 0)), 5, 0, "both the arg-zero and the arg-raw flag"},
		{"end count", file(meta, strs, procs, threads, stacks, start, rec(recEnd, 0, 5)), 6, -1, "the end record counts 5 events, the file holds 1"},
		{"unknown end flags", file(meta, rec(recEnd, 0, 0, 6)), 1, -1, "unknown flags 0x6 in the end record"},
		{"zero end flags", file(meta, rec(recEnd, 0, 0, 0)), 1, -1, "flags 0 in the end record"},
		{"data after the end", append(file(meta, rec(recEnd, 0, 0)), 0), 2, -1, "data after the end record"},
		{"invalid trace", file(meta, rec(recEnd, 0, 0)), -2, -1, `string 0 must be ""`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read(bytes.NewReader(tc.file))
			if got != nil || err == nil {
				t.Fatalf("Read = %v, %v; want an error", got, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Read error %q, want it to contain %q", err, tc.want)
			}
			if tc.record == -2 {
				return
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Read error %v is not a *FormatError", err)
			}
			if fe.Record != tc.record || fe.Event != tc.event {
				t.Fatalf("error at record %d event %d, want record %d event %d: %v", fe.Record, fe.Event, tc.record, tc.event, err)
			}
		})
	}
}

func TestReadHeader(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		truncated bool
		want      string
	}{
		{"empty", "", true, "cut off at byte 0"},
		{"short magic", "GILT", true, "expected the 12-byte header"},
		{"not a trace", "hello, world", false, `not a giltrace file: starts with "hello, world"`},
		{"short other file", "PK", false, "not a giltrace file"},
		{"version", "GILTRACE\x07\x00\x00\x00", false, "unsupported format version 7"},
		{"no records", "GILTRACE\x01\x00\x00\x00", true, "in record 0 after 0 complete events"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read(strings.NewReader(tc.file))
			var te *TruncatedError
			if got != nil || err == nil || errors.As(err, &te) != tc.truncated || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Read = %v, %v; want an error containing %q (truncated: %v)", got, err, tc.want, tc.truncated)
			}
		})
	}
}

// TestReadLongLength: a record claiming 60 MiB in a short file is reported
// as cut off, without allocating the 60 MiB first.
func TestReadLongLength(t *testing.T) {
	b := file(append([]byte{recMeta}, appendMeta(nil, &Meta{})...))
	b = append(b, recStrings)
	b = binary.AppendUvarint(b, 60<<20)
	b = append(b, "abc"...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Read(bytes.NewReader(b))
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
		t.Errorf("Read allocated %d bytes for a 3-byte payload", n)
	}
	var te *TruncatedError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "expected a 62914560-byte payload, got 3 bytes") {
		t.Fatalf("err = %v", err)
	}
	b = file(append([]byte{recMeta}, appendMeta(nil, &Meta{})...))
	b = append(b, recStrings)
	b = binary.AppendUvarint(b, 100<<20)
	if _, err := Read(bytes.NewReader(b)); err == nil || !strings.Contains(err.Error(), "exceeds the 67108864-byte limit") {
		t.Fatalf("err = %v", err)
	}
}

// TestFixtureTraces reads the runs recorded from every fixture workload
// (fixtures/traces): they are valid, and writing them again gives the same
// bytes, so the format has not changed under them. With -update it writes
// them in that canonical form (version 1, as Write writes): record streams
// version 2, and the scripts that record the fixtures run this after.
func TestFixtureTraces(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "fixtures", "traces", "*.giltrace"))
	if err != nil || len(files) == 0 {
		t.Skipf("no recorded fixtures (%v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := Read(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			again := encode(t, tr)
			if golden.Updating() && !bytes.Equal(again, b) {
				if err := os.WriteFile(f, again, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !bytes.Equal(again, b) {
				t.Fatalf("writing it again gives %d different bytes (was %d)", len(again), len(b))
			}
		})
	}
}

// file2 is file in version 2 (a stream's format).
func file2(recs ...[]byte) []byte {
	b := file(recs...)
	binary.LittleEndian.PutUint32(b[len(Magic):], StreamVersion)
	return b
}

// TestReadDamagedStream: version 2's per-thread event records whose
// contents are wrong part-way through (the thread's chunks have taken
// some of them): the error names the record and the event, counted over
// the file; salvaged, the trace keeps the events before the last sync.
func TestReadDamagedStream(t *testing.T) {
	meta, strs, procs, threads, stacks := tableRecs(2)
	const h = evSameThread | evSameStack | evArgZero
	// Thread 0 starts, then 300 I/O begin-and-end events in records of 100
	// (its chunks: 1, 100, 200, 400 events), and thread 1 starts; a sync
	// at 50.
	good := func(th, from int) []byte {
		fields := []any{th, 100}
		for k := range 100 {
			kind := KindIOBegin
			if (from+k)%2 == 1 {
				kind = KindIOEnd
			}
			fields = append(fields, 1, byte(kind)|h)
		}
		return rec(recEvents, fields...)
	}
	start := rec(recEvents, 0, 1, 0, byte(KindThreadStart)|h)
	start1 := rec(recEvents, 1, 1, 0, byte(KindThreadStart)|h)
	sync := rec(recSync, 50)
	bad := func(at int) []byte { // 100 events, the one at index at of kind 0
		fields := []any{0, 100}
		for k := range 100 {
			kind := byte(KindIOBegin)
			if k%2 == 1 {
				kind = byte(KindIOEnd)
			}
			if k == at {
				kind = 0
			}
			fields = append(fields, 1, kind|h)
		}
		return rec(recEvents, fields...)
	}
	for _, tc := range []struct {
		name          string
		recs          [][]byte
		record, event int
	}{
		{"first record", [][]byte{meta, strs, procs, threads, stacks, bad(0)}, 5, 0},
		{"part-way", [][]byte{meta, strs, procs, threads, stacks, start, start1, sync, good(0, 0), good(0, 100), bad(57)}, 10, 1 + 1 + 200 + 57},
		{"past the first chunk", [][]byte{meta, strs, procs, threads, stacks, start, start1, sync, good(0, 0), good(0, 100), good(0, 200), bad(99)}, 11, 1 + 1 + 300 + 99},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := file2(tc.recs...)
			got, err := Read(bytes.NewReader(b))
			var fe *FormatError
			if got != nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), "invalid event kind 0") {
				t.Fatalf("Read = %v, %v; want a FormatError, invalid event kind 0", got, err)
			}
			if fe.Record != tc.record || fe.Event != tc.event {
				t.Fatalf("error at record %d event %d, want record %d event %d: %v", fe.Record, fe.Event, tc.record, tc.event, err)
			}
			s, err := ReadOptions{Salvage: true}.Read(bytes.NewReader(b))
			if tc.record == 5 {
				if s != nil && len(s.Events) > 0 {
					t.Fatalf("salvaged %d events from a file with no sync", len(s.Events))
				}
				return
			}
			var se *SalvagedError
			if s == nil || !errors.As(err, &se) || s.Salvaged == "" {
				t.Fatalf("salvage: %v, %v; want the trace before the damage", s, err)
			}
			// The sync at 50 vouches for the events before it: the two
			// starts and thread 0's first 49 I/O events.
			if len(s.Events) != 2+49 {
				t.Fatalf("salvaged %d events, want %d", len(s.Events), 2+49)
			}
			for i := 1; i < len(s.Events); i++ {
				if Less(&s.Events[i], &s.Events[i-1]) {
					t.Fatalf("salvaged events out of order at %d", i)
				}
			}
		})
	}
}
