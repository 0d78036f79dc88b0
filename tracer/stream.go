package tracer

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sync"
	"time"
)

// StreamFlush is how often a Stream writes the events recorded since its
// last flush: 250 ms, so that a crash loses well under a second of a run
// while each flush still writes thousands of events per record.
const StreamFlush = 250 * time.Millisecond

// streamSync is how often a Stream makes what it wrote durable (fsync),
// when its writer can (a *os.File): 1 s, so that a power loss loses at most
// about a second more than a crash, for one fsync a second.
const streamSync = time.Second

// Stream writes the trace of a run while it is recorded, in the .giltrace
// format version 2 (docs/trace-format.md): a goroutine writes, every
// StreamFlush, the table rows and the events that the Recorder's buffers
// published since the last flush, each thread's events in records of their
// own, and a sync record that bounds what a reader of a cut-off file may
// trust. The recorder's hot path takes no lock for it (see Buffer).
//
// A process killed or a machine that loses power mid-run leaves a file cut
// off after its last flush; Read returns its complete prefix, up to the
// last sync time, as a truncated trace: at most about 2 x StreamFlush of
// the run is lost to a crash, and streamSync more to a power loss. These
// are real (wall) time: a run in virtual time, computed far faster than it
// simulates, may be lost whole (it is recomputed exactly by running it
// again).
//
// Use it through tracer.Record: WithStream(ctx, s) makes Record stream
// into s. A Stream is used for one run; its methods are safe for
// concurrent use.
type Stream struct {
	sync  func() error // the writer's Sync, if it has one
	start Meta         // the provisional metadata, written first

	mu       sync.Mutex
	w        writer
	rec      *Recorder
	tables   [6]int      // rows of each table written
	pos      []streamPos // per buffer: what was written of it
	threads  []streamThread
	events   uint64  // events written
	maxTime  int64   // the latest event time written
	prevMax  int64   // maxTime at the previous flush
	quiet    []int64 // per buffer (thread), its promise (Buffer.Quiet) as of this flush
	syncTime int64   // the last sync time written
	synced   time.Time
	stop     chan struct{}
	done     chan struct{}
	finished bool
	// provisional: a LiveSource's provisional recording was streamed
	// (Record sets it before the run).
	provisional bool
}

// Provisional reports whether the stream holds a provisional recording
// (a LiveSource's): the file is then for a crash to leave, and the trace
// Record returned must be written over it once the run is over.
func (s *Stream) Provisional() bool { return s.provisional }

type streamPos struct {
	chunk int // index of the chunk being written
	off   int // events of it written
}

// streamThread is a thread's encoding state and what was written of it.
type streamThread struct {
	threadCoder
	any   bool // an event was written
	ended bool // its thread-end was written
}

// threadCoder is the state a thread's events are encoded against in
// version 2: its previous event's time and stack.
type threadCoder struct {
	time  int64
	stack StackID
}

// NewStream returns a Stream writing to w. start is the metadata known
// before the run (its workload, GIL mode, start time...): the file begins
// with it, so that a cut-off file has it, and the metadata the source
// returns at the end of the run replaces it.
func NewStream(w io.Writer, start Meta) *Stream {
	s := &Stream{start: start, w: writer{bw: newBufWriter(w)}}
	if f, ok := w.(interface{ Sync() error }); ok {
		s.sync = f.Sync
	}
	return s
}

// Err returns the first error writing the stream, if any: the file then
// lacks what followed it, and the caller should write the finished trace
// by other means (Write).
func (s *Stream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w.err != nil {
		return fmt.Errorf("streaming trace: %w", s.w.err)
	}
	return nil
}

// Complete reports whether the stream holds the whole run: it was
// finished (its end record written) with no error writing it.
func (s *Stream) Complete() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.finished && s.w.err == nil
}

type streamKey struct{}

// WithStream returns ctx carrying s: Record streams the run it records
// into s. (The context carries it because sources such as the VM build the
// Recorder's Config themselves.)
func WithStream(ctx context.Context, s *Stream) context.Context {
	return context.WithValue(ctx, streamKey{}, s)
}

func streamOf(ctx context.Context) *Stream {
	s, _ := ctx.Value(streamKey{}).(*Stream)
	return s
}

