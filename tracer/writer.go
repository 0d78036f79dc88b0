package tracer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
)

// Write writes t to w in the .giltrace format, as a stream: it buffers one
// record at a time, never the whole file. A Truncated trace (read from a
// cut-off file) stays Truncated when read back. It does not check t (see
// CheckValid) but returns an error for a trace it cannot encode: events out
// of time order, with an invalid kind or a thread not in the table, or a
// record over 64 MiB.
func Write(w io.Writer, t *Trace) error {
	ww := &writer{bw: newBufWriter(w)}
	ww.bw.WriteString(Magic)
	ww.bw.Write(binary.LittleEndian.AppendUint32(nil, FormatVersion))
	ww.record(recMeta, appendMeta(ww.buf[:0], &t.Meta))
	writeTable(ww, recStrings, t.Strings, func(b []byte, s *string) []byte { return appendString(b, *s) })
	writeTable(ww, recProcs, t.Procs, appendProcess)
	writeTable(ww, recThreads, t.Threads, appendThread)
	writeTable(ww, recLocks, t.Locks, appendLock)
	writeTable(ww, recFrames, t.Frames, appendFrame)
	writeTable(ww, recStacks, t.Stacks, appendStack)
	ww.events(t)
	end := binary.AppendUvarint(ww.buf[:0], t.Dropped)
	end = binary.AppendUvarint(end, uint64(len(t.Events)))
	if t.Truncated {
		end = binary.AppendUvarint(end, endTruncated) // flags: written only when not 0
	}
	ww.record(recEnd, end)
	if ww.err != nil {
		return fmt.Errorf("writing trace: %w", ww.err)
	}
	if err := ww.bw.Flush(); err != nil {
		return fmt.Errorf("writing trace: %w", err)
	}
	return nil
}

// WriteFile writes t to the file path, through a temporary file in the same
// directory renamed into place, so that path is never left half-written.
func WriteFile(path string, t *Trace) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing trace: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := Write(f, t); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	// CreateTemp makes the file private (0600); a trace is an ordinary
	// output file, readable like the others (0644).
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("writing trace %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing trace %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing trace: %w", err)
	}
	return nil
}

func newBufWriter(w io.Writer) *bufio.Writer { return bufio.NewWriterSize(w, 64<<10) }

// writer frames records onto a buffered stream. The first error sticks.
type writer struct {
	bw  *bufio.Writer
	buf []byte // the payload being built, reused
	err error
}

// record writes one framed record: type, length, payload, CRC-32C.
func (w *writer) record(typ byte, payload []byte) {
	w.buf = payload[:0] // keep the grown buffer for the next record
	if w.err != nil {
		return
	}
	if len(payload) > maxRecord {
		w.err = fmt.Errorf("%s record of %d bytes exceeds the %d-byte limit", recName(typ), len(payload), maxRecord)
		return
	}
	var hdr [1 + binary.MaxVarintLen64]byte
	hdr[0] = typ
	n := 1 + binary.PutUvarint(hdr[1:], uint64(len(payload)))
	crc := crc32.Update(0, crcTable, hdr[:n])
	crc = crc32.Update(crc, crcTable, payload)
	w.bw.Write(hdr[:n])
	w.bw.Write(payload)
	_, w.err = w.bw.Write(binary.LittleEndian.AppendUint32(hdr[:0], crc))
}

// writeTable writes rows in records of at most batchRows rows each: a
// uvarint count, then the rows. An empty table writes no record.
func writeTable[T any](w *writer, typ byte, rows []T, appendRow func([]byte, *T) []byte) {
	for len(rows) > 0 {
		n := min(len(rows), batchRows)
		b := binary.AppendUvarint(w.buf[:0], uint64(n))
		for i := range rows[:n] {
			b = appendRow(b, &rows[i])
		}
		w.record(typ, b)
		rows = rows[n:]
	}
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendMeta(b []byte, m *Meta) []byte {
	b = appendString(b, m.Workload)
	b = appendString(b, m.WorkloadFile)
	b = appendString(b, m.WorkloadSource)
	b = appendString(b, string(m.GILMode))
	b = binary.AppendVarint(b, int64(m.SwitchInterval))
	b = binary.AppendVarint(b, int64(m.CheckInterval))
	b = binary.AppendVarint(b, int64(m.Cores))
	b = binary.AppendVarint(b, int64(m.GOMAXPROCS))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(m.LoopsPerMS))
	b = binary.AppendVarint(b, m.Start.Unix())
	b = binary.AppendUvarint(b, uint64(m.Start.Nanosecond()))
	b = appendString(b, m.Version)
	keys := sortedKeys(m.Extra)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, m.Extra[k])
	}
	return b
}

