package vm

import (
	"fmt"

	"github.com/giltrace/giltrace/tracer"
)

// frame is an activation of a code object on a thread.
type frame struct {
	code   *code
	pc     int
	base   int            // index of its first local in thread.locals
	stack  tracer.StackID // the thread's stack while it runs: the function at its current operation's line
	parent tracer.StackID // the caller's stack (at its call's line)
}

// eval runs the thread's frames until the outermost returns. It returns
// errStopped when the run is stopped; the thread's state (frames, stack,
// locks held) then says what to unwind.
//
// The eval breaker is checked where CPython checks it: at function entry,
// calls and backward jumps. Between checks a thread holding the GIL runs
// without looking at it, so the time a holder needs to notice a drop
// request is a property of this loop.
func (th *thread) eval() error {
	br := &th.proc.breaker
	var vs [8]int64 // value stack; empty at calls and returns
	for {
		f := &th.frames[len(th.frames)-1]
		ins := f.code.instrs
		locals := th.locals[f.base : f.base+f.code.nlocals]
		pc, sp := f.pc, 0
		instrs, limit := th.instrs, th.breakAt()
	loop:
		for {
			in := &ins[pc]
			instrs++
			switch in.op {
			case opTestGT:
				instrs += lenTestGT - 1
				if locals[in.a] > in.b {
					pc += lenTestGT
				} else {
					pc = int(in.c)
				}
			case opDecJumpBack:
				locals[in.a] -= in.b
				instrs += lenDecJumpBack - 1
				pc = int(in.c)
				if br.load() != 0 || instrs >= limit {
					f.pc, th.instrs = pc, instrs
					th.at(f, pc)
					if err := th.atBreaker(); err != nil {
						return err
					}
					instrs, limit = th.instrs, th.breakAt()
				}
			case opLoadConst:
				vs[sp] = in.b
				sp++
				pc++
			case opLoadFast:
				vs[sp] = locals[in.a]
				sp++
				pc++
			case opStoreFast:
				sp--
				locals[in.a] = vs[sp]
				pc++
			case opCompareGT:
				sp--
				if vs[sp-1] > vs[sp] {
					vs[sp-1] = 1
				} else {
					vs[sp-1] = 0
				}
				pc++
			case opPopJumpIfFalse:
				sp--
				if vs[sp] == 0 {
					pc = int(in.c)
				} else {
					pc++
				}
			case opBinarySub:
				sp--
				vs[sp-1] -= vs[sp]
				pc++
			case opJumpBackward, opResume:
				if in.op == opJumpBackward {
					pc = int(in.c)
				} else {
					pc++
				}
				if br.load() != 0 || instrs >= limit {
					f.pc, th.instrs = pc, instrs
					th.at(f, pc)
					if err := th.atBreaker(); err != nil {
						return err
					}
					instrs, limit = th.instrs, th.breakAt()
				}
			case opCall:
				f.pc, th.instrs = pc, instrs
				th.at(f, pc)
				if br.load() != 0 || instrs >= limit {
					if err := th.atBreaker(); err != nil {
						return err
					}
				}
				f.pc = pc + 1
				th.call(th.prog.funcs[in.a])
				break loop
			case opReturn:
				th.instrs = instrs
				th.ret()
				if len(th.frames) == 0 {
					return nil
				}
				break loop
			case opLine:
				instrs-- // not an instruction of CPython's
				th.at(f, pc)
				pc++
				if th.stack != th.buf.LastStack() {
					f.pc, th.instrs = pc, instrs
					th.emit(tracer.KindLine, 0)
				}
			case opIO, opNative, opLockAcquire, opLockRelease, opJoin, opStart, opWait, opNotify:
				f.pc, th.instrs = pc+1, instrs
				th.at(f, pc)
				if err := th.blocking(f.code, in); err != nil {
					return err
				}
				pc = f.pc
			default:
				panic(fmt.Sprintf("vm: bad opcode %d at %s+%d (line %d)", in.op, f.code.name, pc, in.line))
			}
		}
	}
}

// blocking runs an instruction that may block or emit events.
func (th *thread) blocking(c *code, in *instr) error {
	th.sync()
	switch in.op {
	case opIO:
		return th.io(&c.ios[in.a])
	case opNative:
		return th.native(&c.natives[in.a])
	case opLockAcquire:
		return th.lockAcquire(th.proc.locks[in.a])
	case opJoin:
		return th.joinGroups(th.prog.joins[in.a])
	case opStart:
		th.startGroups(th.prog.starts[in.a])
		return nil
	case opWait:
		if op := &c.ios[in.a]; op.notice > 0 {
			return th.waitNotice(th.prog.notices[op.notice-1], th.proc.locks[op.lock], op.d)
		}
		return th.wait(&c.ios[in.a])
	case opNotify:
		th.prog.notices[in.a].notify()
		return nil
	default:
		return th.proc.locks[in.a].release(th, tracer.ReleaseUnlock)
	}
}

