package cpython

import (
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strings"
)

// maxArgLen is the longest fetch-argument expression tracefs accepts,
// type included (MAX_ARGSTR_LEN in the kernel's trace_probe.h).
const maxArgLen = 63

// Probe event names, the group excluded.
const (
	evTakeGIL    = "take_gil"
	evTakeGILRet = "take_gil_ret"
	evDropGIL    = "drop_gil"
	evSave       = "save_thread"
	evRestore    = "restore_thread"
	evLock       = "lock_acquire"
	evLockRet    = "lock_acquire_ret"
	evUnlock     = "lock_release"
	evFreeLock   = "lock_free"
	evThreadEnd  = "thread_end"
	evExit       = "sched_process_exit"
	evExec       = "sched_process_exec"
	evDetach     = "detach"
	evAttach     = "attach"
	evPark       = "park"
	// evSample is not a probe: the recorder's own reading of the GIL's
	// holder and its Python stack from the process's memory (sampler).
	evSample = "holder_sample"
	// evTaskState is not a probe either: the recorder's reading of a
	// task's scheduler state ("asleep": S or D in /proc/PID/task/TID/stat)
	// during a GIL-releasing call of an extension module (machine.watched).
	evTaskState = "task_state"
	// evInterval is not a probe: the recorder's reading of a process's
	// switch interval, every refreshEvery of real time, dated when read
	// (the sampler's goroutine).
	evInterval = "switch_interval"
)

// frameArgs describes how the drop_gil probe fetches the top of the Python
// stack: one array argument per frame, each the words [lo, lo+8*words) of
// the frame struct, frame k reached from the thread state through k
// "previous" links.
type frameArgs struct {
	lo     int64 // first byte fetched of each frame struct
	words  int   // 8-byte words fetched per frame
	frames int   // frames fetched
	exprs  []string

	// frameExpr fetches the address of the innermost frame itself (fp).
	// A fetch that faults stores nothing, and the kernel's per-CPU buffer
	// then keeps what the previous hit on that CPU fetched there (another
	// thread's frames): a thread ending has no frame (3.9-3.11, 3.13) or
	// no thread state (3.12's _PyThreadState_DeleteCurrent passes NULL),
	// and its f0 came out as the last frame another thread released in.
	// The frames fetched count only if ts and fp are nonzero (prefetch).
	frameExpr string
	// 3.11+ with Options.StackWindow: the interpreter's frames live in a
	// per-thread data stack, each above its caller, so the probe also
	// fetches the windows of memory below the innermost frame (windowExprs,
	// the lowest first): callers found in them are exact.
	windowExprs []string
}

// Data-stack windows (Options.StackWindow): 2 x 512 bytes (the longest
// fetch array is 64 elements), enough for the callers of a typical frame.
// The kernel reads an array element by element: each window costs the
// traced program 64 user-memory reads per release of the GIL (measured:
// 2 windows tripled the overhead of a pool of blocking calls), which is
// why they are off by default.
const (
	windowWords = 64
	windows     = 2
)

// buildFrameArgs builds the fetch expressions for the frames of the thread
// state in register reg, as many as the argument length limit allows (up
// to n).
func buildFrameArgs(l *layout, reg string, n int, window bool) frameArgs {
	base := fmt.Sprintf("+%d(%s)", l.tstateFrame, reg)
	if l.cframeFrame >= 0 {
		base = fmt.Sprintf("+%d(%s)", l.cframeFrame, base)
	}
	lo, hi := l.frameCode, l.frameCode+8
	for _, f := range [][2]int64{{l.framePrev, 8}, {l.frameInstr, 8}, {l.frameOwner, 1}} {
		if f[0] < 0 {
			continue
		}
		lo, hi = min(lo, f[0]), max(hi, f[0]+f[1])
	}
	lo &^= 7
	fa := frameArgs{lo: lo, words: int((hi - lo + 7) / 8)}
	ptr := base
	for range n {
		e := fmt.Sprintf("+%d(%s):x64[%d]", lo, ptr, fa.words)
		if len(e) > maxArgLen {
			break
		}
		fa.exprs = append(fa.exprs, e)
		ptr = fmt.Sprintf("+%d(%s)", l.framePrev, ptr)
	}
	fa.frames = len(fa.exprs)
	fa.frameExpr = base + ":x64"
	if window && l.minor >= 11 {
		for i := windows; i >= 1; i-- {
			fa.windowExprs = append(fa.windowExprs, fmt.Sprintf("-%d(%s):x64[%d]", i*windowWords*8, base, windowWords))
		}
	}
	return fa
}

