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
	"slices"
	"time"
)

// Read reads a .giltrace file, version 1 (Write's) or 2 (a Stream's, whose
// threads' events it merges by time), and checks it with CheckValid.
//
// A damaged file gives a nil trace and an error that says where (a
// *FormatError with the byte offset, the record and the event) and what was
// expected; an invalid trace gives the CheckValid error. A file cut off
// mid-write gives a *TruncatedError: if the cut is after the tables, Read
// returns it together with the trace of the complete records, with
// Truncated set, and that trace is valid (for version 2: the events before
// the last sync time, see docs/trace-format.md). Read never panics, and it
// allocates in proportion to the bytes actually read: lengths and counts
// are checked against what the file holds before anything is allocated.
func Read(r io.Reader) (*Trace, error) {
	return ReadOptions{}.Read(r)
}

// ReadFile reads the .giltrace file path; see Read.
func ReadFile(path string) (*Trace, error) {
	return ReadOptions{}.ReadFile(path)
}

// ReadOptions are the options of a read.
type ReadOptions struct {
	// Salvage keeps the valid part of a damaged file: when a record after
	// the tables is damaged (a bad checksum, a payload that does not
	// decode) or an event breaks the protocol, the trace of the events
	// before the damage is returned, with Truncated and Salvaged set,
	// together with a *SalvagedError that names the damage.
	Salvage bool
}

// Read reads a .giltrace file from r; see the function Read.
func (o ReadOptions) Read(r io.Reader) (*Trace, error) {
	t, err := read(r, o)
	if err != nil {
		return t, fmt.Errorf("reading trace: %w", err)
	}
	return t, nil
}

// ReadFile reads the .giltrace file path; see the function Read. A path
// that is not a regular file (a directory, a named pipe, a device) is
// refused before it is opened.
func (o ReadOptions) ReadFile(path string) (*Trace, error) {
	// A FIFO would block the open until a writer comes; a directory or a
	// device is no trace: only regular files (or links to them).
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("reading trace %s: not a regular file (%s)", path, FileKind(fi.Mode()))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading trace: %w", err)
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	t, err := readSized(f, size, o)
	if err != nil {
		return t, fmt.Errorf("reading trace %s: %w", path, err)
	}
	return t, nil
}

// read reads a file:
//  1. the header: magic and version;
//  2. records, each checked against its CRC, then decoded: meta first,
//     tables, events, until the end record;
//  3. the end of the file right after the end record;
//  4. (version 2) the threads' events merged by time;
//  5. CheckValid on the trace.
//
// On a cut-off file it stops at the last complete record and, if the events
// had begun, validates and returns what it has; with o.Salvage it does the
// same at a damaged record or event.
func read(r io.Reader, o ReadOptions) (*Trace, error) { return readSized(r, 0, o) }

// readSized is read of a file of size bytes (0 if unknown): the events
// are then sized once from the count the file claims, bounded by its size,
// instead of doubling as the bytes come in (which, at the peak, holds the
// events about one and a half times).
func readSized(r io.Reader, size int64, o ReadOptions) (*Trace, error) {
	rd := &reader{br: bufio.NewReaderSize(r, 64<<10), t: &Trace{}, size: size}
	err := rd.header()
	for err == nil && !rd.ended {
		err = rd.record()
	}
	if err == nil {
		err = rd.trailer()
	}
	var te *TruncatedError
	var fe *FormatError
	truncated := errors.As(err, &te) && rd.inEvents
	damaged := o.Salvage && errors.As(err, &fe) && rd.inEvents
	if rd.version >= StreamVersion && (err == nil || truncated || damaged) {
		rd.merge()
	}
	switch {
	case truncated:
		rd.t.Truncated = true
		if rd.version >= StreamVersion {
			n, verr := rd.prefix()
			if verr != nil {
				return nil, fmt.Errorf("%w; its complete part is invalid: %w", err, verr)
			}
			te.Events = n
			return rd.t, err
		}
		if verr := rd.t.CheckValid(); verr != nil {
			return nil, fmt.Errorf("%w; its complete part is invalid: %w", err, verr)
		}
		return rd.t, err
	case damaged:
		return rd.salvage(err)
	case err != nil:
		return nil, err
	}
	verr := rd.t.CheckValid()
	var ve *ValidationError
	if verr != nil && o.Salvage && errors.As(verr, &ve) && ve.Event >= 0 {
		return rd.salvageInvalid(verr)
	}
	if verr != nil {
		return nil, verr
	}
	return rd.t, nil
}

