package cpython

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
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

// testRing is a CPU's ring in ordinary memory: a metadata page, then
// data bytes, written as the kernel writes them.
type testRing struct {
	buf  []byte
	ring *perfRing
	head uint64
}

func newTestRing(dataLen int) *testRing {
	page := os.Getpagesize()
	buf := make([]byte, page+dataLen)
	rg := &perfRing{mem: unsafe.Pointer(&buf[0]), size: uintptr(len(buf)), data: buf[page:]}
	return &testRing{buf: buf, ring: rg}
}

// at starts the ring at offset (head and tail), to test a wrap.
func (tr *testRing) at(off uint64) {
	tr.head = off
	tr.ring.meta().Data_head, tr.ring.meta().Data_tail = off, off
}

// record writes a record (header and body), padded to 8 bytes, and
// publishes it.
func (tr *testRing) record(typ uint32, body []byte) {
	size := (recHeader + len(body) + 7) &^ 7
	rec := make([]byte, size)
	binary.LittleEndian.PutUint32(rec, typ)
	binary.LittleEndian.PutUint16(rec[6:], uint16(size))
	copy(rec[recHeader:], body)
	n := uint64(len(tr.ring.data))
	for i, c := range rec {
		tr.ring.data[(tr.head+uint64(i))%n] = c
	}
	tr.head += uint64(size)
	tr.ring.meta().Data_head = tr.head
}

// sample writes a PERF_RECORD_SAMPLE of a raw record at a time, from
// event 1.
func (tr *testRing) sample(mono uint64, raw []byte) { tr.sampleOf(1, mono, raw) }

// sampleOf writes a PERF_RECORD_SAMPLE of event id.
func (tr *testRing) sampleOf(id, mono uint64, raw []byte) {
	body := binary.LittleEndian.AppendUint64(nil, id)
	body = binary.LittleEndian.AppendUint64(body, mono)
	body = binary.LittleEndian.AppendUint32(body, uint32(len(raw)))
	tr.record(unix.PERF_RECORD_SAMPLE, append(body, raw...))
}

func testReader(t testing.TB) *rawReader {
	f, err := parseFormat("drop_gil", testFormat)
	if err != nil {
		t.Fatal(err)
	}
	return &rawReader{formats: map[uint16]*eventFormat{f.id: f}, late: map[int]map[uint64]bool{}}
}

// TestReadRing: samples are decoded with their times, a record that wraps
// around the ring's end is read whole, lost records are counted, records
// of unknown events are passed over, and the tail follows.
func TestReadRing(t *testing.T) {
	r := testReader(t)
	tr := newTestRing(512)
	tr.at(450) // the first sample wraps
	tr.sample(1_000_100, dropPayload(42, 0xabc, [3]uint64{1, 2, 3}, -1, 7))
	tr.sample(1_000_200, dropPayload(43, 0xdef, [3]uint64{4, 5, 6}, 9, 8))
	lost := binary.LittleEndian.AppendUint64(nil, 1) // the event's id
	tr.record(unix.PERF_RECORD_LOST, binary.LittleEndian.AppendUint64(lost, 17))
	unknown := make([]byte, 8)
	binary.LittleEndian.PutUint16(unknown, 999)
	tr.sample(1_000_300, unknown)
	got, more := r.readRing(tr.ring, nil)
	want := []rawEvent{
		{mono: 1_000_100, tid: 42, event: "drop_gil", args: []arg{{"__probe_ip", []uint64{0}}, {"ts", []uint64{0xabc}},
			{"f0", []uint64{1, 2, 3}}, {"us", []uint64{1<<64 - 1}}, {"pid", []uint64{7}}}},
		{mono: 1_000_200, tid: 43, event: "drop_gil", args: []arg{{"__probe_ip", []uint64{0}}, {"ts", []uint64{0xdef}},
			{"f0", []uint64{4, 5, 6}}, {"us", []uint64{9}}, {"pid", []uint64{8}}}},
	}
	if r.lost != 17 || r.err != nil || more || !reflect.DeepEqual(got, want) {
		t.Errorf("readRing: lost %d, err %v, more %v\n got %+v\nwant %+v", r.lost, r.err, more, got, want)
	}
	if m := tr.ring.meta(); m.Data_tail != tr.head {
		t.Errorf("tail %d, want the head %d", m.Data_tail, tr.head)
	}
	if got, _ := r.readRing(tr.ring, nil); len(got) != 0 {
		t.Errorf("read again: %d events", len(got))
	}
}

