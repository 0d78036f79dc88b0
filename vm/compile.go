package vm

import (
	"fmt"
	"math"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

// opcode is an instruction of the VM's bytecode, a small stack machine
// modelled on CPython's.
type opcode uint8

// Opcodes. The generic ones are what the compiler emits; quicken replaces
// known sequences with superinstructions, as CPython 3.11's specialising
// interpreter does (COMPARE_OP_INT_JUMP, LOAD_FAST__LOAD_CONST).
const (
	opBad            opcode = iota
	opResume                // function entry: eval breaker check
	opLoadConst             // push b
	opLoadFast              // push local a
	opStoreFast             // pop into local a
	opCompareGT             // pop y, x; push x > y
	opPopJumpIfFalse        // pop; jump to c if 0
	opBinarySub             // pop y, x; push x - y
	opJumpBackward          // eval breaker check; jump to c
	opCall                  // eval breaker check; call function a
	opReturn                // return from the frame
	opIO                    // blocking I/O ios[a]
	opNative                // native call natives[a]
	opLockAcquire           // acquire guest lock a
	opLockRelease           // release guest lock a

	// Superinstructions: the first instruction of a sequence is replaced,
	// the rest stay in place and are skipped, so jump targets keep their
	// meaning and the instruction count (legacy ticks) stays exact.

	// opTestGT is LOAD_FAST a; LOAD_CONST b; COMPARE_GT; POP_JUMP_IF_FALSE c.
	opTestGT
	// opDecJumpBack is LOAD_FAST a; LOAD_CONST b; BINARY_SUB; STORE_FAST a;
	// JUMP_BACKWARD c, with JUMP_BACKWARD's eval breaker check.
	opDecJumpBack

	// opJoin is Thread.join of every thread of the groups joins[a]
	// (package vm, join.go).
	opJoin

	// opStart is Thread.start of every thread of the groups starts[a]
	// (package vm, start.go).
	opStart
	// opWait is a wait for a notification: ios[a], on guest lock
	// ios[a].lock.
	opWait
	// opNotify is a notify on notices[a] (package vm, notify.go).
	opNotify
	// opLine starts a compute operation: the thread moves on to its line,
	// recorded (tracer.KindLine) when the thread's last event was at
	// another (a call's return, a native call keeping the GIL, an
	// uncontended lock: operations whose last event is at their own
	// line), so that the compute's time is on its own line. Not an
	// instruction of CPython's: it costs no time and no legacy tick.
	opLine
)

// Lengths of the sequences the superinstructions replace.
const (
	lenTestGT      = 4
	lenDecJumpBack = 5
)

// instr is one instruction; a, b and c are its operands (see the opcodes),
// line the workload line it was compiled from (CPython's line table).
type instr struct {
	b    int64
	a    int32
	c    int32
	line int32
	op   opcode
}

// code is a compiled guest function, or a thread's top level (fn == nil:
// `for _ in range(repeat): run()`, outside every guest frame).
type code struct {
	name   string
	fn     *workload.Function
	frame  tracer.FrameID // the function at its definition line
	instrs []instr
	line   int32 // the line of the instructions being emitted
	// Per-operation locations: frames[pc] is the function at the line of
	// the operation instruction pc belongs to, interned at compile time,
	// so that events carry the line that waited or held (pprof -list, the
	// flame graphs, Perfetto). A repeat's loop control belongs to the
	// first operation of its body, the one that runs next. entry is the
	// frame of the first operation: the stack of the call. Empty at the
	// top level, which runs outside every guest frame.
	frames  []tracer.FrameID
	entry   tracer.FrameID
	opFrame tracer.FrameID           // the frame of the instructions being emitted
	byLine  map[int32]tracer.FrameID // frames of this function, by line
	nlocals int
	ios     []ioOp
	natives []nativeOp
	callees []int // functions it calls, by index
}

type ioOp struct {
	d, jitter time.Duration
	kind      tracer.StringID
	lock      int // opWait: the guest lock
	notice    int // opWait until a notify, opIO ended by one: 1 + the index in notices; 0 for a fixed length
}

type nativeOp struct {
	d        time.Duration
	releases bool
	named    bool           // shown as a frame of its own
	frame    tracer.FrameID // if named
}

// program is a compiled workload: its functions and every group's top level.
type program struct {
	funcs    []*code
	index    map[string]int
	tops     []*code // one per thread group
	locks    []string
	lockIdx  map[string]int
	maxDepth int // frames of the deepest call chain, top level included
	maxLocal int // locals of the largest chain
	// joins[a] are the thread groups (indexes into tops) that the join
	// instruction a waits for; joined[g] says whether some thread joins
	// group g (its threads then hold a join lock for their life).
	joins  [][]int
	joined []bool
	// starts[a] are the thread groups that the start instruction a
	// starts; started[g] says whether group g waits for a start.
	starts  [][]int
	started []bool
	// notices are the notifications waits until: notify wait for, by
	// lock name (noticeIdx), shared by the run's processes.
	notices   []*notice
	noticeIdx map[string]int
}

// maxLoops bounds a compute's loop count (about an hour of the interpreter).
const maxLoops = math.MaxInt64 / 4

// compiler turns a workload into a program.
type compiler struct {
	w          *workload.Workload
	rec        *tracer.Recorder
	loopsPerMS float64
	quicken    bool
	p          *program
}

// compile compiles w; rec interns frames and strings; loopsPerMS converts
// compute durations to loops.
func compile(w *workload.Workload, rec *tracer.Recorder, loopsPerMS float64, quick bool) (*program, error) {
	c := &compiler{w: w, rec: rec, loopsPerMS: loopsPerMS, quicken: quick,
		p: &program{index: map[string]int{}, lockIdx: map[string]int{}}}
	names := sortedFunctions(w)
	for i, n := range names {
		c.p.index[n] = i
	}
	for _, n := range names {
		fc, err := c.function(n, w.Functions[n])
		if err != nil {
			return nil, err
		}
		c.p.funcs = append(c.p.funcs, fc)
	}
	for _, g := range w.Threads {
		top, err := c.top(g)
		if err != nil {
			return nil, err
		}
		c.p.tops = append(c.p.tops, top)
	}
	if err := c.checkCalls(); err != nil {
		return nil, err
	}
	return c.p, nil
}

func (c *compiler) function(name string, f *workload.Function) (*code, error) {
	if f == nil {
		return nil, fmt.Errorf("function %q: no body", name)
	}
	fc := &code{name: name, fn: f, byLine: map[int32]tracer.FrameID{}}
	fc.frame = c.rec.AddFrame(tracer.Frame{Func: name, File: c.w.File, Line: f.Line})
	fc.byLine[int32(f.Line)] = fc.frame
	fc.line, fc.opFrame, fc.entry = int32(f.Line), fc.frame, fc.frame
	if len(f.Ops) > 0 {
		fc.entry = c.frameAt(fc, f.Ops[0].Line)
	}
	fc.opFrame = fc.entry
	fc.emit(instr{op: opResume})
	if err := c.ops(fc, f.Ops); err != nil {
		return nil, fmt.Errorf("function %s: %w", name, err)
	}
	fc.line, fc.opFrame = int32(f.Line), fc.frame
	fc.emit(instr{op: opReturn})
	c.finish(fc)
	return fc, nil
}

func (c *compiler) top(g workload.ThreadGroup) (*code, error) {
	fi, ok := c.p.index[g.Run]
	if !ok {
		return nil, fmt.Errorf("thread group %s (line %d): run: unknown function %q", g.Name, g.Line, g.Run)
	}
	tc := &code{name: g.Name, line: int32(g.Line)}
	c.loop(tc, int64(max(g.Repeat, 1)), func() error {
		tc.emit(instr{op: opCall, a: int32(fi)})
		return nil
	})
	tc.callees = append(tc.callees, fi)
	tc.emit(instr{op: opReturn})
	c.finish(tc)
	return tc, nil
}

func (c *compiler) finish(fc *code) {
	if c.quicken {
		quicken(fc.instrs)
	}
}

func (fc *code) emit(in instr) int {
	in.line = fc.line
	fc.instrs = append(fc.instrs, in)
	if fc.fn != nil {
		fc.frames = append(fc.frames, fc.opFrame)
	}
	return len(fc.instrs) - 1
}

// frameAt is function fc at line, interned once per line.
func (c *compiler) frameAt(fc *code, line int) tracer.FrameID {
	if f, ok := fc.byLine[int32(line)]; ok {
		return f
	}
	f := c.rec.AddFrame(tracer.Frame{Func: fc.name, File: c.w.File, Line: line})
	fc.byLine[int32(line)] = f
	return f
}

// setOp makes the instructions emitted next belong to the operation at
// line (their frame) and to the workload line.
func (c *compiler) setOp(fc *code, line int) {
	fc.line = int32(line)
	if fc.fn != nil {
		fc.opFrame = c.frameAt(fc, line)
	}
}

func (fc *code) newLocal() int32 {
	fc.nlocals++
	return int32(fc.nlocals - 1)
}

func (c *compiler) ops(fc *code, ops []workload.Op) error {
	for i := range ops {
		if err := c.op(fc, &ops[i]); err != nil {
			return err
		}
	}
	return nil
}

func (c *compiler) op(fc *code, op *workload.Op) error {
	c.setOp(fc, op.Line)
	switch op.Kind {
	case workload.OpCall:
		fi, ok := c.p.index[op.Func]
		if !ok {
			return fmt.Errorf("line %d: call of unknown function %q", op.Line, op.Func)
		}
		fc.callees = append(fc.callees, fi)
		fc.emit(instr{op: opCall, a: int32(fi)})
	case workload.OpCompute:
		n, err := c.loops(op)
		if err != nil {
			return err
		}
		if fc.fn != nil {
			fc.emit(instr{op: opLine})
		}
		c.loop(fc, n, nil)
	case workload.OpIO:
		kind := op.IOKind
		if kind == "" {
			kind = "io"
		}
		io := ioOp{d: op.Duration, jitter: op.Jitter, kind: c.rec.Intern(kind)}
		if op.UntilNotify {
			io.notice = c.notice(op.Lock) + 1
		}
		fc.ios = append(fc.ios, io)
		fc.emit(instr{op: opIO, a: int32(len(fc.ios) - 1)})
	case workload.OpNative:
		n := nativeOp{d: op.Duration, releases: op.ReleasesGIL}
		if op.NativeName != "" {
			n.named = true
			n.frame = c.rec.AddFrame(tracer.Frame{Func: op.NativeName, File: c.w.File, Line: op.Line})
		}
		fc.natives = append(fc.natives, n)
		fc.emit(instr{op: opNative, a: int32(len(fc.natives) - 1)})
	case workload.OpLock:
		li := c.lock(op.Lock)
		fc.emit(instr{op: opLockAcquire, a: int32(li)})
		if err := c.ops(fc, op.Body); err != nil {
			return err
		}
		c.setOp(fc, op.Line)
		fc.emit(instr{op: opLockRelease, a: int32(li)})
	case workload.OpWait:
		io := ioOp{d: op.Duration, lock: c.lock(op.Lock)}
		if op.UntilNotify {
			io.notice = c.notice(op.Lock) + 1
		}
		fc.ios = append(fc.ios, io)
		fc.emit(instr{op: opWait, a: int32(len(fc.ios) - 1)})
	case workload.OpNotify:
		c.setOp(fc, op.Line)
		fc.emit(instr{op: opNotify, a: int32(c.notice(op.Lock))})
	case workload.OpJoin:
		gs, err := c.groupsNamed(op, "join", &c.p.joined)
		if err != nil {
			return err
		}
		c.p.joins = append(c.p.joins, gs)
		fc.emit(instr{op: opJoin, a: int32(len(c.p.joins) - 1)})
	case workload.OpStart:
		gs, err := c.groupsNamed(op, "start", &c.p.started)
		if err != nil {
			return err
		}
		c.p.starts = append(c.p.starts, gs)
		c.setOp(fc, op.Line)
		fc.emit(instr{op: opStart, a: int32(len(c.p.starts) - 1)})
	case workload.OpRepeat:
		// The loop control belongs to the body's first operation: it is
		// what runs next, and what a resumed thread is charged to.
		if len(op.Body) > 0 && fc.fn != nil {
			fc.opFrame = c.frameAt(fc, op.Body[0].Line)
		}
		return c.loop(fc, int64(op.Times), func() error {
			err := c.ops(fc, op.Body)
			fc.line = int32(op.Line)
			if len(op.Body) > 0 && fc.fn != nil {
				fc.opFrame = c.frameAt(fc, op.Body[0].Line)
			}
			return err
		})
	default:
		return fmt.Errorf("line %d: unknown operation kind %d", op.Line, op.Kind)
	}
	return nil
}

func (c *compiler) lock(name string) int {
	if i, ok := c.p.lockIdx[name]; ok {
		return i
	}
	c.p.locks = append(c.p.locks, name)
	c.p.lockIdx[name] = len(c.p.locks) - 1
	return len(c.p.locks) - 1
}

// notice returns the index of the notification named name, made on first
// use.
func (c *compiler) notice(name string) int {
	if c.p.noticeIdx == nil {
		c.p.noticeIdx = map[string]int{}
	}
	if i, ok := c.p.noticeIdx[name]; ok {
		return i
	}
	c.p.notices = append(c.p.notices, &notice{name: name})
	c.p.noticeIdx[name] = len(c.p.notices) - 1
	return len(c.p.notices) - 1
}

// loops is a compute's iteration count: exact, or its duration times the
// calibration.
func (c *compiler) loops(op *workload.Op) (int64, error) {
	if op.Loops > 0 || op.Duration <= 0 {
		if op.Loops < 0 || op.Loops > maxLoops {
			return 0, fmt.Errorf("line %d: compute: loops %d out of range [0, %d]", op.Line, op.Loops, int64(maxLoops))
		}
		return op.Loops, nil
	}
	n := float64(op.Duration) / float64(time.Millisecond) * c.loopsPerMS
	if n > maxLoops {
		return 0, fmt.Errorf("line %d: compute: %v is too long", op.Line, op.Duration)
	}
	return int64(math.Round(n)), nil
}

// loop emits CPython's bytecode for `while n > 0: body; n -= 1` over a
// fresh local n set to count (without body: Beazley's countdown
// `while n > 0: n -= 1`).
func (c *compiler) loop(fc *code, count int64, body func() error) error {
	n := fc.newLocal()
	fc.emit(instr{op: opLoadConst, b: count})
	fc.emit(instr{op: opStoreFast, a: n})
	head := fc.emit(instr{op: opLoadFast, a: n})
	fc.emit(instr{op: opLoadConst, b: 0})
	fc.emit(instr{op: opCompareGT})
	exit := fc.emit(instr{op: opPopJumpIfFalse})
	if body != nil {
		if err := body(); err != nil {
			return err
		}
	}
	fc.emit(instr{op: opLoadFast, a: n})
	fc.emit(instr{op: opLoadConst, b: 1})
	fc.emit(instr{op: opBinarySub})
	fc.emit(instr{op: opStoreFast, a: n})
	fc.emit(instr{op: opJumpBackward, c: int32(head)})
	fc.instrs[exit].c = int32(len(fc.instrs))
	return nil
}

// quicken replaces the sequences that superinstructions cover, unless a
// jump lands inside one.
func quicken(ins []instr) {
	target := make([]bool, len(ins)+1)
	for _, in := range ins {
		if in.op == opPopJumpIfFalse || in.op == opJumpBackward {
			target[in.c] = true
		}
	}
	free := func(i, n int) bool {
		if i+n > len(ins) {
			return false
		}
		for j := i + 1; j < i+n; j++ {
			if target[j] {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(ins); i++ {
		switch {
		case free(i, lenTestGT) && ins[i].op == opLoadFast && ins[i+1].op == opLoadConst &&
			ins[i+2].op == opCompareGT && ins[i+3].op == opPopJumpIfFalse:
			ins[i] = instr{op: opTestGT, a: ins[i].a, b: ins[i+1].b, c: ins[i+3].c, line: ins[i].line}
		case free(i, lenDecJumpBack) && ins[i].op == opLoadFast && ins[i+1].op == opLoadConst &&
			ins[i+2].op == opBinarySub && ins[i+3].op == opStoreFast && ins[i+3].a == ins[i].a &&
			ins[i+4].op == opJumpBackward:
			ins[i] = instr{op: opDecJumpBack, a: ins[i].a, b: ins[i+1].b, c: ins[i+4].c, line: ins[i].line}
		}
	}
}

// checkCalls rejects recursion and nested acquisition of one guest lock
// (a threading.Lock would deadlock), and sizes the deepest call chain.
func (c *compiler) checkCalls() error {
	depth := make([]int, len(c.p.funcs)) // 0: not done
	local := make([]int, len(c.p.funcs))
	onPath := make([]bool, len(c.p.funcs))
	var visit func(i int) error
	visit = func(i int) error {
		if depth[i] > 0 {
			return nil
		}
		if onPath[i] {
			return fmt.Errorf("function %s: recursive call", c.p.funcs[i].name)
		}
		onPath[i] = true
		d, l := 0, 0
		for _, ci := range c.p.funcs[i].callees {
			if err := visit(ci); err != nil {
				return err
			}
			d, l = max(d, depth[ci]), max(l, local[ci])
		}
		onPath[i] = false
		depth[i], local[i] = d+1, l+c.p.funcs[i].nlocals
		return nil
	}
	for i := range c.p.funcs {
		if err := visit(i); err != nil {
			return err
		}
	}
	for _, t := range c.p.tops {
		for _, ci := range t.callees {
			c.p.maxDepth = max(c.p.maxDepth, depth[ci]+1)
			c.p.maxLocal = max(c.p.maxLocal, local[ci]+t.nlocals)
		}
	}
	return c.checkLocks()
}

// checkLocks rejects a guest lock acquired while the same thread already
// holds it, directly or through calls.
func (c *compiler) checkLocks() error {
	var walk func(fn string, ops []workload.Op, held map[string]bool, depth int) error
	walk = func(fn string, ops []workload.Op, held map[string]bool, depth int) error {
		if depth > len(c.p.funcs)+1 {
			return nil // recursion was rejected already
		}
		for i := range ops {
			op := &ops[i]
			switch op.Kind {
			case workload.OpWait:
				if held[op.Lock] {
					return fmt.Errorf("function %s line %d: a wait on lock %q while it is held (a threading.Lock would deadlock)", fn, op.Line, op.Lock)
				}
			case workload.OpLock:
				if held[op.Lock] {
					return fmt.Errorf("function %s line %d: lock %q acquired while already held (a threading.Lock would deadlock)", fn, op.Line, op.Lock)
				}
				held[op.Lock] = true
				err := walk(fn, op.Body, held, depth)
				delete(held, op.Lock)
				if err != nil {
					return err
				}
			case workload.OpRepeat:
				if err := walk(fn, op.Body, held, depth); err != nil {
					return err
				}
			case workload.OpCall:
				if len(held) > 0 {
					if f := c.w.Functions[op.Func]; f != nil {
						if err := walk(op.Func, f.Ops, held, depth+1); err != nil {
							return err
						}
					}
				}
			}
		}
		return nil
	}
	for _, n := range sortedFunctions(c.w) {
		if err := walk(n, c.w.Functions[n].Ops, map[string]bool{}, 0); err != nil {
			return err
		}
	}
	return nil
}

// groupsNamed is the thread groups a join or start operation names (two
// groups may share a name), each marked in *marked (one flag per group).
func (c *compiler) groupsNamed(op *workload.Op, verb string, marked *[]bool) ([]int, error) {
	var gs []int
	for gi, g := range c.w.Threads {
		if g.Name == op.Group {
			gs = append(gs, gi)
		}
	}
	if len(gs) == 0 {
		return nil, fmt.Errorf("line %d: %s of unknown thread group %q", op.Line, verb, op.Group)
	}
	if *marked == nil {
		*marked = make([]bool, len(c.w.Threads))
	}
	for _, gi := range gs {
		(*marked)[gi] = true
	}
	return gs, nil
}
