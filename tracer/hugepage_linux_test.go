//go:build linux

package tracer

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// TestHugeSliceAdvises: a fresh large slice's mapping is marked for huge pages
// (the "hg" flag of /proc/self/smaps: MADV_HUGEPAGE), and writing it after
// the advice reads back what was written.
func TestHugeSliceAdvises(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil {
		t.Skipf("this kernel has no transparent huge pages: %v", err)
	}
	if hugeOff {
		t.Skip("GODEBUG=disablethp=1: no advice")
	}
	s := make([]uint64, 32<<20/8)
	hugeSlice(s)
	start, length := hugeInner(uintptr(unsafe.Pointer(&s[0])), uintptr(len(s))*8)
	if length == 0 {
		t.Fatal("a 32 MB slice holds no whole huge page")
	}
	flags, err := vmFlags(start)
	if err != nil {
		t.Skipf("reading /proc/self/smaps: %v", err)
	}
	if !strings.Contains(" "+flags+" ", " hg ") {
		t.Errorf("VmFlags of the mapping at %#x: %q, want hg (MADV_HUGEPAGE)", start, flags)
	}
	for i := range s {
		s[i] = uint64(i)
	}
	for i := range s {
		if s[i] != uint64(i) {
			t.Fatalf("s[%d] = %d", i, s[i])
		}
	}
}

// vmFlags returns the VmFlags line of the mapping holding address a.
func vmFlags(a uintptr) (string, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x", &lo, &hi); n == 2 && strings.Contains(line, " ") {
			in = lo <= a && a < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmFlags:")), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("no mapping holds %#x", a)
}

// BenchmarkFirstTouch is the cost of touching fresh memory, a write every
// 4 KiB of a new 64 MiB mapping, with 4 KiB pages and advised huge pages
// (madviseHuge): on a machine whose page faults are dear the difference
// is what hugepage.go is for (docs/performance.md).
func BenchmarkFirstTouch(b *testing.B) {
	const size = 64 << 20
	for _, huge := range []bool{false, true} {
		name := "4KiB-pages"
		if huge {
			name = "huge-pages"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				m, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
				if err != nil {
					b.Fatal(err)
				}
				if huge {
					if start, length := hugeInner(bytesOf(m)); length > 0 {
						madviseHuge(start, length)
					}
				}
				for i := 0; i < len(m); i += 4096 {
					m[i] = 1
				}
				syscall.Munmap(m)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/64/1e6, "ms/MB")
		})
	}
}

// TestPrefaultPopulates: prefault faults in every page of fresh anonymous
// memory (none resident before, by mincore), region by region, while the
// caller writes part of it, and what the caller wrote stays.
func TestPrefaultPopulates(t *testing.T) {
	if !canPopulate() {
		t.Skip("this kernel refuses MADV_POPULATE_WRITE (Linux 5.14)")
	}
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("GOMAXPROCS=1: prefault does nothing")
	}
	const size = 24 << 20
	var rs []region
	var mems [][]byte
	for range 2 {
		m, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Munmap(m)
		mems = append(mems, m)
		rs = append(rs, regionOf(m))
	}
	for _, m := range mems {
		if n := resident(t, m); n != 0 {
			t.Fatalf("%d of %d pages of a fresh mapping resident before", n, size/4096)
		}
	}
	quit, done := startPrefault(nil, rs)
	for i := range size / 2 { // written meanwhile
		mems[0][i] = byte(i % 251)
	}
	<-done
	if quit.Load() {
		t.Fatal("quit set without a stop")
	}
	for k, m := range mems {
		if n := resident(t, m); n != size/4096 {
			t.Errorf("mapping %d: %d of %d pages resident after prefault", k, n, size/4096)
		}
	}
	for i := range size / 2 {
		if mems[0][i] != byte(i%251) {
			t.Fatalf("byte %d: %d after prefault, written %d", i, mems[0][i], byte(i%251))
		}
	}
	for i, b := range mems[0][size/2:] {
		if b != 0 {
			t.Fatalf("byte %d: %d after prefault, want 0", size/2+i, b)
		}
	}
}