// TestReadRingBounded: a read takes at most maxRead bytes of a ring and
// says it left some; the next reads take the rest, in order.
func TestReadRingBounded(t *testing.T) {
	r := testReader(t)
	tr := newTestRing(4096)
	for i := range 10 {
		tr.sample(uint64(100+i), dropPayload(1, 2, [3]uint64{}, 0, 3))
	}
	r.maxRead = 300 // a sample is 112 bytes: three a read
	var all []rawEvent
	for k := 0; ; k++ {
		got, more := r.readRing(tr.ring, nil)
		if len(got) > 3 {
			t.Fatalf("read %d: %d events", k, len(got))
		}
		all = append(all, got...)
		if !more {
			break
		}
	}
	if len(all) != 10 {
		t.Fatalf("%d events, want 10", len(all))
	}
	for i, e := range all {
		if e.mono != int64(100+i) {
			t.Errorf("event %d at %d", i, e.mono)
		}
	}
}

// TestReadRingCorrupt: a record whose size passes the head, or is smaller
// than its header, ends the read with an error naming the CPU; the tail
// moves to the head, and the next records are read.
func TestReadRingCorrupt(t *testing.T) {
	for _, size := range []uint16{0, 4, 4096} {
		r := testReader(t)
		tr := newTestRing(512)
		tr.sample(10, dropPayload(1, 2, [3]uint64{}, 0, 3))
		binary.LittleEndian.PutUint16(tr.ring.data[6:], size)
		if got, _ := r.readRing(tr.ring, nil); len(got) != 0 || r.err == nil || !strings.Contains(r.err.Error(), "CPU 0's ring") {
			t.Errorf("size %d: %d events, err %v", size, len(got), r.err)
		}
		tr.sample(20, dropPayload(1, 2, [3]uint64{}, 0, 3))
		if got, _ := r.readRing(tr.ring, nil); len(got) != 1 || got[0].mono != 20 {
			t.Errorf("size %d: after, %+v", size, got)
		}
	}
}

// TestLateTaskCopies: a task whose events were opened once the others'
// were on (attach) and that its creator's inherited events report too
// gives each hit twice, a microsecond or so apart, its own events' copy
// first or second, and a read may fall between the two: the samples are
// tagged by the events that wrote them, and of the events held for the
// reorder window one copy of each hit is kept. A late task that only its
// own events report (created before its creator's were opened) keeps
// every hit, and so does a task that is not late.
func TestLateTaskCopies(t *testing.T) {
	r := testReader(t)
	r.late[7] = map[uint64]bool{50: true, 51: true}
	r.late[8] = map[uint64]bool{60: true}
	tr := newTestRing(8192)
	hit := func(tid int32) []byte { return dropPayload(tid, 0, [3]uint64{}, 0, 0) }
	tr.sampleOf(50, 1000, hit(7)) // own first...
	first, _ := r.readRing(tr.ring, nil)
	tr.sampleOf(9, 1900, hit(7))  // ...its inherited copy in the next read
	tr.sampleOf(9, 5000, hit(7))  // inherited first
	tr.sampleOf(51, 6100, hit(7)) // own second
	tr.sampleOf(60, 7000, hit(8)) // a late task without inherited events
	tr.sampleOf(60, 7010, hit(8))
	tr.sampleOf(3, 7020, hit(4)) // another task: kept whatever the id
	tr.sampleOf(3, 7020, hit(4))
	tr.sampleOf(50, 200_000, hit(7)) // an own hit far from any inherited one
	second, _ := r.readRing(tr.ring, nil)
	var copies []copyKind
	for _, e := range append(first, second...) {
		copies = append(copies, e.copy)
	}
	if want := []copyKind{copyOwn, copyInherited, copyInherited, copyOwn, copyOwn, copyOwn, copyNone, copyNone, copyOwn}; !reflect.DeepEqual(copies, want) {
		t.Fatalf("copies %v, want %v", copies, want)
	}
	var times []int64
	for _, e := range dropOwnCopies(append(first, second...)) {
		times = append(times, e.mono)
	}
	if want := []int64{1900, 5000, 7000, 7010, 7020, 7020, 200_000}; !reflect.DeepEqual(times, want) {
		t.Errorf("kept the hits at %v, want %v", times, want)
	}
}