type reader struct {
	br       *bufio.Reader
	off      int64 // bytes consumed
	size     int64 // the file's size if known, else 0
	rec      int   // index of the record being read
	recOff   int64 // offset of the record being read
	typ      byte  // its type, 0 until read
	payload  []byte
	t        *Trace
	nevents  int    // events read
	left     uint64 // events left according to the last event record
	st       eventState
	inEvents bool // an event or end record began: the tables are complete
	sawMeta  bool
	ended    bool

	// Version 2: each thread's events, decoded against its own state,
	// merged by time at the end; the sync times read; the end's cut.
	version uint32
	thr     []threadEvents
	slab    []Event // the rest of the slab the threads' chunks are cut from (carve)
	slabbed int     // the events of all slabs so far
	syncs   []int64
	cut     int64 // -1: none
}

// threadEvents are a thread's events in a version 2 file.
type threadEvents struct {
	threadCoder
	// chunks hold its events in order; a chunk is left, for the next,
	// when a record's events do not fit in what is left of it (room)
	chunks [][]Event
	want   int // the size wanted for its last chunk (the next: twice that)
}

const headerLen = len(Magic) + 4

// MaxTime bounds an event's time, nanoseconds since the trace's start:
// 2^52 ns, 52 days. Beyond it a thread's times summed over a few
// thousand threads overflow (QA: a crafted trace of times near 2^62 gave
// "achieved -2.00x"); no recording lasts so long.
const MaxTime = int64(1) << 52

// timeBeyond is the reader's error for an event time past MaxTime.
func timeBeyond(t int64) error {
	return fmt.Errorf("event time %d ns is beyond %d ns (%d days), the most a trace may span", t, MaxTime, MaxTime/int64(24*time.Hour))
}

func (rd *reader) header() error {
	var h [headerLen]byte
	n, err := io.ReadFull(rd.br, h[:])
	rd.off += int64(n)
	if err != nil && n < len(Magic) && string(h[:n]) != Magic[:n] {
		err = nil // not cut off: not a giltrace file at all
	}
	if err != nil {
		return &TruncatedError{Offset: rd.off, Record: 0, Events: 0, Missing: "the 12-byte header"}
	}
	if string(h[:len(Magic)]) != Magic {
		return &FormatError{Record: -1, Event: -1, Err: fmt.Errorf("not a giltrace file: starts with %q, expected %q", h[:n], Magic)}
	}
	rd.version = binary.LittleEndian.Uint32(h[len(Magic):])
	if rd.version != FormatVersion && rd.version != StreamVersion {
		return &FormatError{Offset: int64(len(Magic)), Record: -1, Event: -1,
			Err: fmt.Errorf("unsupported format version %d (this reader reads versions %d and %d)", rd.version, FormatVersion, StreamVersion)}
	}
	rd.cut = -1
	return nil
}

// truncated is the error for a file that ends at the current offset.
func (rd *reader) truncated(missing string) error {
	typ := ""
	if rd.typ != 0 {
		typ = recName(rd.typ)
	}
	return &TruncatedError{Offset: rd.off, Record: rd.rec, Type: typ, Events: rd.nevents, Missing: missing}
}

// formatError is an error in the current record at payload offset i, or in
// the record as a whole if i < 0.
func (rd *reader) formatError(i int, event int, err error) error {
	off := rd.recOff
	if i >= 0 {
		off = rd.off - 4 - int64(len(rd.payload)) + int64(i)
	}
	return &FormatError{Offset: off, Record: rd.rec, Type: recName(rd.typ), Event: event, Err: err}
}

