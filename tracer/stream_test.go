package tracer

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
)

// replay records tr again into a Recorder streaming into a Stream, adding
// each thread, frame and stack just before its first use (so that table
// rows follow events in the file) and flushing every flushEvery events, as
// the streaming goroutine would. It returns the stream's bytes and the
// Recorder's trace.
func replay(t testing.TB, tr *Trace, flushEvery int) ([]byte, *Trace) {
	t.Helper()
	var buf bytes.Buffer
	rec := NewRecorder(Config{})
	st := NewStream(&buf, Meta{Workload: "provisional"})
	st.begin(rec)
	for _, s := range tr.Strings[1:] {
		rec.Intern(s)
	}
	for _, p := range tr.Procs {
		rec.AddProcess(p.Name, p.PID)
	}
	for _, l := range tr.Locks {
		rec.AddLock(l.Name, l.Proc, l.GIL)
	}
	var bufs []*Buffer
	frames, stacks := 0, 1
	for i, e := range tr.Events {
		for len(bufs) <= int(e.Thread) {
			th := tr.Threads[len(bufs)]
			bufs = append(bufs, rec.NewThread(th.Name, th.Proc))
		}
		for ; stacks <= int(e.Stack); stacks++ {
			s := tr.Stacks[stacks]
			for ; frames <= int(s.Frame); frames++ {
				rec.AddFrame(tr.Frames[frames])
			}
			rec.Stack(s.Parent, s.Frame)
		}
		bufs[e.Thread].Emit(e.Time, e.Kind, e.Stack, e.Arg)
		if flushEvery > 0 && i%flushEvery == flushEvery-1 {
			flushNow(st)
		}
	}
	for len(bufs) < len(tr.Threads) {
		th := tr.Threads[len(bufs)]
		bufs = append(bufs, rec.NewThread(th.Name, th.Proc))
	}
	for ; frames < len(tr.Frames); frames++ {
		rec.AddFrame(tr.Frames[frames])
	}
	st.finish(tr.Meta)
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), rec.Finish(tr.Meta)
}

// StreamTrace is replay for the tests of package tracer_test.
func StreamTrace(t testing.TB, tr *Trace) []byte {
	b, _ := replay(t, tr, 97)
	return b
}

// TestStreamRoundTrip: a streamed trace reads back as the Recorder's
// trace, whatever the flushes.
func TestStreamRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name              string
		procs, threads, n int
		flushEvery        int
	}{
		{"one flush", 1, 2, 1000, 0},
		{"many flushes", 2, 4, 20000, 313},
		{"every event", 1, 3, 500, 1},
		{"several batches", 2, 4, 3*batchEvents + 17, 5000},
		// Each of 2 threads' events over the reader's chunks, doubling up
		// to maxChunk, cut from slabs that fill mid-chunk (carve).
		{"chunks and slabs", 1, 2, 3*maxChunk + 12345, 7919},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := genTrace(11, tc.procs, tc.threads, tc.n)
			tr.Dropped = 0
			b, want := replay(t, tr, tc.flushEvery)
			got, err := Read(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if d := diffTraces(got, want); d != "" {
				t.Fatal(d)
			}
			if d := diffTraces(got, tr); d != "" {
				t.Fatal(d)
			}
		})
	}
}