func TestParseCPUList(t *testing.T) {
	for in, want := range map[string][]int{"0": {0}, "0-3": {0, 1, 2, 3}, "0,2-3,7": {0, 2, 3, 7}} {
		if got, err := parseCPUList(in); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parseCPUList(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "a", "3-1", "-1", "0-99999999"} {
		if got, err := parseCPUList(in); err == nil {
			t.Errorf("parseCPUList(%q) = %v, want an error", in, got)
		}
	}
}

// FuzzReadRing: any bytes in a ring, under any head, never panic the
// reader.
func FuzzReadRing(f *testing.F) {
	r := testReader(f)
	tr := newTestRing(256)
	tr.sample(3, dropPayload(1, 2, [3]uint64{3, 4, 5}, 6, 7))
	f.Add(append([]byte(nil), tr.ring.data...), uint64(0), tr.head)
	f.Fuzz(func(t *testing.T, data []byte, tail, head uint64) {
		tr := newTestRing(256)
		copy(tr.ring.data, data)
		tr.ring.meta().Data_head, tr.ring.meta().Data_tail = head, tail
		r.err = nil
		r.maxRead = 64
		for range 64 { // bounded: a few reads take it all
			if _, more := r.readRing(tr.ring, nil); !more {
				break
			}
		}
	})
}

// TestRemoveAtExit: a forced exit while a recording's events are open
// releases them (their rings replaced by empty memory a reader can still
// read) and removes this process's probes, which open events keep
// (EBUSY); RemoveStale alone, which a recording may call while another
// in the process reads, leaves them.
func TestRemoveAtExit(t *testing.T) {
	needTracing(t, "")
	s := newSession("/bin/sh")
	if err := s.open([]probe{{name: "exit_probe", offset: shEntry(t)}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.close() })
	rd, err := openRawReader([]string{s.group + "/exit_probe"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := rd.addTasks([]int{os.Getpid()}); err != nil || n != 1 {
		t.Fatalf("addTasks: %d, %v", n, err)
	}
	if err := RemoveStale(); err != nil {
		t.Fatal(err)
	}
	if !probeDefined(t, s.group+"/exit_probe") {
		t.Fatal("RemoveStale removed a probe whose events are open")
	}
	if err := RemoveAtExit(); err != nil {
		t.Fatal(err)
	}
	if probeDefined(t, s.group+"/exit_probe") {
		t.Error("the probe stays defined")
	}
	if len(perfFiles.fds) != 0 || len(perfFiles.maps) != 0 {
		t.Errorf("left open: %d descriptors, %d rings", len(perfFiles.fds), len(perfFiles.maps))
	}
	if got := rd.read(); len(got) != 0 || rd.err != nil {
		t.Errorf("reading after: %d events, %v", len(got), rd.err)
	}
	rd.close()
}

// TestTaskGoneWhileOpened: a task that exits while its events are opened
// is passed over, its descriptors closed and the rings its events made
// unmapped, so that the next task's events make their own.
func TestTaskGoneWhileOpened(t *testing.T) {
	rd := shReader(t, "gone_probe")
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()
	opens := 0
	perfEventOpen = func(attr *unix.PerfEventAttr, pid, cpu, group, flags int) (int, error) {
		if opens++; opens == 2*len(rd.cpus) { // every CPU's ring mapped, then it exits
			child.Process.Kill()
			child.Wait()
		}
		return unix.PerfEventOpen(attr, pid, cpu, group, flags)
	}
	n, err := rd.addTasks([]int{child.Process.Pid})
	perfEventOpen = unix.PerfEventOpen
	if err != nil || n != 0 {
		t.Fatalf("addTasks of a task gone: %d, %v", n, err)
	}
	if len(rd.fds) != 0 || len(rd.rings) != 0 || len(rd.order) != 0 || len(perfFiles.fds) != 0 || len(perfFiles.maps) != 0 {
		t.Fatalf("left: %d descriptors, %d rings (%d, %d, %d in perfFiles)", len(rd.fds), len(rd.rings), len(rd.order), len(perfFiles.fds), len(perfFiles.maps))
	}
	if n, err := rd.addTasks([]int{os.Getpid()}); err != nil || n != 1 {
		t.Fatalf("addTasks after: %d, %v", n, err)
	}
	if len(rd.rings) != len(rd.cpus) || len(rd.fds) != 2*len(rd.cpus) {
		t.Errorf("after: %d rings, %d descriptors on %d CPUs", len(rd.rings), len(rd.fds), len(rd.cpus))
	}
}

// TestTooManyFiles: past the open file limit, the error says how many
// descriptors the tasks need and what the limit is.
func TestTooManyFiles(t *testing.T) {
	rd := shReader(t, "emfile_probe")
	perfEventOpen = func(*unix.PerfEventAttr, int, int, int, int) (int, error) { return -1, syscall.EMFILE }
	defer func() { perfEventOpen = unix.PerfEventOpen }()
	_, err := rd.addTasks([]int{os.Getpid(), os.Getppid()})
	want := fmt.Sprintf("about %d needed (2 tasks x (2 events x %d CPUs + a marker))", 2*(2*len(rd.cpus)+1), len(rd.cpus))
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "ulimit -n") {
		t.Errorf("error %v, want %q and ulimit -n in it", err, want)
	}
}

// shReader is a reader of two events, a probe named name at /bin/sh's
// entry (which nothing here runs) and sched_process_exit, opened for no
// task yet; removed at the test's end.
func shReader(t *testing.T, name string) *rawReader {
	t.Helper()
	needTracing(t, "")
	s := newSession("/bin/sh")
	if err := s.open([]probe{{name: name, offset: shEntry(t)}}); err != nil {
		t.Fatal(err)
	}
	rd, err := openRawReader([]string{s.group + "/" + name, "sched/sched_process_exit"}, nil)
	if err != nil {
		s.close()
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.close(); s.close() })
	return rd
}

// shEntry is the file offset of /bin/sh's ELF entry point: somewhere to
// put a probe that nothing here runs.
func shEntry(t *testing.T) uint64 {
	f, err := elf.Open("/bin/sh")
	if err != nil {
		t.Skipf("no /bin/sh to probe: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && f.Entry >= p.Vaddr && f.Entry < p.Vaddr+p.Filesz {
			return f.Entry - p.Vaddr + p.Off
		}
	}
	t.Skip("no executable segment holds /bin/sh's entry")
	return 0
}

// probeDefined tells whether uprobe_events defines group/name.
func probeDefined(t *testing.T, name string) bool {
	b, err := os.ReadFile(filepath.Join(tracefsRoot, "uprobe_events"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(b), ":"+name+" ")
}

// TestUnkept: on a kernel that refuses the inherited marker, a forked
// process whose keepers cannot be opened (the open file limit) is noted,
// for the trace's metadata and the report's header (review: it was only
// logged with GILTRACE_VERBOSE); one that has exited is passed over.
func TestUnkept(t *testing.T) {
	rd := shReader(t, "unkept_probe")
	rd.plainMarker = true
	rd.keepArmed(os.Getpid())
	if len(rd.keepers[os.Getpid()]) != 1 || len(rd.unkept) != 0 {
		t.Fatalf("keepers %v, unkept %v: want one keeper (one probe) and none unkept", rd.keepers, rd.unkept)
	}
	rd.letGo(os.Getpid())
	if len(rd.keepers) != 0 {
		t.Errorf("keepers %v after letGo", rd.keepers)
	}
	perfEventOpen = func(*unix.PerfEventAttr, int, int, int, int) (int, error) { return -1, syscall.EMFILE }
	defer func() { perfEventOpen = unix.PerfEventOpen }()
	rd.keepArmed(os.Getpid())
	if len(rd.unkept) != 1 || rd.unkept[0].pid != os.Getpid() || !errors.Is(rd.unkept[0].err, syscall.EMFILE) {
		t.Errorf("unkept %v, want this process, EMFILE", rd.unkept)
	}
	perfEventOpen = func(*unix.PerfEventAttr, int, int, int, int) (int, error) { return -1, syscall.ESRCH }
	rd.keepArmed(1 << 30) // no such process
	if len(rd.unkept) != 1 {
		t.Errorf("unkept %v: a process gone is not unkept", rd.unkept)
	}
}