// TestPrefaultStops: the stop returned by prefault ends its goroutine,
// and below prefaultMin nothing is started.
func TestPrefaultStops(t *testing.T) {
	m := make([]byte, 64<<20)
	stop := prefault(m, regionOf(m))
	stop()
	stop = prefault(nil, region{0, prefaultMin - 1}) // an address never touched: nothing started
	stop()
	_, done := startPrefault(nil, []region{{0, prefaultMin - 1}})
	select {
	case <-done:
	default:
		t.Fatal("a prefault below prefaultMin was started")
	}
}

// resident is how many of m's pages are in memory, by mincore.
func resident(t *testing.T, m []byte) int {
	t.Helper()
	return residentAt(t, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)))
}

// residentAt is resident of the n bytes at p (p page-aligned).
func residentAt(t *testing.T, p, n uintptr) int {
	t.Helper()
	vec := make([]byte, (n+4095)/4096)
	if _, _, errno := syscall.Syscall(syscall.SYS_MINCORE, p, n, uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatalf("mincore: %v", errno)
	}
	res := 0
	for _, v := range vec {
		res += int(v & 1)
	}
	return res
}

// TestFreeForAnalysisAdvises: the room FreeForAnalysis grows the heap by
// lies in a mapping advised for huge pages (smaps' VmFlags "hg"), is freed
// again (the heap in use does not keep it), and is not backed (mincore)
// until used; below hugeMin there is none, and above maxRoom it is capped.
// It runs in a process of its own, whose heap has no free run as large
// as the room, as a command's right after a run: in this test process an
// earlier test's freed memory could hold the room, which the runtime then
// clears (resident, though never written by FreeForAnalysis).
func TestFreeForAnalysisAdvises(t *testing.T) {
	if os.Getenv(roomChildEnv) != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFreeForAnalysisAdvises$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), roomChildEnv+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the test in a process of its own: %v\n%s", err, out)
		}
		if strings.Contains(string(out), "--- SKIP") {
			t.Skipf("skipped in its own process:\n%s", out)
		}
		if !strings.Contains(string(out), "--- PASS: TestFreeForAnalysisAdvises") {
			t.Fatalf("the test in a process of its own did not pass:\n%s", out)
		}
		return
	}
	if hugeOff {
		t.Skip("GODEBUG=disablethp=1: no advice")
	}
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil {
		t.Skipf("this kernel has no transparent huge pages: %v", err)
	}
	if !roomAllowed() {
		t.Skip("no room here: a limit on the address space, or strict overcommit")
	}
	if r := freeForAnalysis(hugeMin - 1); r.n != 0 {
		t.Fatalf("a room of %d bytes below hugeMin", r.n)
	}
	// Right after a run the heap has no free run of the room's size; here
	// the test binary's start-up (and the call above) left freed pages. A
	// room that begins in them is cleared whole by the runtime (resident)
	// unless every one of them was returned to the system: returning them
	// first (FreeOSMemory) made that 1 time in 4 rare, not impossible (CI,
	// 2026-12-05: a page freed after the return, a stack's perhaps, and
	// the room of 16383 pages resident). So the collector is held off and
	// every free page taken (takeFreePages): the room then lies in fresh
	// memory, as after a run.
	gc := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(gc)
	debug.FreeOSMemory()
	filled := takeFreePages()
	defer runtime.KeepAlive(filled)
	const grow = 64 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := freeForAnalysis(grow)
	runtime.ReadMemStats(&after)
	if r.n != grow {
		t.Fatalf("room of %d bytes, want %d", r.n, grow)
	}
	// The room was never written: read before anything else is made (the
	// heap reuses the freed room: each allocation there faults in a huge
	// page), at most what the runtime has reused of it since, a few huge
	// pages, is resident.
	p, n := (r.p+4095)&^4095, r.n&^4095-4096
	if res := residentAt(t, p, n); res > int(n/4096/4) {
		t.Errorf("%d of the room's %d pages resident: it was written (heap sys %d -> %d, released %d -> %d)", res, n/4096, before.HeapSys, after.HeapSys, before.HeapReleased, after.HeapReleased)
	}
	if after.HeapInuse >= before.HeapInuse+grow/2 {
		t.Errorf("heap in use %d -> %d bytes: the room of %d was not freed", before.HeapInuse, after.HeapInuse, grow)
	}
	for _, at := range []uintptr{r.p, r.p + r.n/2, r.p + r.n - 1} {
		flags, err := vmFlags(at)
		if err != nil {
			t.Fatalf("reading /proc/self/smaps: %v", err)
		}
		if !strings.Contains(" "+flags+" ", " hg ") {
			t.Errorf("the mapping holding %#x (room %#x+%d) is not advised for huge pages: VmFlags %q", at, r.p, r.n, flags)
		}
	}
	// The first room's memory, freed but kept, returned before the capped
	// room is made: a room made partly of memory the heap has used is
	// cleared by the runtime whole (1 GiB: 3 s and 1 GiB resident, beside
	// the other packages' tests).
	debug.FreeOSMemory()
	if r := freeForAnalysis(4 * maxRoom); r.n != maxRoom {
		t.Errorf("room of %d bytes asked for %d, want the cap %d", r.n, 4*maxRoom, maxRoom)
	}
}

