package workload

import (
	"time"

	"github.com/giltrace/giltrace/tracer"
)

// Workload is a parsed and validated workload file (format v1). Field names
// follow the YAML keys; see docs/workloads.md.
type Workload struct {
	Name        string
	Description string
	GIL         GILConfig
	Processes   int       // >= 1
	Seed        int64     // for jitter and random choices
	Clock       ClockMode // real (default) or virtual time
	Cores       int       // simulated cores in virtual time; 0: one per thread
	CoresLine   int       // the line of cores: in the file (0 if not from a file)
	Threads     []ThreadGroup
	Functions   map[string]*Function

	File   string // the path it was loaded from ("" if from memory)
	Source []byte // the file's full text
}

// DefaultWaitLock is the guest lock of a wait given without one (wait: 5ms).
const DefaultWaitLock = "wait"

// ClockMode is how a run keeps time: measured on this machine (real) or
// computed by a deterministic simulation of the same model (virtual).
type ClockMode string

// Clock modes.
const (
	ClockReal    ClockMode = "real"    // real time: threads run on this machine, time is measured
	ClockVirtual ClockMode = "virtual" // virtual time: exact, reproducible, any number of simulated cores
)

// ClockModes lists the clock modes, the default first.
var ClockModes = []ClockMode{ClockReal, ClockVirtual}

// Valid reports whether m is a known clock mode.
func (m ClockMode) Valid() bool { return m == ClockReal || m == ClockVirtual }

func (m ClockMode) String() string { return string(m) }

// GILConfig is the workload's gil: section.
type GILConfig struct {
	Mode           tracer.GILMode // cpython (default), legacy or none
	SwitchInterval time.Duration  // cpython mode; default 5ms
	CheckInterval  int            // legacy mode, in instructions; default 100
}

// ThreadGroup is one entry of threads:.
type ThreadGroup struct {
	Name       string
	Count      int // >= 1; count > 1 names threads name-1 ... name-N
	Run        string
	Repeat     int // >= 1
	StartAfter time.Duration
	Process    int // 1-based: the one process whose threads these are; 0: every process
	// Daemon threads (threading.Thread(daemon=True)) are stopped when the
	// last thread of their process that is not a daemon ends: the process
	// exits then, as CPython's does, whatever they were doing.
	Daemon bool
	Line   int // line of the entry in the workload file
}

// InProcess reports whether the group has threads in process pid
// (1-based): every group without process: does.
func (g ThreadGroup) InProcess(pid int) bool { return g.Process == 0 || g.Process == pid }

// Function is a named list of operations.
type Function struct {
	Name string
	Ops  []Op
	Line int // line of the function's key in the workload file
}

// OpKind says what an Op does.
type OpKind uint8

// Operation kinds.
const (
	OpCall    OpKind = iota + 1 // call Func
	OpCompute                   // pure-interpreter compute: Loops iterations, or Duration converted by calibration
	OpIO                        // blocking I/O: Duration (+- Jitter), IOKind
	OpNative                    // native call: Duration of CPU, ReleasesGIL
	OpLock                      // guest lock Lock held around Body
	OpRepeat                    // Body Times times
	OpJoin                      // wait until every thread of the groups named Group has ended (Thread.join)
	OpStart                     // start every thread of the groups named Group (Thread.start)
	OpWait                      // wait for a notification on guest lock Lock for Duration (a Condition's, an Event's, a queue's wait), or until a notify on Lock (UntilNotify)
	OpNotify                    // notify on guest lock Lock: ends one wait until notified on it, now or the next to come (a Condition's notify, an Event's set, a queue's put)
)

// Op is one operation of a function. Which fields matter depends on Kind.
type Op struct {
	Kind        OpKind
	Line, Col   int // position in the workload file
	Func        string
	Loops       int64         // OpCompute given as {loops: N}; 0 when given as time
	Duration    time.Duration // OpCompute as time, OpIO, OpNative, OpWait
	Jitter      time.Duration // OpIO
	IOKind      string        // OpIO: network, disk, db, sleep, ...; default "io"
	ReleasesGIL bool          // OpNative
	NativeName  string        // OpNative: optional name shown as a frame
	Lock        string        // OpLock, OpWait, OpNotify
	UntilNotify bool          // OpWait: waits until a notify on Lock, for at most Duration if it is > 0; OpIO: ends at a notify on Lock if one comes within Duration
	Times       int           // OpRepeat
	Group       string        // OpJoin, OpStart: the name of the thread group(s) joined or started
	Body        []Op          // OpLock, OpRepeat
}

// StartsOthers reports whether the threads of group g start other thread
// groups: a start operation in its function or in a function it calls. A
// thread can be started only once, so such a group keeps its count when a
// run sets every group's count (record --threads, compare's sizes).
func (w *Workload) StartsOthers(g ThreadGroup) bool {
	seen := map[string]bool{}
	var inOps func(ops []Op) bool
	inFunc := func(name string) bool {
		if seen[name] {
			return false
		}
		seen[name] = true
		f := w.Functions[name]
		return f != nil && inOps(f.Ops)
	}
	inOps = func(ops []Op) bool {
		for i := range ops {
			switch op := &ops[i]; op.Kind {
			case OpStart:
				return true
			case OpCall:
				if inFunc(op.Func) {
					return true
				}
			case OpLock, OpRepeat:
				if inOps(op.Body) {
					return true
				}
			}
		}
		return false
	}
	return inFunc(g.Run)
}