// begin writes the header and the provisional metadata, and starts
// flushing rec every StreamFlush.
func (s *Stream) begin(rec *Recorder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec = rec
	rec.mu.Lock()
	rec.streamed = true // before any thread: its buffer publishes its events
	rec.mu.Unlock()
	s.synced = time.Now()
	s.w.bw.WriteString(Magic)
	s.w.bw.Write(binary.LittleEndian.AppendUint32(nil, StreamVersion))
	s.w.record(recMeta, appendMeta(s.w.buf[:0], &s.start))
	s.flushLocked(false)
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.loop()
}

func (s *Stream) loop() {
	defer close(s.done)
	tick := time.NewTicker(StreamFlush)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			s.mu.Lock()
			if s.w.err == nil {
				s.flushLocked(false)
			}
			s.mu.Unlock()
		}
	}
}

// finish writes what is left, once every Buffer is done: the last events,
// the source's metadata and the end record, then makes the file durable.
func (s *Stream) finish(meta Meta) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return
	}
	s.finished = true
	s.flushLocked(true)
	s.w.record(recMeta, appendMeta(s.w.buf[:0], &meta))
	var dropped uint64
	cut := int64(-1)
	for _, b := range s.rec.bufs {
		dropped += b.dropped
		if at := b.dropAt.Load(); at >= 0 && (cut < 0 || at < cut) {
			cut = at
		}
	}
	end := binary.AppendUvarint(s.w.buf[:0], dropped)
	end = binary.AppendUvarint(end, s.events)
	if cut >= 0 {
		end = binary.AppendUvarint(end, endCut)
		end = binary.AppendUvarint(end, uint64(cut))
	}
	s.w.record(recEnd, end)
	s.flushFile(true)
	// The recorder's buffers, merged into the trace by now, are garbage
	// once the stream lets them go: record frees their memory before
	// deriving the spans, while the trace is saved.
	s.rec = nil
}

// segment is events of one thread published since the last flush.
type segment struct {
	thread ThreadID
	events []Event
}

// flushLocked writes what the buffers published since the last flush:
//  1. under the Recorder's lock, the published events of every buffer
//     (their counts are loaded before the tables are read: a row an event
//     refers to was added before the event was published), then the new
//     table rows and the drop times;
//  2. the table rows, then each thread's events, in records of at most
//     batchEvents events;
//  3. a sync record (not on the final flush, which the end record closes);
//  4. the buffered bytes, to the file, made durable every streamSync.
func (s *Stream) flushLocked(final bool) {
	r := s.rec
	var segs []segment
	r.mu.Lock()
	// The threads' promises before their published events: a promise
	// made after events were published is read with them.
	s.quiet = s.quiet[:0]
	for _, b := range r.bufs {
		s.quiet = append(s.quiet, b.quiet.Load())
	}
	for i, b := range r.bufs {
		if i == len(s.pos) {
			s.pos = append(s.pos, streamPos{})
		}
		p := &s.pos[i]
		for p.chunk < len(b.chunks) {
			var evs []Event
			switch {
			case final: // every buffer is done
				evs = b.events(p.chunk)
			case p.chunk < len(b.chunks)-1: // handed over full
				evs = b.chunks[p.chunk].ev
			default: // the current chunk: what was published
				c := b.chunks[p.chunk]
				evs = c.ev[:c.n.Load()]
			}
			if p.off < len(evs) {
				segs = append(segs, segment{b.thread, evs[p.off:]})
				p.off = len(evs)
			}
			if p.chunk == len(b.chunks)-1 {
				break // the current chunk: it may grow
			}
			p.chunk, p.off = p.chunk+1, 0
		}
	}
	strs := r.strings[s.tables[0]:]
	procs := append([]Process(nil), r.procs[s.tables[1]:]...) // AddLock changes a process's GIL
	threads := r.threads[s.tables[2]:]
	locks := r.locks[s.tables[3]:]
	frames := r.frames[s.tables[4]:]
	stacks := r.stacks[s.tables[5]:]
	nthreads := len(r.threads)
	cut := int64(math.MaxInt64)
	for _, b := range r.bufs {
		if at := b.dropAt.Load(); at >= 0 {
			cut = min(cut, at)
		}
	}
	r.mu.Unlock()

	w := &s.w
	writeTable(w, recStrings, strs, func(b []byte, s *string) []byte { return appendString(b, *s) })
	writeTable(w, recProcs, procs, appendProcess)
	writeTable(w, recThreads, threads, appendThread)
	writeTable(w, recLocks, locks, appendLock)
	writeTable(w, recFrames, frames, appendFrame)
	writeTable(w, recStacks, stacks, appendStack)
	s.tables[0] += len(strs)
	s.tables[1] += len(procs)
	s.tables[2] += len(threads)
	s.tables[3] += len(locks)
	s.tables[4] += len(frames)
	s.tables[5] += len(stacks)
	for len(s.threads) < nthreads {
		s.threads = append(s.threads, streamThread{})
	}
	for _, sg := range segs {
		s.writeEvents(sg)
	}
	if !final {
		s.writeSync(nthreads, cut)
	}
	s.flushFile(final)
}

