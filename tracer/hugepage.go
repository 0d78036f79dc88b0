package tracer

// Huge pages for a trace's largest arrays (its events, the recorder's
// chunks, the derived spans).
//
// Go's heap does not ask for transparent huge pages (since Go 1.21.1), and
// on Linux set to "madvise" (/sys/kernel/mm/transparent_hugepage/enabled,
// the default of many distributions) the kernel then backs it with 4 KiB
// pages, one page fault each on first touch. Where a page fault is dear
// (virtual machines: on the Firecracker guests giltrace is developed on,
// about 14 us each, so 3.5 ms per MB first touched) a 100 MB array costs
// 0.35 s of faults before any work; with huge pages, a few ms
// (docs/performance.md, "Page faults, huge pages and `record --timings`").
//
// GODEBUG=disablethp=1, Go's way to keep its heap off huge pages, turns
// the advice off too. In a long-lived process, the pages the runtime
// returns inside an advised range may be collapsed back into huge pages by
// the kernel (khugepaged): its resident memory then stays nearer its peak.

import (
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"unsafe"
)

// hugeOff is GODEBUG=disablethp=1: no advice.
var hugeOff = disableTHP(os.Getenv("GODEBUG"))

// disableTHP reports whether the GODEBUG setting godebug turns Go's heap
// huge pages off (the last disablethp= wins, as in the runtime).
func disableTHP(godebug string) bool {
	off := false
	for _, kv := range strings.Split(godebug, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(kv), "disablethp="); ok {
			off = v == "1"
		}
	}
	return off
}

// hugeMin is the smallest array hugeSlice acts on: below it, the few
// pages saved are not worth a system call (and a split of the heap's
// mapping).
const hugeMin = 8 << 20

// hugeSize is the huge page size of x86-64 and arm64 with 4 KiB pages.
const hugeSize = 2 << 20

// hugeSlice advises huge pages for the whole 2 MiB pages inside the
// backing array of s, when it is at least hugeMin long; s must not have
// been written yet (a fresh make). A hint: its failure (another platform,
// transparent huge pages off) changes nothing but the speed, and memory
// already touched keeps its small pages until the kernel's khugepaged
// collapses them.
func hugeSlice[T any](s []T) {
	if start, length := hugeInner(bytesOf(s)); length > 0 && !hugeOff {
		madviseHuge(start, length)
	}
}

// bytesOf is the address and the length in bytes of s's backing array.
func bytesOf[T any](s []T) (p, n uintptr) {
	var zero T
	return uintptr(unsafe.Pointer(unsafe.SliceData(s))), uintptr(cap(s)) * unsafe.Sizeof(zero)
}

// hugeInner is the range of whole huge pages inside [p, p+n): empty (length 0)
// below hugeMin.
func hugeInner(p, n uintptr) (start, length uintptr) {
	if n < hugeMin {
		return 0, 0
	}
	start = (p + hugeSize - 1) &^ (hugeSize - 1)
	end := (p + n) &^ (hugeSize - 1)
	if end <= start {
		return 0, 0
	}
	return start, end - start
}

// hugeCovering advises huge pages for every 2 MiB page that s's backing
// array touches, when it is at least one huge page long: for arrays of
// that size allocated one after the other (a recorder's chunks and slabs),
// contiguous but not aligned, so that the pages that straddle two of them
// are huge too. The first and the last page hold neighbours' bytes: an
// advice changes none, and they lie in the heap arenas that hold the
// array (whose 64 MiB boundaries are huge-page boundaries), so no other
// mapping is touched. It must come before the array is written.
func hugeCovering[T any](s []T) {
	if start, length := hugeOuter(bytesOf(s)); length > 0 && !hugeOff {
		madviseHuge(start, length)
	}
}

// hugeOuter is the range of the huge pages that [p, p+n) touches: empty
// (length 0) when n is less than one huge page.
func hugeOuter(p, n uintptr) (start, length uintptr) {
	if n < hugeSize {
		return 0, 0
	}
	start = p &^ (hugeSize - 1)
	end := (p + n + hugeSize - 1) &^ (hugeSize - 1)
	return start, end - start
}

// AdviseHugePages is hugeSlice for the other packages' large arrays of a
// run (the diagnosis's per-span arrays): on a machine whose page faults
// are dear, a fresh array of a few tens of MB costs more to touch than to
// compute (docs/performance.md, "Page faults, huge pages and record
// --timings"). s must be freshly made and not yet written.
func AdviseHugePages[T any](s []T) { hugeSlice(s) }