// record reads, checks and decodes the next record.
func (rd *reader) record() error {
	rd.recOff, rd.typ = rd.off, 0
	if err := rd.frame(); err != nil {
		return err
	}
	if err := rd.decode(); err != nil {
		return err
	}
	rd.rec++
	return nil
}

// frame reads the next record's frame into rd.typ and rd.payload and checks
// its CRC.
func (rd *reader) frame() error {
	typ, err := rd.br.ReadByte()
	if err != nil {
		return rd.truncated("a record (the end record is missing)")
	}
	rd.off++
	rd.typ = typ
	if typ == recEvents || typ == recEnd || typ == recSync {
		rd.inEvents = true
	}
	var hdr [1 + binary.MaxVarintLen64]byte
	hdr[0] = typ
	n := 1
	var length uint64
	for shift := 0; ; shift += 7 {
		c, err := rd.br.ReadByte()
		if err != nil {
			return rd.truncated("the record's length")
		}
		rd.off++
		hdr[n] = c
		n++
		if shift == 63 && c > 1 || n == len(hdr) && c >= 0x80 {
			return rd.formatError(-1, -1, errors.New("record length overflows 64 bits"))
		}
		length |= uint64(c&0x7f) << shift
		if c < 0x80 {
			break
		}
	}
	if typ == 0 || typ >= numRecs || typ == recSync && rd.version < StreamVersion {
		return rd.formatError(-1, -1, fmt.Errorf("unknown record type %d", typ))
	}
	if length > maxRecord {
		return rd.formatError(-1, -1, fmt.Errorf("record length %d exceeds the %d-byte limit", length, maxRecord))
	}
	if err := rd.readPayload(int(length)); err != nil {
		return err
	}
	var sum [4]byte
	m, err := io.ReadFull(rd.br, sum[:])
	rd.off += int64(m)
	if err != nil {
		return rd.truncated("the record's checksum")
	}
	crc := crc32.Update(0, crcTable, hdr[:n])
	crc = crc32.Update(crc, crcTable, rd.payload)
	if got := binary.LittleEndian.Uint32(sum[:]); got != crc {
		return rd.formatError(-1, -1, fmt.Errorf("checksum mismatch (stored %#08x, computed %#08x): the record is damaged", got, crc))
	}
	return nil
}

// readPayload reads n bytes into rd.payload, growing it at most 1 MiB
// ahead of the bytes actually read, so that a huge length in a short file
// does not allocate the length.
func (rd *reader) readPayload(n int) error {
	rd.payload = rd.payload[:0]
	for len(rd.payload) < n {
		k := min(n-len(rd.payload), 1<<20)
		rd.payload = slices.Grow(rd.payload, k)
		got, err := io.ReadFull(rd.br, rd.payload[len(rd.payload):len(rd.payload)+k])
		rd.payload = rd.payload[:len(rd.payload)+got]
		rd.off += int64(got)
		if err != nil {
			return rd.truncated(fmt.Sprintf("a %d-byte payload, got %d bytes", n, len(rd.payload)))
		}
	}
	return nil
}

// decode decodes the payload of the record just framed.
func (rd *reader) decode() error {
	if !rd.sawMeta && rd.typ != recMeta {
		return rd.formatError(-1, -1, fmt.Errorf("found %s record first, expected the meta record", aRecName(rd.typ)))
	}
	d := decoder{b: rd.payload}
	event := -1
	switch rd.typ {
	case recMeta:
		if rd.sawMeta && rd.version < StreamVersion {
			return rd.formatError(-1, -1, errors.New("a second meta record"))
		}
		rd.sawMeta = true // version 2: a later meta record replaces the first
		rd.t.Meta = d.meta()
	case recStrings, recProcs, recThreads, recLocks, recFrames, recStacks:
		if rd.inEvents && rd.version < StreamVersion {
			return rd.formatError(-1, -1, fmt.Errorf("%s record after the events began: tables come first", aRecName(rd.typ)))
		}
		rd.table(&d)
	case recEvents:
		if rd.version >= StreamVersion {
			event = rd.threadEvents(&d)
			break
		}
		if rd.st.stacks == nil {
			rd.st = newEventState(len(rd.t.Threads))
		}
		event = rd.events(&d)
	case recSync:
		rd.sync(&d)
	case recEnd:
		if rd.version >= StreamVersion {
			rd.end2(&d)
			break
		}
		rd.end(&d)
	}
	if d.err == nil && d.i != len(d.b) {
		d.fail(fmt.Errorf("%d bytes left over after the record's content", len(d.b)-d.i))
	}
	if d.err != nil {
		return rd.formatError(d.i, event, d.err)
	}
	return nil
}