// writeEvents writes a thread's events in records of at most batchEvents.
// Stats says how far the run has gone, as of the stream's last flush
// (every StreamFlush): the threads started, those of them ended, and the
// events written. For progress lines; it does not slow the recording.
func (s *Stream) Stats() (threads, ended int, events uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.threads {
		if s.threads[i].any {
			threads++
			if s.threads[i].ended {
				ended++
			}
		}
	}
	return threads, ended, s.events
}

func (s *Stream) writeEvents(sg segment) {
	th := &s.threads[sg.thread]
	for evs := sg.events; len(evs) > 0 && s.w.err == nil; {
		batch := evs[:min(len(evs), batchEvents)]
		evs = evs[len(batch):]
		b := binary.AppendUvarint(s.w.buf[:0], uint64(sg.thread))
		b = binary.AppendUvarint(b, uint64(len(batch)))
		for i := range batch {
			b = th.append(b, &batch[i])
		}
		s.w.record(recEvents, b)
		last := &batch[len(batch)-1]
		th.any, th.ended = true, last.Kind == KindThreadEnd
		s.maxTime = max(s.maxTime, last.Time)
		s.events += uint64(len(batch))
	}
}

// append encodes e, an event of this thread, in version 2: as in version
// 1, with the thread's own state and the same-thread bit always set.
func (ts *threadCoder) append(b []byte, e *Event) []byte {
	h, compact := eventHeader(e, true, e.Stack == ts.stack)
	b = binary.AppendUvarint(b, uint64(e.Time-ts.time))
	b = append(b, h)
	if h&evSameStack == 0 {
		b = binary.AppendUvarint(b, uint64(e.Stack))
	}
	b = appendArg(b, e, compact)
	ts.time, ts.stack = e.Time, e.Stack
	return b
}

// writeSync writes a sync record: the time before which every event of
// every thread is in the file. A thread that wrote an event since the last
// flush is complete up to its last event; a thread that wrote none (it
// waits, sleeps in I/O, or has not started) is taken to be silent up to
// the latest event time of the previous flush, StreamFlush ago: an event
// it emits later reads the clock after that. A thread that promised more
// (Buffer.Quiet) is silent up to its promise. Events past a drop are cut.
func (s *Stream) writeSync(nthreads int, cut int64) {
	if s.events == 0 {
		return // nothing to vouch for: the threads may not have started
	}
	sync := s.maxTime + 1
	for i := range nthreads {
		th := &s.threads[i]
		if th.ended {
			continue
		}
		w := s.prevMax
		if th.any {
			w = max(w, th.time+1)
		}
		if i < len(s.quiet) {
			w = max(w, s.quiet[i])
		}
		sync = min(sync, w)
	}
	sync = min(sync, cut)
	s.prevMax = s.maxTime
	if sync <= s.syncTime {
		return
	}
	s.syncTime = sync
	s.w.record(recSync, binary.AppendUvarint(s.w.buf[:0], uint64(sync)))
}

// flushFile writes the buffered bytes and, every streamSync or when final,
// makes them durable.
func (s *Stream) flushFile(final bool) {
	if s.w.err != nil {
		return
	}
	if err := s.w.bw.Flush(); err != nil {
		s.w.err = err
		return
	}
	if s.sync != nil && (final || time.Since(s.synced) >= streamSync) {
		s.synced = time.Now()
		if err := s.sync(); err != nil {
			s.w.err = err
		}
	}
}
