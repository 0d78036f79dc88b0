package cpython

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// The recorder reads the instance's per-CPU binary ring buffers
// (per_cpu/cpuN/trace_pipe_raw) rather than the text of trace_pipe: the
// kernel does not format every event, timestamps keep their nanoseconds,
// and the reader costs the machine (and so the traced program, on a
// machine with few cores) several times less.
//
// A read returns one sub-buffer page: a header (u64 timestamp, u64 commit
// whose low bits are the data's length and high bits flag lost events),
// then events, each a 32-bit header (type_len: 5 bits, time_delta: 27
// bits) and its payload: the event's fields at the offsets its format file
// gives (events/GROUP/NAME/format). Documentation/trace/ring-buffer-design.rst.

const (
	pageDataOff     = 16
	missedEvents    = 1 << 31 // RB_MISSED_EVENTS in commit
	missedStored    = 1 << 30 // RB_MISSED_STORED: the count follows the data
	typePadding     = 29
	typeTimeExtend  = 30
	typeTimeStamp   = 31
	tsShift         = 27
	cloneThread     = 0x00010000 // CLONE_THREAD in task_newtask's clone_flags
	evNewTask       = "task_newtask"
	maxPageDataSize = 1 << 20
)

// eventFormat is the binary layout of one event type.
type eventFormat struct {
	id     uint16
	name   string
	fields []fieldFormat
}

type fieldFormat struct {
	name         string
	offset, size int
	elems        int // array length, 1 for a scalar
	signed, skip bool
}

var fieldRe = regexp.MustCompile(`field:([^;]*?)\s+([A-Za-z_][A-Za-z0-9_]*)(\[(\d*)\])?;\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);`)

var widthRe = regexp.MustCompile(`^[usx](8|16|32|64)$`)

// elemSize is the size of one element of a field of type typ: uprobe
// arrays print as "u64 f0[]", their length left to the size.
func elemSize(typ string) int {
	if m := widthRe.FindStringSubmatch(strings.TrimSpace(typ)); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n / 8
	}
	if strings.Contains(typ, "char") {
		return 1
	}
	return 8
}

// parseFormat parses the text of an event's format file.
func parseFormat(name, text string) (*eventFormat, error) {
	f := &eventFormat{name: name}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "ID:"); ok {
			id, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return nil, fmt.Errorf("format of %s: bad ID %q", name, v)
			}
			f.id = uint16(id)
			continue
		}
		m := fieldRe.FindStringSubmatch(line)
		if m == nil || strings.HasPrefix(m[2], "common_") {
			continue
		}
		ff := fieldFormat{name: m[2], elems: 1}
		ff.offset, _ = strconv.Atoi(m[5])
		ff.size, _ = strconv.Atoi(m[6])
		ff.signed = m[7] == "1"
		switch {
		case m[4] != "":
			ff.elems, _ = strconv.Atoi(m[4])
		case m[3] != "": // "name[]": as many as the size holds
			ff.elems = ff.size / elemSize(m[1])
		}
		ff.skip = strings.Contains(m[1], "char") || ff.elems <= 0 || ff.size%ff.elems != 0
		f.fields = append(f.fields, ff)
	}
	if f.id == 0 {
		return nil, fmt.Errorf("format of %s: no ID", name)
	}
	return f, nil
}

// decode reads the fields of an event's payload.
func (f *eventFormat) decode(data []byte, e *rawEvent) {
	for _, ff := range f.fields {
		if ff.skip || ff.offset+ff.size > len(data) {
			continue
		}
		es := ff.size / ff.elems
		vals := make([]uint64, ff.elems)
		for i := range vals {
			b := data[ff.offset+i*es:]
			switch es {
			case 8:
				vals[i] = binary.LittleEndian.Uint64(b)
			case 4:
				v := binary.LittleEndian.Uint32(b)
				vals[i] = uint64(v)
				if ff.signed {
					vals[i] = uint64(int64(int32(v)))
				}
			case 2:
				vals[i] = uint64(binary.LittleEndian.Uint16(b))
			case 1:
				vals[i] = uint64(b[0])
			}
		}
		e.args = append(e.args, arg{name: ff.name, vals: vals})
	}
}

