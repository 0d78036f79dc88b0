package perfetto

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/exporters/report"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
	"google.golang.org/protobuf/encoding/protowire"
)

// slice is a decoded slice or instant: its track, name and bounds.
type slice struct {
	track      uint64
	name       string
	start, end int64
}

// decoded is what a reader of the trace sees.
type decoded struct {
	tracks   map[uint64]string // uuid -> name (the thread's or process's for their tracks)
	tids     map[uint64]uint64 // a thread track's uuid -> its tid
	parents  map[uint64]uint64
	slices   []slice
	instants []slice
	flowsOut map[uint64]int // flow id -> times it left a slice
	flowsIn  map[uint64]int
	packets  int
}

// fields splits a message into its fields, failing on malformed input.
func fields(t *testing.T, b []byte, fn func(num protowire.Number, typ protowire.Type, v uint64, bs []byte)) {
	t.Helper()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		var v uint64
		var bs []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			bs, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			t.Fatalf("field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
		fn(num, typ, v, bs)
	}
}

// decode reads a whole trace back, as trace_processor does: per packet
// sequence its incremental state (cleared by the sequence's first packet,
// which its other packets need), incremental timestamps and interned names;
// then every event of every sequence sorted by time, ties in file order
// (its TraceSorter), slices matched per track, flows followed in that
// order.
func decode(t *testing.T, b []byte) *decoded {
	t.Helper()
	d := &decoded{tracks: map[uint64]string{}, tids: map[uint64]uint64{}, parents: map[uint64]uint64{}, flowsOut: map[uint64]int{}, flowsIn: map[uint64]int{}}
	type sequence struct {
		cleared, incremental bool
		last                 int64
		track                uint64 // the default track of its events, 0 for none
		names                map[uint64]string
	}
	seqs := map[uint64]*sequence{}
	type event struct {
		ts      int64
		typ     uint64
		track   uint64
		name    string
		out, in []uint64
	}
	var events []event
	fields(t, b, func(num protowire.Number, _ protowire.Type, _ uint64, pkt []byte) {
		if num != fTracePacket {
			t.Fatalf("Trace field %d, want only packets", num)
		}
		d.packets++
		var ts, seqID, flags, defTrack uint64
		var hasTS, hasDefaults, incremental bool
		var te, interned []byte
		fields(t, pkt, func(num protowire.Number, _ protowire.Type, v uint64, bs []byte) {
			switch num {
			case fPktTimestamp:
				ts, hasTS = v, true
			case fPktSequenceID:
				seqID = v
			case fPktSequenceFlags:
				flags = v
			case fPktDefaults:
				hasDefaults = true
				fields(t, bs, func(num protowire.Number, _ protowire.Type, v uint64, bs []byte) {
					switch num {
					case fDefaultsClock:
						incremental = v == clockIncremental
					case fDefaultsTrackEvent:
						fields(t, bs, func(num protowire.Number, _ protowire.Type, v uint64, _ []byte) {
							if num == fTEDefaultsTrackUUID {
								defTrack = v
							}
						})
					}
				})
			case fPktInternedData:
				interned = bs
			case fPktTrackDesc:
				var uuid, parent uint64
				var name string
				fields(t, bs, func(num protowire.Number, _ protowire.Type, v uint64, bs []byte) {
					switch num {
					case fTDUUID:
						uuid = v
					case fTDParent:
						parent = v
					case fTDName:
						name = string(bs)
					case fTDProcess, fTDThread:
						thread := num == fTDThread
						fields(t, bs, func(num protowire.Number, _ protowire.Type, v uint64, bs []byte) {
							if num == fProcName || num == fThreadName {
								name = string(bs)
							}
							if thread && num == fThreadTID {
								d.tids[uuid] = v
							}
						})
					}
				})
				d.tracks[uuid], d.parents[uuid] = name, parent
			case fPktTrackEvent:
				te = bs
			}
		})
		if seqID == 0 {
			if te != nil || interned != nil {
				t.Fatalf("packet %d: an event or interned data outside a sequence", d.packets)
			}
			return
		}
		sq := seqs[seqID]
		if sq == nil {
			sq = &sequence{}
			seqs[seqID] = sq
		}
		if flags&seqIncrementalStateCleared != 0 {
			*sq = sequence{cleared: true, names: map[uint64]string{}}
		}
		if (te != nil || interned != nil || flags&seqNeedsIncrementalState != 0) && !sq.cleared {
			// The event packets carry no SEQ_NEEDS_INCREMENTAL_STATE, but
			// each needs its sequence's state (clock, names, track).
			t.Fatalf("packet %d of sequence %d needs incremental state its sequence never cleared", d.packets, seqID)
		}
		if hasDefaults {
			sq.incremental, sq.track = incremental, defTrack
		}
		if interned != nil {
			fields(t, interned, func(num protowire.Number, _ protowire.Type, _ uint64, en []byte) {
				var iid uint64
				var name string
				fields(t, en, func(num protowire.Number, _ protowire.Type, v uint64, bs []byte) {
					if num == fNameIID {
						iid = v
					} else if num == fNameName {
						name = string(bs)
					}
				})
				sq.names[iid] = name
			})
		}
		if te == nil {
			return
		}
		if !hasTS || !sq.incremental {
			t.Fatalf("event packet %d without an incremental timestamp", d.packets)
		}
		if int64(ts) < 0 {
			t.Fatalf("event packet %d: a negative timestamp delta (%d): its sequence goes back in time", d.packets, int64(ts))
		}
		sq.last += int64(ts)
		e := event{ts: sq.last, track: sq.track}
		var iid uint64
		fields(t, te, func(num protowire.Number, _ protowire.Type, v uint64, _ []byte) {
			switch num {
			case fTEType:
				e.typ = v
			case fTETrackUUID:
				e.track = v
			case fTENameIID:
				iid = v
			case fTEFlowIDs:
				e.out = append(e.out, v)
			case fTETermFlowID:
				e.in = append(e.in, v)
			}
		})
		if _, ok := d.tracks[e.track]; !ok {
			t.Fatalf("event on undescribed track %d", e.track)
		}
		name, ok := sq.names[iid]
		if iid != 0 && !ok {
			t.Fatalf("name iid %d used before its sequence %d interned it", iid, seqID)
		}
		e.name = name
		events = append(events, e)
	})
	slices.SortStableFunc(events, func(a, b event) int { return cmp.Compare(a.ts, b.ts) })
	open := map[uint64][]slice{}
	for _, e := range events {
		for _, f := range e.out {
			d.flowsOut[f]++
		}
		for _, f := range e.in {
			if d.flowsOut[f] == 0 {
				t.Errorf("flow %d enters a slice at %d before it left one", f, e.ts)
			}
			d.flowsIn[f]++
		}
		switch e.typ {
		case typeSliceBegin:
			open[e.track] = append(open[e.track], slice{track: e.track, name: e.name, start: e.ts})
		case typeSliceEnd:
			st := open[e.track]
			if len(st) == 0 {
				t.Fatalf("slice end at %d on track %d (%s) with no open slice", e.ts, e.track, d.tracks[e.track])
			}
			s := st[len(st)-1]
			open[e.track] = st[:len(st)-1]
			s.end = e.ts
			d.slices = append(d.slices, s)
		case typeInstant:
			d.instants = append(d.instants, slice{track: e.track, name: e.name, start: e.ts, end: e.ts})
		default:
			t.Fatalf("event type %d", e.typ)
		}
	}
	for track, st := range open {
		if len(st) > 0 {
			t.Errorf("%d slices left open on track %d", len(st), track)
		}
	}
	return d
}

