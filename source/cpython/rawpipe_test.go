package cpython

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"syscall"
	"testing"
)

const testFormat = `name: drop_gil
ID: 2031
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:unsigned long __probe_ip;	offset:8;	size:8;	signed:0;
	field:u64 ts;	offset:16;	size:8;	signed:0;
	field:u64 f0[];	offset:24;	size:24;	signed:0;
	field:s64 us;	offset:48;	size:8;	signed:1;
	field:char comm[16];	offset:56;	size:16;	signed:0;
	field:pid_t pid;	offset:72;	size:4;	signed:1;

print fmt: "(%lx) ts=0x%Lx", REC->__probe_ip, REC->ts
`

// page builds a ring-buffer page: a header, then each event as a
// (header word, payload) pair.
type pageBuilder struct{ data []byte }

func (p *pageBuilder) word(w uint32) { p.data = binary.LittleEndian.AppendUint32(p.data, w) }
func (p *pageBuilder) event(delta uint32, payload []byte) {
	if len(payload)%4 != 0 || len(payload)/4 > 28 {
		p.word(delta << 5) // type_len 0: the length follows
		p.word(uint32(len(payload) + 4))
	} else {
		p.word(delta<<5 | uint32(len(payload)/4))
	}
	p.data = append(p.data, payload...)
}
func (p *pageBuilder) page(ts uint64, flags uint64) []byte {
	b := binary.LittleEndian.AppendUint64(nil, ts)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(p.data))|flags)
	return append(b, p.data...)
}

func dropPayload(tid int32, ts uint64, f0 [3]uint64, us int64, pid int32) []byte {
	b := make([]byte, 76)
	binary.LittleEndian.PutUint16(b, 2031)
	binary.LittleEndian.PutUint32(b[4:], uint32(tid))
	binary.LittleEndian.PutUint64(b[16:], ts)
	for i, v := range f0 {
		binary.LittleEndian.PutUint64(b[24+8*i:], v)
	}
	binary.LittleEndian.PutUint64(b[48:], uint64(us))
	copy(b[56:], "python3")
	binary.LittleEndian.PutUint32(b[72:], uint32(pid))
	return b
}

func TestParsePage(t *testing.T) {
	f, err := parseFormat("drop_gil", testFormat)
	if err != nil {
		t.Fatal(err)
	}
	formats := map[uint16]*eventFormat{f.id: f}
	var p pageBuilder
	p.event(100, dropPayload(42, 0xabc, [3]uint64{1, 2, 3}, -1, 7))
	p.word(typeTimeExtend | 5<<5) // time extend: 5 + 3<<27
	p.word(3)
	p.event(0, dropPayload(43, 0xdef, [3]uint64{4, 5, 6}, 9, 8))
	unknown := make([]byte, 8)
	binary.LittleEndian.PutUint16(unknown, 999)
	p.event(1, unknown)
	p.word(typePadding) // delta 0: the rest is padding
	page := p.page(1_000_000, missedEvents|missedStored)
	page = binary.LittleEndian.AppendUint64(page, 17) // the stored count of lost events
	got, lost := parsePage(page, formats, nil)
	want := []rawEvent{
		{mono: 1_000_100, tid: 42, event: "drop_gil", args: []arg{{"__probe_ip", []uint64{0}}, {"ts", []uint64{0xabc}},
			{"f0", []uint64{1, 2, 3}}, {"us", []uint64{1<<64 - 1}}, {"pid", []uint64{7}}}},
		{mono: 1_000_100 + 5 + 3<<27, tid: 43, event: "drop_gil", args: []arg{{"__probe_ip", []uint64{0}}, {"ts", []uint64{0xdef}},
			{"f0", []uint64{4, 5, 6}}, {"us", []uint64{9}}, {"pid", []uint64{8}}}},
	}
	if lost != 17 || !reflect.DeepEqual(got, want) {
		t.Errorf("parsePage: lost %d\n got %+v\nwant %+v", lost, got, want)
	}
}

func FuzzParsePage(f *testing.F) {
	fm, _ := parseFormat("drop_gil", testFormat)
	formats := map[uint16]*eventFormat{fm.id: fm}
	var p pageBuilder
	p.event(3, dropPayload(1, 2, [3]uint64{3, 4, 5}, 6, 7))
	f.Add(p.page(10, 0))
	f.Fuzz(func(t *testing.T, page []byte) {
		parsePage(page, formats, nil)
	})
}

// TestRemoveAtExit: a forced exit while the per-CPU buffers are open
// removes this process's instance (QA: a third Ctrl-C left it in 2 of 7
// tries, its buffers open: EBUSY); RemoveStale alone, which a recording
// may call while another in the process reads, leaves an open one.
func TestRemoveAtExit(t *testing.T) {
	needTracing(t, "")
	inst := filepath.Join(tracefsRoot, "instances", groupPrefix+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(inst, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(inst) })
	fd, err := syscall.Open(filepath.Join(inst, "per_cpu", "cpu0", "trace_pipe_raw"), syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	openPipes.add(fd)
	defer openPipes.close(fd)
	if err := RemoveStale(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(inst); err != nil {
		t.Fatalf("RemoveStale removed an instance whose buffers are open: %v", err)
	}
	if err := RemoveAtExit(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(inst); !os.IsNotExist(err) {
		t.Errorf("the instance stays: %v", err)
	}
	if len(openPipes.fds) != 0 {
		t.Errorf("descriptors left open: %v", openPipes.fds)
	}
}