// parsePage appends the events of one ring-buffer page to out and returns
// them with the number of events the kernel reported lost before it.
func parsePage(page []byte, formats map[uint16]*eventFormat, out []rawEvent) ([]rawEvent, uint64) {
	if len(page) < pageDataOff {
		return out, 0
	}
	ts := binary.LittleEndian.Uint64(page)
	commit := binary.LittleEndian.Uint64(page[8:])
	size := int(commit & (missedStored - 1))
	var lost uint64
	if commit&missedEvents != 0 {
		lost = 1 // at least one; the count follows the data if stored
		if commit&missedStored != 0 && pageDataOff+size+8 <= len(page) {
			lost = binary.LittleEndian.Uint64(page[pageDataOff+size:])
		}
	}
	data := page[pageDataOff:min(len(page), pageDataOff+size)]
	for i := 0; i+4 <= len(data); {
		h := binary.LittleEndian.Uint32(data[i:])
		typeLen, delta := h&31, uint64(h>>5)
		i += 4
		switch {
		case typeLen == typePadding:
			if delta == 0 || i+4 > len(data) {
				return out, lost // the rest of the page is padding
			}
			i += int(binary.LittleEndian.Uint32(data[i:]))
		case typeLen == typeTimeExtend:
			if i+4 > len(data) {
				return out, lost
			}
			ts += uint64(binary.LittleEndian.Uint32(data[i:]))<<tsShift + delta
			i += 4
		case typeLen == typeTimeStamp:
			if i+4 > len(data) {
				return out, lost
			}
			abs := uint64(binary.LittleEndian.Uint32(data[i:]))<<tsShift | delta
			ts = abs | ts&^(1<<59-1)
			i += 4
		default:
			n := int(typeLen) * 4
			if typeLen == 0 {
				if i+4 > len(data) {
					return out, lost
				}
				n = (int(binary.LittleEndian.Uint32(data[i:])) - 4 + 3) &^ 3
				i += 4
			}
			ts += delta
			if n < 8 || i+n > len(data) {
				return out, lost
			}
			payload := data[i : i+n]
			i += n
			f := formats[binary.LittleEndian.Uint16(payload)]
			if f == nil {
				continue
			}
			e := rawEvent{mono: int64(ts), tid: int(int32(binary.LittleEndian.Uint32(payload[4:]))), event: f.name}
			f.decode(payload, &e)
			out = append(out, e)
		}
	}
	return out, lost
}

// rawReader reads every CPU's binary ring buffer without blocking.
type rawReader struct {
	fds     []int
	formats map[uint16]*eventFormat
	page    []byte
	lost    uint64
	err     error
	// safe is a time before which every event has been read: the
	// earliest start of the last drain of a CPU's buffer.
	safe int64
}

// openRawReader opens the per-CPU buffers of the instance and the formats
// of the events in names (group/event or system/event).
func openRawReader(instance string, names []string) (*rawReader, error) {
	r := &rawReader{formats: map[uint16]*eventFormat{}}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(tracefsRoot, "events", n, "format"))
		if err != nil {
			return nil, fmt.Errorf("reading the format of event %s: %w", n, err)
		}
		f, err := parseFormat(filepath.Base(n), string(b))
		if err != nil {
			return nil, err
		}
		r.formats[f.id] = f
	}
	sub := 4
	if b, err := os.ReadFile(filepath.Join(instance, "buffer_subbuf_size_kb")); err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && v > 0 && v <= 1024 {
			sub = v
		}
	}
	r.page = make([]byte, max(sub<<10, os.Getpagesize()))
	cpus, _ := filepath.Glob(filepath.Join(instance, "per_cpu", "cpu[0-9]*"))
	for _, c := range cpus {
		fd, err := syscall.Open(filepath.Join(c, "trace_pipe_raw"), syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
		if err != nil {
			r.close()
			return nil, fmt.Errorf("opening %s/trace_pipe_raw: %w", c, err)
		}
		r.fds = append(r.fds, fd)
		openPipes.add(fd)
	}
	if len(r.fds) == 0 {
		return nil, fmt.Errorf("no per-CPU buffers in %s", instance)
	}
	return r, nil
}

// read returns the events every CPU has ready.
func (r *rawReader) read() []rawEvent {
	var out []rawEvent
	r.safe = 1<<63 - 1
	for _, fd := range r.fds {
		r.safe = min(r.safe, monoNow())
		for range 1 << 16 {
			n, err := syscall.Read(fd, r.page)
			if n > 0 {
				var lost uint64
				out, lost = parsePage(r.page[:n], r.formats, out)
				r.lost += lost
			}
			if err != nil {
				if !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR) && r.err == nil {
					r.err = err
				}
				break
			}
			if n == 0 {
				break
			}
		}
	}
	return out
}

func (r *rawReader) close() {
	for _, fd := range r.fds {
		openPipes.close(fd)
	}
	r.fds = nil
}

// openPipes is the trace_pipe_raw descriptors open in this process: an
// instance whose buffers are open cannot be removed (EBUSY), so a forced
// exit (RemoveStale, while the readers still read) closes them first,
// or the instance stays behind (QA: in 2 of 7 triple Ctrl-Cs). Each is
// closed once, by whichever of the reader and the forced exit comes
// first, so that a number the system gives again is never closed.
var openPipes = pipeSet{fds: map[int]bool{}}

type pipeSet struct {
	mu  sync.Mutex
	fds map[int]bool
}

func (p *pipeSet) add(fd int) {
	p.mu.Lock()
	p.fds[fd] = true
	p.mu.Unlock()
}

// close closes fd if it is still open here.
func (p *pipeSet) close(fd int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fds[fd] {
		delete(p.fds, fd)
		syscall.Close(fd)
	}
}

// closeAll lets go of every buffer still open: each descriptor is made a
// copy of /dev/null (dup2), so that the instance can be removed while its
// number stays taken: a reader still reading it sees its end, and never a
// file opened since under the same number (review). Closed if /dev/null
// cannot be opened.
func (p *pipeSet) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	null, err := syscall.Open(os.DevNull, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	for fd := range p.fds {
		if err != nil || unix.Dup2(null, fd) != nil {
			syscall.Close(fd)
		}
	}
	if err == nil {
		syscall.Close(null)
	}
	clear(p.fds)
}