// atBreaker handles a non-zero eval breaker or a due legacy tick; in
// virtual time it is called at every check, to let the clock's quanta end
// and to fast-forward the countdown to the next check that matters.
func (th *thread) atBreaker() error {
	if th.vt != nil {
		th.vt.check()
	}
	w := th.proc.breaker.load()
	if v := th.vt; v != nil && v.c.limited && (w&bitDrop != 0 && th.holdsGIL || th.tickActs()) {
		// Virtual time with fewer cores than threads: a thread lets the
		// GIL go with its core, having settled what it owes, at its
		// time: a woken thread of any process may have taken its core
		// since (preemptCore), which it learns only as the earliest.
		v.c.sync(v)
		w = th.proc.breaker.load()
	}
	if w&bitStop != 0 {
		return errStopped
	}
	if w&bitDrop != 0 && th.holdsGIL {
		if err := th.gil.drop(th); err != nil {
			return err
		}
	}
	if th.instrs >= th.nextTick {
		th.nextTick = th.instrs + th.checkInterval
		if err := th.gil.tick(th); err != nil {
			return err
		}
	}
	if th.vt != nil {
		th.vt.fastForward()
	}
	return nil
}

// tickActs reports whether a legacy tick is due and would release the
// GIL (legacyGIL.tick: a thread waits for it).
func (th *thread) tickActs() bool {
	l := th.proc.gilLock
	return th.instrs >= th.nextTick && l != nil && l.breaker == nil && l.waiting() > 0
}

// at makes the thread's stack that of frame f at instruction pc: its
// function at the line of the operation being run. Called where events
// may follow (calls, blocking operations, eval breaker checks), never in
// the compute loop's fast path; a repeated stack costs a map lookup.
func (th *thread) at(f *frame, pc int) {
	if fr := f.code.frames; pc < len(fr) {
		f.stack = th.stackOf(f.parent, fr[pc])
		th.stack = f.stack
	}
}

// resume makes the thread's stack that of the operation it runs next,
// before it takes the GIL back after blocking (I/O, a guest lock): the
// time it then runs, and the hold, belong to that operation's line, while
// the blocking and the wait before it stay on the operation's own.
func (th *thread) resume() {
	if n := len(th.frames); n > 0 {
		f := &th.frames[n-1]
		th.at(f, f.pc)
	}
}

// call pushes a frame for c and records the call.
func (th *thread) call(c *code) {
	top := &th.frames[len(th.frames)-1]
	base := top.base + top.code.nlocals
	st := th.stackOf(th.stack, c.entry)
	th.frames = append(th.frames, frame{code: c, base: base, stack: st, parent: th.stack})
	clear(th.locals[base : base+c.nlocals])
	th.stack = st
	th.emit(tracer.KindCallEnter, 0)
}

// ret pops the top frame; a guest function's return is recorded.
func (th *thread) ret() {
	f := &th.frames[len(th.frames)-1]
	if f.code.fn != nil {
		th.emit(tracer.KindCallExit, 0)
	}
	th.frames = th.frames[:len(th.frames)-1]
	if n := len(th.frames); n > 0 {
		th.stack = th.frames[n-1].stack
	}
}

// stackOf interns parent+f through the thread's own cache, so that a
// repeated call costs a few comparisons or a map lookup, and no lock.
func (th *thread) stackOf(parent tracer.StackID, f tracer.FrameID) tracer.StackID {
	k := uint64(parent)<<32 | uint64(f)
	c := &th.stacks
	for i := range c.n {
		if c.keys[i] == k {
			return c.ids[i]
		}
	}
	if s, ok := c.more[k]; ok {
		return s
	}
	s := th.rec.Stack(parent, f)
	switch {
	case c.n < len(c.keys):
		c.keys[c.n], c.ids[c.n] = k, s
		c.n++
	case c.more == nil:
		c.more = map[uint64]tracer.StackID{k: s}
	default:
		c.more[k] = s
	}
	return s
}

// stackCache is a thread's cache of stacks, (parent, frame) -> stack: its
// first few in place, the rest in a map. A map for each thread, made at
// its start, was 2 % of a virtual run of an 8-thread countdown, whose
// threads have two stacks each (docs/performance.md).
type stackCache struct {
	keys [4]uint64
	ids  [4]tracer.StackID
	n    int
	more map[uint64]tracer.StackID
}