// export writes the Perfetto trace of s, with the report's warnings
// (those of a cut real program's trace: its tracing cost).
func export(t testing.TB, s *tracer.Spans) []byte {
	var b bytes.Buffer
	if err := New(&b).WithWarnings(report.Warnings(s)).Export(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestRoundTrip writes each scenario and fixture, reads it back in full,
// and finds every state span, call, GIL hold, drop request and handoff
// flow in it, with its exact times.
func TestRoundTrip(t *testing.T) {
	traces := map[string]*tracer.Trace{"mixed": testkit.Mixed(), "countdown": testkit.Countdown(5), "large": testkit.Large(20000)}
	for _, c := range append(testkit.Scenarios(), testkit.Fixtures(t)...) {
		traces[c.Name] = c.Trace
	}
	for name, tr := range traces {
		t.Run(name, func(t *testing.T) {
			s := tracer.Derive(tr)
			d := decode(t, export(t, s))
			checkTrace(t, s, d)
		})
	}
}

func checkTrace(t *testing.T, s *tracer.Spans, d *decoded) {
	tr := s.Trace
	l := newLayout(tr)
	// The tids are trace.json's (tracer.TrackTIDs; QA: they were one
	// lower per process, trace.json numbering each GIL track too).
	tids, _ := tracer.TrackTIDs(tr)
	for i := range tr.Threads {
		if got := d.tids[uint64(l.thread[i])]; got != uint64(tids[i]) {
			t.Errorf("thread %d (%s): tid %d, want %d", i, tr.Threads[i].Name, got, tids[i])
		}
	}
	got := map[string]int{}
	for _, sl := range d.slices {
		got[fmt.Sprint(sl.track, sl.name, sl.start, sl.end)]++
	}
	want := func(what string, track32 uint32, name string, start, end int64) {
		track := uint64(track32)
		k := fmt.Sprint(track, name, start, end)
		if got[k] == 0 {
			t.Errorf("%s %q [%d, %d) on track %d (%s) missing", what, name, start, end, track, d.tracks[track])
			return
		}
		got[k]--
	}
	for _, sp := range s.States {
		if sp.End > sp.Start {
			want("state", l.state[sp.Thread], sp.State.String(), sp.Start, sp.End)
		}
	}
	for _, c := range s.Calls {
		if c.End > c.Start {
			want("call", l.thread[c.Thread], tr.Frames[tr.Stacks[c.Stack].Frame].Func, c.Start, c.End)
		}
	}
	for _, h := range s.Holds {
		if p, ok := l.gilProc[h.Lock]; ok && h.End > h.Start {
			want("hold", l.gil[p], tr.Threads[h.Thread].Name, h.Start, h.End)
		}
	}
	for k, n := range got {
		if n != 0 {
			t.Errorf("unexpected slice %s (x%d)", k, n)
		}
	}
	// The run's warnings: instants at 0 on their own track (written last;
	// read back in time order, before a drop request's instants).
	warnings := report.Warnings(s)
	var warned []string
	d.instants = slices.DeleteFunc(d.instants, func(w slice) bool {
		if w.track != uint64(l.warnings) {
			return false
		}
		if w.start != 0 || d.tracks[w.track] != "Warnings" {
			t.Errorf("warning %+v on track %q, want at 0 on track Warnings", w, d.tracks[w.track])
		}
		warned = append(warned, strings.TrimPrefix(w.name, "Warning: "))
		return true
	})
	if !slices.Equal(warned, warnings) {
		t.Errorf("warnings %q, want the report's %q", warned, warnings)
	}
	if len(d.instants) != len(s.DropRequests) {
		t.Errorf("%d instants, want %d drop requests", len(d.instants), len(s.DropRequests))
	}
	for i, dr := range s.DropRequests {
		if i < len(d.instants) && (d.instants[i].start != dr.Time || d.instants[i].name != "drop request") {
			t.Errorf("instant %d = %+v, want the drop request at %d", i, d.instants[i], dr.Time)
			break
		}
	}
	flows := 0
	for _, h := range s.Handoffs {
		if h.From != tracer.NoThread && h.From != h.To {
			flows++
		}
	}
	paired := 0
	for id, n := range d.flowsOut {
		if n != 1 || d.flowsIn[id] > 1 {
			t.Errorf("flow %d leaves %d slices and enters %d", id, n, d.flowsIn[id])
		}
		if d.flowsIn[id] == 1 {
			paired++
		}
	}
	// A flow needs the releaser's slice to end at the release and the
	// acquirer's to begin at the acquire: a handoff to a thread that
	// ends there has none. Nearly every handoff is drawn.
	if paired > flows || paired < flows*9/10 {
		t.Errorf("%d flows paired, want (nearly) the %d handoffs", paired, flows)
	}
	for i, th := range tr.Threads {
		if d.tracks[uint64(l.thread[i])] != th.Name || d.parents[uint64(l.state[i])] != uint64(l.thread[i]) {
			t.Errorf("thread %d's tracks: %q, state track's parent %d", i, d.tracks[uint64(l.thread[i])], d.parents[uint64(l.state[i])])
		}
	}
}

// TestSize checks the budget of issue 15: at most 40 bytes per event of
// the run, on a run of 1 M events.
func TestSize(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 1 M-event trace")
	}
	tr := testkit.Large(1_000_000)
	b := export(t, tracer.Derive(tr))
	per := float64(len(b)) / float64(len(tr.Events))
	t.Logf("%d events: %d bytes, %.1f bytes per event", len(tr.Events), len(b), per)
	if per > 40 {
		t.Errorf("%.1f bytes per event, want at most 40", per)
	}
}

// BenchmarkExport writes a 1 M-event run and reports the size per event.
func BenchmarkExport(b *testing.B) {
	tr := testkit.Large(1_000_000)
	s := tracer.Derive(tr)
	var n int
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var w countWriter
		if err := New(&w).Export(context.Background(), s); err != nil {
			b.Fatal(err)
		}
		n = int(w)
	}
	b.ReportMetric(float64(n)/float64(len(tr.Events)), "bytes/event")
	b.ReportMetric(float64(len(tr.Events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// TestCutTraces writes real programs' traces cut off mid-write at many
// points and reads each back: every slice begin has its end, after it, on
// its track, and every span is there (QA: a call begun at the cut, of no
// length, was written end first, leaving an end with no open slice on
// MainThread's track and the begin open). A call of no length is left out,
// as trace.json leaves it out.
func TestCutTraces(t *testing.T) {
	cases := cutTraces(t)
	if len(cases) < 20 {
		t.Errorf("%d cuts, want 20 at least", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			s := tracer.Derive(c.Trace)
			checkTrace(t, s, decode(t, export(t, s)))
		})
	}
}

// cutTraces is real programs' traces (fixtures/traces/python-*) cut off
// every 500 bytes, read as giltrace reads a file cut off mid-write (the
// complete part); each complete part once.
func cutTraces(t *testing.T) []testkit.Case {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(testkit.FixtureDir(), "python-*.giltrace"))
	if len(files) == 0 {
		t.Skip("no fixture traces")
	}
	var cases []testkit.Case
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		name, prev := strings.TrimSuffix(filepath.Base(file), ".giltrace"), 0
		for n := 500; n < len(data); n += 500 {
			tr, _ := tracer.ReadOptions{Salvage: true}.Read(bytes.NewReader(data[:n]))
			if tr == nil || len(tr.Events) == prev {
				continue // cut in the tables, before the first events, or in the record cut before
			}
			prev = len(tr.Events)
			cases = append(cases, testkit.Case{Name: fmt.Sprintf("%s-cut-%d", name, n), Trace: tr})
		}
	}
	return cases
}

// failAfter is a writer that fails once n bytes were written.
type failAfter struct{ n int }

func (w *failAfter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, fmt.Errorf("no space left on device")
	}
	w.n -= len(p)
	return len(p), nil
}