// buildProbes returns the uprobes of interpreter in and how drop_gil
// fetches frames.
func buildProbes(in *interp, exactFrames int, window, lockHolds bool) ([]probe, frameArgs, error) {
	l := in.layout
	if lockHolds && in.Minor >= 14 {
		// 3.14 made threading.Lock and RLock PyMutex locks, taken
		// through the parking lot (lock_PyThread_acquire_lock calls
		// _PyParkingLot_Park): the PyThread lock probes would see none of
		// their holds.
		return nil, frameArgs{}, fmt.Errorf("interpreter %s (Python %s): %w: --lock-holds observes PyThread locks, and from 3.14 on "+
			"threading.Lock and RLock are PyMutex locks, whose holds it does not probe; record without --lock-holds (lock waits are still shown)",
			in.Path, in.Version, ErrUnsupported)
	}
	if lockHolds && in.inlinedLocks {
		return nil, frameArgs{}, fmt.Errorf("interpreter %s (Python %s): %w: --lock-holds needs the return of every "+
			"PyThread_acquire_lock_timed, and this build copied it into its callers (inlining), where no return can be probed; "+
			"record without --lock-holds (lock waits are still shown), or use a build without link-time optimisation%s",
			in.Path, in.Version, ErrInlined, pyenvHint(in.Minor, in.Path))
	}
	// Every drop_gil probe fetches as many frames: the fewest that the
	// argument length allows with any of their thread states.
	exactFrames = min(exactFrames, buildFrameArgs(l, argRegs[l.dropGILTstate], exactFrames, window).frames)
	for _, p := range in.inlined {
		if p.event == evDropGIL {
			exactFrames = min(exactFrames, buildFrameArgs(l, p.reg, exactFrames, window).frames)
		}
	}
	fa := buildFrameArgs(l, argRegs[l.dropGILTstate], exactFrames, window)
	dropArgs := func(reg string) string {
		fa := buildFrameArgs(l, reg, exactFrames, window)
		var da strings.Builder
		fmt.Fprintf(&da, "ts=%s:x64", reg)
		for i, e := range fa.exprs {
			fmt.Fprintf(&da, " f%d=%s", i, e)
		}
		fmt.Fprintf(&da, " fp=%s", fa.frameExpr)
		for i, e := range fa.windowExprs {
			fmt.Fprintf(&da, " w%d=%s", i, e)
		}
		return da.String()
	}
	// Without lock holds, only blocking acquires: lock.acquire() first
	// tries without blocking (microseconds == 0), which needs no event.
	lockFilter := "us != 0"
	if lockHolds {
		lockFilter = ""
	}
	type probeSpec struct {
		name, sym string
		ret       bool
		args      string
		filter    string
	}
	specs := []probeSpec{
		{evTakeGIL, "take_gil", false, fmt.Sprintf("ts=%s:x64", argRegs[l.takeGILTstate]), ""},
		{evTakeGILRet, "take_gil", true, "", ""},
		{evDropGIL, "drop_gil", false, dropArgs(argRegs[l.dropGILTstate]), ""},
		{evSave, "PyEval_SaveThread", false, "ra=$stack0:x64", ""},
		{evLock, "PyThread_acquire_lock_timed", false, "lock=%di:x64 us=%si:s64", lockFilter},
		{evThreadEnd, "_PyThreadState_DeleteCurrent", false, "", ""},
	}
	// With lock holds, every acquire's outcome (PY_LOCK_ACQUIRED is 1)
	// and every release: threading.Lock and RLock (3.9-3.13: 3.13 moved
	// its own locks to PyMutex, not the lock objects) and the
	// interpreter's PyThread locks.
	if lockHolds {
		specs = append(specs, []probeSpec{
			{evLockRet, "PyThread_acquire_lock_timed", true, "ret=$retval:s32", ""},
			{evUnlock, "PyThread_release_lock", false, "lock=%di:x64", ""},
			// A lock freed: the next lock at its address is another.
			{evFreeLock, "PyThread_free_lock", false, "lock=%di:x64", ""},
		}...)
	}
	// 3.13 detaches the thread state for more than PyEval_SaveThread: the
	// eval breaker's drop request and the parking lot (threading.Lock,
	// Thread.join) call _PyThreadState_Detach and _PyThreadState_Attach
	// directly; _PyParkingLot_Park names the address waited on. A build
	// that inlined _PyThreadState_Detach everywhere (Debian's 3.15) has
	// the static function it calls, detach_thread, as clones, probed
	// instead (planInlined).
	_, detach := in.syms["_PyThreadState_Detach"]
	// Debian's 3.14: _PyThreadState_Detach is only a jump to the clone of
	// detach_thread, probed: its own probe would be a second trap for
	// every blocking call.
	if detach && in.jumpsToProbed("_PyThreadState_Detach", evDetach) {
		detach = false
	}
	if detach {
		specs = append(specs, probeSpec{evDetach, "_PyThreadState_Detach", false, "ra=$stack0:x64", ""})
	}
	if _, ok := in.syms["_PyParkingLot_Park"]; ok && (detach || in.inlinedEvent(evDetach)) {
		specs = append(specs, probeSpec{evPark, "_PyParkingLot_Park", false, "lock=%di:x64 timeout=%cx:s64", ""})
	}
	// PyEval_RestoreThread calls take_gil at once, whose probe ends the
	// blocking call: a probe of its own would cost a hit per call. Without
	// a GIL (free-threaded), take_gil is not reached.
	if in.NoGIL {
		specs = append(specs, probeSpec{evRestore, "PyEval_RestoreThread", false, "", ""})
	}
	var out []probe
	for _, s := range specs {
		if _, ok := in.syms[s.sym]; !ok && in.hasClone(s.sym) {
			continue // probed at its clones (openInterp checked there are some)
		}
		off, err := in.symbolOffset(s.sym)
		if err != nil {
			return nil, fa, err
		}
		if s.name == evUnlock {
			off = pastStackAdjust(in.Path, off)
		}
		out = append(out, probe{name: s.name, ret: s.ret, offset: off, args: s.args, filter: s.filter})
	}
	// The inlined copies (link-time optimisation): each at its address,
	// or at the entry of the function that is its whole body.
	for _, p := range in.inlined {
		var off uint64
		var err error
		if p.sym != "" {
			off, err = in.symbolOffset(p.sym)
		} else if off, err = fileOffset(in.progs, p.site.addr); err != nil {
			err = fmt.Errorf("the copy of %s in %s in %s: %w", p.site.fn, p.site.in, in.Path, err)
		}
		if err != nil {
			return nil, fa, err
		}
		args := p.args
		if p.event == evDropGIL {
			args = dropArgs(p.reg)
		}
		out = append(out, probe{name: p.name, offset: off, args: args, filter: p.filter})
	}
	return out, fa, nil
}