// TestStreamCut: every prefix of a streamed file is either refused before
// the events or read as a valid truncated trace whose events are a prefix
// of the whole trace's.
func TestStreamCut(t *testing.T) {
	tr := genTrace(5, 2, 3, 3000)
	tr.Dropped = 0
	b, want := replay(t, tr, 50)
	prev := -1
	for n := 0; n < len(b); n += 1 + n/200 {
		got, err := Read(bytes.NewReader(b[:n]))
		var te *TruncatedError
		if !errors.As(err, &te) {
			t.Fatalf("cut at %d: %v, want a TruncatedError", n, err)
		}
		if got == nil {
			continue
		}
		if !got.Truncated || len(got.Events) > len(want.Events) {
			t.Fatalf("cut at %d: truncated %v, %d events of %d", n, got.Truncated, len(got.Events), len(want.Events))
		}
		for i := range got.Events {
			if got.Events[i] != want.Events[i] {
				t.Fatalf("cut at %d: event %d is %+v, want %+v", n, i, got.Events[i], want.Events[i])
			}
		}
		if len(got.Events) < prev {
			t.Fatalf("cut at %d: %d events, fewer than the %d of a shorter cut", n, len(got.Events), prev)
		}
		prev = len(got.Events)
	}
	if prev < len(want.Events)/2 {
		t.Errorf("the longest cut kept %d of %d events", prev, len(want.Events))
	}
}

// TestStreamDropped: a run that hits the recorder's bound streams the
// events past it, and the reader cuts them as Finish does.
func TestStreamDropped(t *testing.T) {
	var buf bytes.Buffer
	rec := NewRecorder(Config{MaxEvents: 3000})
	st := NewStream(&buf, Meta{})
	st.begin(rec)
	rec.AddProcess("p", 1) // free-threaded: I/O needs no GIL
	var wg sync.WaitGroup
	for i := range 2 {
		b := rec.NewThread("t", 0)
		wg.Go(func() {
			b.Emit(int64(i), KindThreadStart, 0, 0)
			for k := range 2000 {
				b.Emit(int64(10+k*10+i), KindIOBegin, 0, 0)
				b.Emit(int64(15+k*10+i), KindIOEnd, 0, 0)
			}
			b.Emit(1<<40, KindThreadEnd, 0, 0)
		})
	}
	// Flush while the threads emit, as the streaming goroutine does (the
	// race detector checks the lock-free handover).
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for flushing := true; flushing; {
		select {
		case <-done:
			flushing = false
		default:
			flushNow(st)
		}
	}
	meta := Meta{Workload: "dropped"}
	st.finish(meta)
	want := rec.Finish(meta)
	got, err := Read(bytes.NewReader(buf.Bytes()))
	if want.Dropped == 0 {
		t.Fatal("no event dropped")
	}
	if got == nil {
		t.Fatalf("read: %v", err)
	}
	if d := diffTraces(got, want); d != "" {
		t.Fatal(d)
	}
}

// TestStreamLetsTheRecorderGo: a finished stream holds no reference to
// the recorder, whose buffers (merged into the trace by then) record
// frees before deriving the spans while the trace is saved beside it.
func TestStreamLetsTheRecorderGo(t *testing.T) {
	var buf bytes.Buffer
	st := NewStream(&buf, Meta{})
	tr, err := Record(WithStream(context.Background(), st), sourceFunc(func(ctx context.Context, rec *Recorder) (Meta, error) {
		b := rec.NewThread("main", rec.AddProcess("p", 1))
		b.Emit(1, KindThreadStart, 0, 0)
		b.Emit(2, KindThreadEnd, 0, 0)
		return Meta{}, nil
	}), Config{})
	if err != nil || len(tr.Events) != 2 {
		t.Fatalf("Record: %v, %d events", err, len(tr.Events))
	}
	if !st.Complete() {
		t.Fatal("stream not complete")
	}
	if st.rec != nil {
		t.Error("a finished stream still holds the recorder")
	}
}

type sourceFunc func(context.Context, *Recorder) (Meta, error)

func (f sourceFunc) Record(ctx context.Context, rec *Recorder) (Meta, error) { return f(ctx, rec) }

// twoThreadStream is a Stream of a Recorder of one free-threaded process
// (I/O needs no GIL) with threads a and b, begun, writing to buf.
func twoThreadStream() (buf *bytes.Buffer, st *Stream, rec *Recorder, a, b *Buffer) {
	buf = &bytes.Buffer{}
	rec = NewRecorder(Config{})
	st = NewStream(buf, Meta{})
	st.begin(rec)
	rec.AddProcess("p", 1)
	return buf, st, rec, rec.NewThread("a", 0), rec.NewThread("b", 0)
}