// TestFreeForAnalysisKeepsPages: the garbage FreeForAnalysis collects
// stays resident (mincore) for the analysis to reuse: its pages are not
// returned to the system, where returning them made record's work after
// a real run 11 % slower. The runtime's background scavenger may return
// a few meanwhile; FreeOSMemory returned them all.
func TestFreeForAnalysisKeepsPages(t *testing.T) {
	const size = 64 << 20
	garbage := make([]byte, size)
	for i := 0; i < len(garbage); i += 4096 {
		garbage[i] = 1 // resident
	}
	r := regionOf(garbage)
	p, n := (r.p+4095)&^4095, r.n&^4095-4096
	if res := residentAt(t, p, n); res < int(n/4096)*9/10 {
		t.Fatalf("%d of the garbage's %d pages resident before", res, n/4096)
	}
	garbage = nil
	freeForAnalysis(size)
	if res := residentAt(t, p, n); res < int(n/4096)/2 {
		t.Errorf("%d of the garbage's %d pages resident after FreeForAnalysis: returned to the system", res, n/4096)
	}
}

// takeFreePages allocates pages of the heap one at a time (an 8 KiB
// object has a span of its own) until the heap grows: then none of its
// free pages is left for a larger allocation to begin in. The collector
// must be off, or what it frees meanwhile is free again.
func takeFreePages() (pages [][]byte) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	for sys := ms.HeapSys; ms.HeapSys == sys; runtime.ReadMemStats(&ms) {
		for range 16 {
			pages = append(pages, make([]byte, 8192))
		}
	}
	return pages
}

// roomChildEnv runs TestFreeForAnalysisAdvises itself, in the process
// the test started for it.
const roomChildEnv = "GILTRACE_TEST_ROOM_CHILD"

// TestRoomAllowed: no room under a limit on the address space, nor under
// strict overcommit (roomAllowedBy), and a limit set on this process is
// read (roomAllowed), then lifted again.
func TestRoomAllowed(t *testing.T) {
	inf := syscall.Rlimit{Cur: ^uint64(0), Max: ^uint64(0)}
	for _, c := range []struct {
		as         syscall.Rlimit
		overcommit string
		want       bool
	}{
		{inf, "0\n", true},
		{inf, "1\n", true},
		{inf, "2\n", false},
		{syscall.Rlimit{Cur: 1 << 40, Max: ^uint64(0)}, "0\n", false},
	} {
		if got := roomAllowedBy(c.as, c.overcommit); got != c.want {
			t.Errorf("RLIMIT_AS %+v, overcommit %q: %v, want %v", c.as, c.overcommit, got, c.want)
		}
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &old); err != nil {
		t.Skip(err)
	}
	if old.Cur != ^uint64(0) {
		t.Skipf("RLIMIT_AS is already %d here", old.Cur)
	}
	// 1 TiB: far more than this test process reserves.
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: 1 << 40, Max: old.Max}); err != nil {
		t.Skip(err)
	}
	limited := roomAllowed()
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &old); err != nil {
		t.Fatalf("restoring RLIMIT_AS: %v", err)
	}
	if limited {
		t.Error("a room allowed under RLIMIT_AS of 1 TiB")
	}
	if r := freeForAnalysis(64 << 20); roomAllowed() && !hugeOff && r.n == 0 {
		t.Error("no room once the limit is lifted")
	}
}
