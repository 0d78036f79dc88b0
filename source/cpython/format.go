package cpython

import (
	"encoding/binary"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The events' binary layout: each sample's raw record (perf.go) holds the
// event's fields at the offsets its format file gives
// (events/GROUP/NAME/format), after the common header (the event's type,
// flags, preemption count and task id).

const (
	cloneThread = 0x00010000 // CLONE_THREAD in task_newtask's clone_flags
	evNewTask   = "task_newtask"
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
