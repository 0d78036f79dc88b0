package cpython

import (
	"maps"
	"slices"
	"testing"

	"github.com/giltrace/giltrace/tracer"
)

// TestExitedNotSampled: once a process's main thread exits, the sampler
// is no longer given it to read; a later probe hit of the same pid (an
// exec into the interpreter, a reused pid) gives it back. A worker's exit
// changes nothing.
func TestExitedNotSampled(t *testing.T) {
	rec := tracer.NewRecorder(tracer.Config{})
	m := testMachine(rec)
	const worker = testThread + 1
	step(m, 10, testThread, evTakeGIL, "ts", 1)
	step(m, 11, testThread, evTakeGILRet)
	step(m, 20, worker, evTakeGIL, "ts", 2)
	if got := m.tracedPIDs(); !slices.Equal(got, []int{testThread}) {
		t.Fatalf("traced %v, want [%d]", got, testThread)
	}
	step(m, 30, worker, evExit)
	if got := m.tracedPIDs(); !slices.Equal(got, []int{testThread}) {
		t.Errorf("after a worker's exit: traced %v, want [%d]", got, testThread)
	}
	step(m, 40, testThread, evExit)
	if got := m.tracedPIDs(); len(got) != 0 {
		t.Errorf("after the main thread's exit: traced %v, want none", got)
	}
	step(m, 50, testThread+5, evTakeGIL, "ts", 3) // the same pid, running Python again
	if got := m.tracedPIDs(); !slices.Equal(got, []int{testThread}) {
		t.Errorf("after a new hit of the pid: traced %v, want [%d]", got, testThread)
	}
}

// forgetMem is fakeMem that records the processes forgotten.
type forgetMem struct {
	fakeMem
	forgot []int
}

func (f *forgetMem) forget(pid int) { f.forgot = append(f.forgot, pid) }

// TestSamplerPrunes: the sampler drops its state, and its memory reader
// what it knew, of a process it is no longer given.
func TestSamplerPrunes(t *testing.T) {
	in := &interp{layout: &layout{minor: 11, gilPath: []int64{0}, frameOwner: -1, codeQualname: -1, codeCode: -1}}
	mem := &forgetMem{}
	s := newSampler(in, frameArgs{}, 32, mem)
	s.read([]int{7, 8, 9}, 1)
	if len(s.procs) != 3 {
		t.Fatalf("%d processes read, want 3", len(s.procs))
	}
	s.read([]int{7, 9}, 2)
	if _, ok := s.procs[8]; ok || len(s.procs) != 2 {
		t.Errorf("state kept for %v, want 7 and 9", slices.Sorted(maps.Keys(s.procs)))
	}
	if !slices.Equal(mem.forgot, []int{8}) {
		t.Errorf("forgotten %v, want [8]", mem.forgot)
	}
}