func (rd *reader) table(d *decoder) {
	t := rd.t
	switch rd.typ {
	case recStrings:
		t.Strings = readRows(d, t.Strings, 1, func(d *decoder) string { return d.str() })
	case recProcs:
		t.Procs = readRows(d, t.Procs, 3, func(d *decoder) Process {
			return Process{Name: d.str(), PID: d.int(), GIL: LockID(d.u32())}
		})
	case recThreads:
		t.Threads = readRows(d, t.Threads, 2, func(d *decoder) Thread {
			return Thread{Name: d.str(), Proc: ProcID(d.u32())}
		})
	case recLocks:
		n := len(t.Locks)
		t.Locks = readRows(d, t.Locks, 3, func(d *decoder) Lock {
			return Lock{Name: d.str(), Proc: ProcID(d.u32()), GIL: d.bool()}
		})
		if rd.version >= StreamVersion {
			// A stream may write a process before its GIL: a GIL lock of a
			// process without one becomes its GIL.
			for i := n; i < len(t.Locks); i++ {
				if l := t.Locks[i]; l.GIL && int(l.Proc) < len(t.Procs) && t.Procs[l.Proc].GIL == NoLock {
					t.Procs[l.Proc].GIL = LockID(i)
				}
			}
		}
	case recFrames:
		t.Frames = readRows(d, t.Frames, 3, func(d *decoder) Frame {
			return Frame{Func: d.str(), File: d.str(), Line: d.int()}
		})
	case recStacks:
		t.Stacks = readRows(d, t.Stacks, 2, func(d *decoder) Stack {
			return Stack{Parent: StackID(d.u32()), Frame: FrameID(d.u32())}
		})
	}
}

// readRows appends the rows of a table record to rows. Each row takes at
// least minBytes bytes, which bounds the count before allocating.
func readRows[T any](d *decoder, rows []T, minBytes int, row func(*decoder) T) []T {
	n := d.count(minBytes)
	if len(rows)+n > math.MaxUint32 {
		d.fail(fmt.Errorf("table has over %d rows", uint64(math.MaxUint32)))
		return rows
	}
	rows = slices.Grow(rows, n)
	for range n {
		r := row(d)
		if d.err != nil {
			break
		}
		rows = append(rows, r)
	}
	return rows
}

func (rd *reader) end(d *decoder) {
	rd.t.Dropped = d.uvarint()
	n := d.uvarint()
	if d.err == nil && rd.left != 0 {
		d.fail(fmt.Errorf("the event records announced %d more events than they hold", rd.left))
	}
	if d.err == nil && n != uint64(rd.nevents) {
		d.fail(fmt.Errorf("the end record counts %d events, the file holds %d", n, rd.nevents))
	}
	if d.i < len(d.b) { // the optional flags
		switch f := d.uvarint(); {
		case f&^endTruncated != 0:
			d.fail(fmt.Errorf("unknown flags %#x in the end record", f))
		case f == 0:
			d.fail(errors.New("flags 0 in the end record, expected them left out"))
		default:
			rd.t.Truncated = true
		}
	}
	rd.ended = true
}

// trailer checks that the file ends right after the end record.
func (rd *reader) trailer() error {
	if _, err := rd.br.ReadByte(); err == nil {
		return &FormatError{Offset: rd.off, Record: rd.rec, Event: -1, Err: errors.New("data after the end record, expected the end of the file")}
	}
	return nil
}