// cancelAfter is a writer that cancels once n bytes were written.
type cancelAfter struct {
	n      int
	cancel func()
}

func (w *cancelAfter) Write(p []byte) (int, error) {
	if w.n -= len(p); w.n <= 0 {
		w.cancel()
	}
	return len(p), nil
}

// TestExportStops: a done context stops the export with its error, and a
// writer that fails (a full disk), at any point, fails it with the
// writer's error named, without a panic.
func TestExportStops(t *testing.T) {
	s := tracer.Derive(testkit.Large(200_000))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := New(io.Discard).Export(ctx, s); err != context.Canceled {
		t.Errorf("cancelled: %v, want %v", err, context.Canceled)
	}
	// Cancelled midway, as a signal does: by the writer, once the first
	// 64 KiB are out.
	ctx, cancel = context.WithCancel(context.Background())
	w := &cancelAfter{n: 1 << 16, cancel: cancel}
	if err := New(w).Export(ctx, s); err != context.Canceled {
		t.Errorf("cancelled midway: %v, want %v", err, context.Canceled)
	}
	var whole bytes.Buffer
	if err := New(&whole).Export(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 10, 1 << 16, whole.Len() / 2, whole.Len() - 1} {
		err := New(&failAfter{n}).Export(context.Background(), s)
		if err == nil || !strings.Contains(err.Error(), "writing the Perfetto trace: no space left on device") {
			t.Errorf("failing after %d of %d bytes: %v", n, whole.Len(), err)
		}
	}
}