func appendProcess(b []byte, p *Process) []byte {
	b = appendString(b, p.Name)
	b = binary.AppendVarint(b, int64(p.PID))
	return binary.AppendUvarint(b, uint64(p.GIL))
}

func appendThread(b []byte, t *Thread) []byte {
	b = appendString(b, t.Name)
	return binary.AppendUvarint(b, uint64(t.Proc))
}

func appendLock(b []byte, l *Lock) []byte {
	b = appendString(b, l.Name)
	b = binary.AppendUvarint(b, uint64(l.Proc))
	if l.GIL {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendFrame(b []byte, f *Frame) []byte {
	b = appendString(b, f.Func)
	b = appendString(b, f.File)
	return binary.AppendVarint(b, int64(f.Line))
}

func appendStack(b []byte, s *Stack) []byte {
	b = binary.AppendUvarint(b, uint64(s.Parent))
	return binary.AppendUvarint(b, uint64(s.Frame))
}

// eventState is what the encoding of an event depends on: the previous
// event's time and thread, and each thread's previous stack.
type eventState struct {
	time   int64
	thread ThreadID
	stacks []StackID // indexed by ThreadID
}

func newEventState(threads int) eventState {
	return eventState{thread: NoThread, stacks: make([]StackID, threads)}
}

// events writes the events in records of at most batchEvents events,
// each starting with the number of events left in the file, this record's
// included, so that a reader can size the events once.
func (w *writer) events(t *Trace) {
	st := newEventState(len(t.Threads))
	for i := 0; i < len(t.Events) && w.err == nil; i += batchEvents {
		batch := t.Events[i:min(i+batchEvents, len(t.Events))]
		b := binary.AppendUvarint(w.buf[:0], uint64(len(t.Events)-i))
		b = binary.AppendUvarint(b, uint64(len(batch)))
		for j := range batch {
			var err error
			if b, err = st.append(b, &batch[j]); err != nil {
				w.err = fmt.Errorf("event %d: %w", i+j, err)
				return
			}
		}
		w.record(recEvents, b)
	}
}

// append encodes e after the events st has seen.
func (st *eventState) append(b []byte, e *Event) ([]byte, error) {
	if e.Time < st.time {
		return b, fmt.Errorf("time %d is before the previous event's %d: events must be in time order", e.Time, st.time)
	}
	if int(e.Thread) >= len(st.stacks) {
		return b, fmt.Errorf("thread %d not in the table of %d threads", e.Thread, len(st.stacks))
	}
	if !e.Kind.Valid() {
		return b, errors.New("invalid kind " + e.Kind.String())
	}
	h, compact := eventHeader(e, e.Thread == st.thread, e.Stack == st.stacks[e.Thread])
	b = binary.AppendUvarint(b, uint64(e.Time-st.time))
	b = append(b, h)
	if h&evSameThread == 0 {
		b = binary.AppendUvarint(b, uint64(e.Thread))
	}
	if h&evSameStack == 0 {
		b = binary.AppendUvarint(b, uint64(e.Stack))
	}
	b = appendArg(b, e, compact)
	st.time, st.thread, st.stacks[e.Thread] = e.Time, e.Thread, e.Stack
	return b, nil
}

// eventHeader is the header byte of e and whether its Arg has its kind's
// compact form.
func eventHeader(e *Event, sameThread, sameStack bool) (byte, bool) {
	h := byte(e.Kind)
	if sameThread {
		h |= evSameThread
	}
	if sameStack {
		h |= evSameStack
	}
	compact := argCompact(e.Kind, e.Arg)
	switch {
	case e.Arg == 0:
		h |= evArgZero
	case !compact:
		h |= evArgRaw
	}
	return h, compact
}

// appendArg encodes e's Arg, if not 0, in the form its header says.
func appendArg(b []byte, e *Event, compact bool) []byte {
	switch {
	case e.Arg == 0:
	case !compact:
		b = binary.AppendUvarint(b, e.Arg)
	case isLockKind(e.Kind):
		b = binary.AppendUvarint(b, e.Arg&0xffffffff<<4|e.Arg>>32)
	case e.Kind == KindDropRequest:
		b = binary.AppendUvarint(b, e.Arg&0xffffffff)
		b = binary.AppendUvarint(b, e.Arg>>32)
	default:
		b = binary.AppendUvarint(b, e.Arg)
	}
	return b
}

func isLockKind(k Kind) bool {
	return k == KindLockWait || k == KindLockAcquire || k == KindLockRelease
}

// argCompact reports whether arg has a compact form for kind k: a lock
// event's code (bits 32 and up) must be below 16.
func argCompact(k Kind, arg uint64) bool {
	return !isLockKind(k) || arg>>32 < 16
}