// events decodes an event record, appending to the trace's events. It
// returns the index in the trace of the event being decoded when it
// stopped. The common one- and two-byte varints are decoded inline: this
// loop is most of Read's time.
func (rd *reader) events(d *decoder) int {
	left := d.uvarint()
	n := d.count(2) // an event takes at least 2 bytes: time delta and header
	switch {
	case d.err != nil:
		return rd.nevents
	case rd.nevents > 0 && left != rd.left:
		d.fail(fmt.Errorf("the record says %d events are left, expected %d", left, rd.left))
		return rd.nevents
	case uint64(n) > left:
		d.fail(fmt.Errorf("the record holds %d events, more than the %d it says are left", n, left))
		return rd.nevents
	}
	rd.left = left - uint64(n)
	rd.growEvents(left, n)
	base := len(rd.t.Events)
	evs := rd.t.Events[base : base+n]
	st := &rd.st
	nstacks := uint64(len(rd.t.Stacks))
	b := d.b
	k := 0
	for ; k < n; k++ {
		var delta uint64
		if i := d.i; i+1 < len(b) && b[i] < 0x80 {
			delta = uint64(b[i])
			d.i++
		} else if i+2 < len(b) && b[i+1] < 0x80 {
			delta = uint64(b[i]&0x7f) | uint64(b[i+1])<<7
			d.i += 2
		} else {
			delta = d.uvarint()
		}
		if d.i >= len(b) {
			d.fail(errors.New("record ends inside an event, expected its header byte"))
			break
		}
		h := b[d.i]
		d.i++
		e := &evs[k]
		e.Kind, e.Thread = Kind(h&evKindMask), st.thread
		if !e.Kind.Valid() {
			d.fail(fmt.Errorf("invalid event kind %d in header byte %#02x", h&evKindMask, h))
			break
		}
		if delta > math.MaxInt64-uint64(st.time) {
			d.fail(fmt.Errorf("time delta %d overflows the time", delta))
			break
		}
		if e.Time = st.time + int64(delta); e.Time > MaxTime {
			d.fail(timeBeyond(e.Time))
			break
		}
		if h&evSameThread == 0 {
			e.Thread = ThreadID(d.uvarint())
			if uint64(e.Thread) >= uint64(len(st.stacks)) {
				d.fail(fmt.Errorf("thread %d not in the table of %d threads", e.Thread, len(st.stacks)))
				break
			}
		} else if e.Thread == NoThread {
			d.fail(errors.New("the first event has the same-thread flag, expected a thread"))
			break
		}
		if h&evSameStack == 0 {
			s := d.uvarint()
			if s >= nstacks {
				d.fail(fmt.Errorf("stack %d not in the table of %d stacks", s, nstacks))
				break
			}
			e.Stack = StackID(s)
			st.stacks[e.Thread] = e.Stack
		} else {
			e.Stack = st.stacks[e.Thread]
		}
		if h&evArgZero == 0 {
			e.Arg = d.arg(e.Kind, h)
		} else if h&evArgRaw != 0 {
			d.fail(errors.New("header has both the arg-zero and the arg-raw flag"))
		}
		if d.err != nil {
			break
		}
		st.time, st.thread = e.Time, e.Thread
	}
	if d.err != nil {
		return rd.nevents + k
	}
	rd.t.Events = rd.t.Events[:base+n]
	rd.nevents += n
	return rd.nevents
}

// growEvents makes room for n more events, of the left the file says it
// still holds. It sizes the events once for the whole file when the claim
// is plausible: at most 16 events per byte read so far, or of the file's
// size when ReadFile knows it (an event takes 32 bytes in memory and at
// least 2 in the file), so that a forged count in a short file cannot make
// it allocate much.
func (rd *reader) growEvents(left uint64, n int) {
	t := rd.t
	if cap(t.Events)-len(t.Events) >= n {
		return
	}
	want := uint64(len(t.Events)) + min(left, 16*uint64(max(rd.off, rd.size)))
	want = max(want, uint64(len(t.Events)+n), 2*uint64(cap(t.Events)))
	evs := make([]Event, len(t.Events), want)
	hugeSlice(evs)
	copy(evs, t.Events)
	t.Events = evs
}