// jumpsToProbed reports whether function name's code is a jump (after an
// endbr64) to the entry of an inlined probe's site of event ev: a tail
// call that the site's probe sees, with the same return address.
func (in *interp) jumpsToProbed(name, ev string) bool {
	s, ok := in.syms[name]
	if !ok {
		return false
	}
	off, err := fileOffset(in.progs, s.Value)
	if err != nil {
		return false
	}
	b, ok := readAt(in.Path, off, 9)
	if !ok {
		return false
	}
	to, ok := jumpTarget(b, s.Value)
	return ok && slices.ContainsFunc(in.inlined, func(p inlineProbe) bool { return p.event == ev && p.site.clone && p.site.addr == to })
}

// jumpTarget decodes code b at address at as an optional endbr64 and a
// direct jmp (rel32 or rel8), and returns where it jumps.
func jumpTarget(b []byte, at uint64) (uint64, bool) {
	if len(b) >= 4 && b[0] == 0xf3 && b[1] == 0x0f && b[2] == 0x1e && b[3] == 0xfa { // endbr64
		b, at = b[4:], at+4
	}
	switch {
	case len(b) >= 5 && b[0] == 0xe9: // jmp rel32
		return at + 5 + uint64(int64(int32(binary.LittleEndian.Uint32(b[1:5])))), true
	case len(b) >= 2 && b[0] == 0xeb: // jmp rel8
		return at + 2 + uint64(int64(int8(b[1]))), true
	}
	return 0, false
}

// readAt reads n bytes of file path at offset off.
func readAt(path string, off uint64, n int) ([]byte, bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, int64(off)); err != nil {
		return nil, false
	}
	return b, true
}

// pastStackAdjust returns the offset of the instruction after a function's
// leading `sub $imm8, %rsp` at file offset off in path, or off. The kernel
// emulates a probed push, call or jump, but runs any other instruction
// out of line: a second trap. PyThread_release_lock (3.9-3.13) begins
// `sub $8, %rsp; call sem_post`: probed at its entry it cost the traced
// program about 19 us per release on a 2-core VM (scripts/overhead/
// lock_heavy.py), against about 2 us at the call. The argument registers
// are unchanged by the adjustment.
func pastStackAdjust(path string, off uint64) uint64 {
	b, ok := readAt(path, off, 4)
	if !ok {
		return off
	}
	if b[0] == 0x48 && b[1] == 0x83 && b[2] == 0xec { // REX.W 83 /5 ib: sub $imm8, %rsp
		return off + 4
	}
	return off
}