// FreeForAnalysis collects the garbage of a finished run, having first
// grown Go's heap by grow bytes (at most maxRoom) of fresh memory advised
// for huge pages and left unwritten. The arrays of the work after the run
// (the derived spans, the diagnosis's, the exporters') are then made in
// the recorder's (or the reader's) freed buffers, whose pages are still
// resident, and past them in that room, whose first touch is a huge page
// fault. Go's heap otherwise grows into fresh arenas of 4 KiB pages, one
// fault each: on this project's virtual machines 10-14 us a page, 3 ms a
// MB, against 0.2-0.4 ms a MB for memory advised huge (BenchmarkFirstTouch;
// docs/performance.md, "Post-run time, ninth pass"). The room is backed
// only where the analysis touches it; it does count against a limit on
// the address space (RLIMIT_AS) and, under strict overcommit
// (vm.overcommit_memory 2), against the commit limit: there it is not
// made (roomAllowed).
//
// The freed pages are kept, not returned to the system
// (debug.FreeOSMemory, until 2026-12-04): after a run of seconds in real
// time, returned pages came back as memory the host had to back again,
// and record's work after the run took 11 % more time and 26 % more CPU
// (docs/performance.md, "Post-run time, eleventh pass"); after a short
// virtual run the two were alike.
//
// Where huge pages cannot be advised (another system, GODEBUG=disablethp=1)
// or grow is below hugeMin, it is a collection alone. The room comes from
// fresh memory only when the heap has no free run of grow bytes (right
// after a run, whose garbage is not yet collected, it has none); otherwise
// the runtime clears it, which costs time, not correctness.
func FreeForAnalysis(grow int) { freeForAnalysis(grow) }

// maxRoom bounds FreeForAnalysis's room: 1 GiB, the arrays of about 12 M
// events.
const maxRoom = 1 << 30

// freeForAnalysis is FreeForAnalysis, returning the room it advised (its
// bytes now free in the heap), or none.
func freeForAnalysis(grow int) (room region) {
	grow = min(grow, maxRoom)
	if grow >= hugeMin && !hugeOff && roomAllowed() {
		// No collection started by the room's allocation: the one below
		// frees it with the rest.
		gc := debug.SetGCPercent(-1)
		b := make([]byte, grow)
		hugeCovering(b)
		room = regionOf(b)
		debug.SetGCPercent(gc)
	}
	runtime.GC()
	return room
}

// region is a byte range of an array: its address and length.
type region struct{ p, n uintptr }

// regionOf is the byte range of s's backing array.
func regionOf[T any](s []T) region {
	p, n := bytesOf(s)
	return region{p, n}
}

// prefaultMin is the least a prefault is started for: below it the
// goroutine costs more than the faults it spares.
const prefaultMin = 16 << 20

// prefault faults in the pages of the regions on another goroutine while
// the caller writes them, and returns what stops it and waits for it. The
// regions are the fresh arrays a pass fills (each from its start, all at
// once): their pages are faulted in proportionally, a huge page of the
// largest at a time, so that the pass finds them present. Each fault
// zeroes its page in the kernel; on a virtual machine whose host must back
// the memory again, that is most of the cost of a fresh array (0.6-5 GB/s
// here), and it is done on the other core instead of in the pass
// (docs/performance.md). The kernel's MADV_POPULATE_WRITE faults pages in
// as a write would, without writing: what the caller wrote stays. keep
// holds the arrays until the goroutine is done. Nothing is done with one
// core to run on, below prefaultMin, or where the kernel lacks the advice.
func prefault(keep any, rs ...region) (stop func()) {
	quit, done := startPrefault(keep, rs)
	return func() {
		quit.Store(true)
		<-done
	}
}

// startPrefault is prefault's goroutine, started: quit stops it between
// two huge pages, done is closed once it is over (at once when there is
// nothing to do).
func startPrefault(keep any, rs []region) (quit *atomic.Bool, done chan struct{}) {
	quit, done = new(atomic.Bool), make(chan struct{})
	total, largest := uintptr(0), uintptr(0)
	for _, r := range rs {
		total += r.n
		largest = max(largest, r.n)
	}
	if total < prefaultMin || runtime.GOMAXPROCS(0) < 2 || !canPopulate() {
		close(done)
		return quit, done
	}
	go func() {
		defer close(done)
		steps := (largest + hugeSize - 1) / hugeSize
		at := make([]uintptr, len(rs)) // bytes of each region done
		for s := uintptr(1); s <= steps; s++ {
			for i, r := range rs {
				if quit.Load() {
					return
				}
				to := min(r.n, (r.n*s/steps+hugeSize-1)&^(hugeSize-1))
				if to <= at[i] {
					continue
				}
				if !populate(r.p+at[i], to-at[i]) {
					return
				}
				at[i] = to
			}
		}
		runtime.KeepAlive(keep)
	}()
	return quit, done
}