// arg decodes an event's non-zero Arg according to its header h.
func (d *decoder) arg(k Kind, h byte) uint64 {
	switch {
	case h&evArgRaw != 0:
		return d.uvarint()
	case isLockKind(k):
		v := d.uvarint()
		if v>>36 != 0 {
			d.fail(fmt.Errorf("lock argument %#x has a lock over 32 bits", v))
		}
		return v>>4 | (v&15)<<32
	case k == KindDropRequest:
		l := d.u32()
		return uint64(l) | uint64(d.u32())<<32
	}
	return d.uvarint()
}

func (d *decoder) meta() Meta {
	var m Meta
	m.Workload = d.str()
	m.WorkloadFile = d.str()
	m.WorkloadSource = d.str()
	m.GILMode = GILMode(d.str())
	m.SwitchInterval = time.Duration(d.varint())
	m.CheckInterval = d.int()
	m.Cores = d.int()
	m.GOMAXPROCS = d.int()
	m.LoopsPerMS = math.Float64frombits(d.uint64LE())
	sec := d.varint()
	nsec := d.uvarint()
	if d.err == nil && nsec >= 1e9 {
		d.fail(fmt.Errorf("start time has %d nanoseconds, expected under 1e9", nsec))
	}
	m.Start = time.Unix(sec, int64(nsec)).UTC()
	m.Version = d.str()
	n := d.count(2)
	for range n {
		k, v := d.str(), d.str()
		if d.err != nil {
			break
		}
		if m.Extra == nil {
			m.Extra = make(map[string]string, n)
		}
		if _, dup := m.Extra[k]; dup {
			d.fail(fmt.Errorf("extra key %q appears twice", k))
			break
		}
		m.Extra[k] = v
	}
	return m
}

// decoder reads the fields of a payload. Its first error sticks, with the
// offset where it happened; later reads return zero values.
type decoder struct {
	b   []byte
	i   int
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) uvarint() uint64 {
	if d.i < len(d.b) && d.b[d.i] < 0x80 {
		v := d.b[d.i]
		d.i++
		return uint64(v)
	}
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.i:])
	if n <= 0 {
		if n == 0 {
			d.fail(errors.New("record ends inside a varint"))
		} else {
			d.fail(errors.New("varint overflows 64 bits"))
		}
		return 0
	}
	d.i += n
	return v
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

// int reads a varint that must fit an int.
func (d *decoder) int() int {
	v := d.varint()
	if int64(int(v)) != v {
		d.fail(fmt.Errorf("integer %d overflows int", v))
	}
	return int(v)
}

// u32 reads a uvarint that must fit 32 bits.
func (d *decoder) u32() uint32 {
	v := d.uvarint()
	if v > math.MaxUint32 {
		d.fail(fmt.Errorf("value %d overflows 32 bits", v))
	}
	return uint32(v)
}

func (d *decoder) bool() bool {
	v := d.uvarint()
	if v > 1 {
		d.fail(fmt.Errorf("boolean is %d, expected 0 or 1", v))
	}
	return v == 1
}

func (d *decoder) uint64LE() uint64 {
	if len(d.b)-d.i < 8 {
		d.fail(errors.New("record ends inside an 8-byte float"))
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b[d.i:])
	d.i += 8
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)-d.i) {
		d.fail(fmt.Errorf("string of %d bytes, only %d left in the record", n, len(d.b)-d.i))
		return ""
	}
	s := string(d.b[d.i : d.i+int(n)])
	d.i += int(n)
	return s
}

// count reads a count of items that take at least minBytes bytes each, and
// fails if the rest of the record cannot hold them.
func (d *decoder) count(minBytes int) int {
	n := d.uvarint()
	if left := uint64(len(d.b) - d.i); n > left/uint64(minBytes) {
		d.fail(fmt.Errorf("count %d does not fit in the %d bytes left in the record", n, left))
		return 0
	}
	return int(n)
}

// FileKind names the kind of a non-regular file, for messages: "a named
// pipe", "a directory". The trace reader and the workload loader refuse
// such files with it (they would block or mislead).
func FileKind(m os.FileMode) string {
	switch {
	case m&os.ModeSymlink != 0: // of an Lstat
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.String()
}