// flushNow makes st flush, as its goroutine does every StreamFlush.
func flushNow(st *Stream) {
	st.mu.Lock()
	st.flushLocked(false)
	st.mu.Unlock()
}

// TestBufferCut: a recording cut off at t (Buffer.Cut, the real-CPython
// source's provisional recording where it cannot go on) keeps no event at
// or after t, in the Recorder's trace and in a stream of it cut off
// (crashed) mid-run, whose sync times stay before t; the other thread's
// events after t, emitted before the cut, count as dropped.
func TestBufferCut(t *testing.T) {
	buf, st, rec, a, b := twoThreadStream()
	a.Emit(0, KindThreadStart, 0, 0)
	b.Emit(1, KindThreadStart, 0, 0)
	flush := func() { flushNow(st) }
	for k := range 100 {
		b.Emit(int64(10+k*10), KindIOBegin, 0, 0)
		b.Emit(int64(15+k*10), KindIOEnd, 0, 0)
		if k == 60 {
			a.Emit(500, KindIOBegin, 0, 0)
			a.Cut(700)
			a.Cut(600) // the earliest cut holds
			a.Cut(800)
		}
		if k%20 == 19 {
			flush()
		}
	}
	flush()
	crashed := append([]byte(nil), buf.Bytes()...) // the file as a crash now leaves it
	st.finish(Meta{})
	tr := rec.Finish(Meta{})
	if last := tr.Events[len(tr.Events)-1]; last.Time >= 600 || tr.Dropped == 0 {
		t.Errorf("the trace ends at %d with %d events dropped, want before the cut at 600, the events after it dropped", last.Time, tr.Dropped)
	}
	got, err := Read(bytes.NewReader(crashed))
	var te *TruncatedError
	if !errors.As(err, &te) || got == nil {
		t.Fatalf("reading the cut-off stream: %v", err)
	}
	if n := len(got.Events); n == 0 || got.Events[n-1].Time >= 600 || got.Events[n-1].Time < 400 {
		t.Errorf("the cut-off stream's prefix holds %d events, up to %d; want those up to the cut at 600, from 400 at least", n, got.Events[max(n-1, 0)].Time)
	}
}

// TestStreamQuiet: a thread silent since its last event holds a stream's
// sync times a flush behind the others' events, unless it promised to
// stay silent (Buffer.Quiet): the prefix of a stream cut off then reaches
// the promise, and no further.
func TestStreamQuiet(t *testing.T) {
	for _, promise := range []int64{0, 1_800, 10_000} {
		buf, st, _, a, b := twoThreadStream()
		a.Emit(0, KindThreadStart, 0, 0)
		a.Emit(5, KindIOBegin, 0, 0) // blocked from here
		b.Emit(1, KindThreadStart, 0, 0)
		for k := range 200 { // b's I/O calls up to 2000
			b.Emit(int64(10+k*10), KindIOBegin, 0, 0)
			b.Emit(int64(15+k*10), KindIOEnd, 0, 0)
			if k%50 == 49 {
				if k == 149 && promise > 0 {
					a.Quiet(promise)
				}
				flushNow(st)
			}
		}
		got, err := Read(bytes.NewReader(buf.Bytes()))
		if got == nil {
			t.Fatalf("promise %d: reading the cut-off stream: %v", promise, err)
		}
		// The last flush wrote b's events up to 2005, the one before up
		// to 1505: the sync times are before 1505 (no promise), before
		// the promise, or before 2006 (beyond it).
		want := map[int64]int64{0: 1500, 1_800: 1795, 10_000: 2005}[promise]
		if end := got.Events[len(got.Events)-1].Time; end != want {
			t.Errorf("promise %d: the prefix ends at %d, want %d", promise, end, want)
		}
		st.finish(Meta{})
	}
}
