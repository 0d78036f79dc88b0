package cpython

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	_ "unsafe" // go:linkname (nanotime)

	"golang.org/x/sys/unix"

	"github.com/giltrace/giltrace/tracer"
)

// run is one recording.
type run struct {
	s    *Source
	sess *session
	// closeReader closes the reader's events and rings (RecordLive, when
	// the run has ended): set once they are open.
	closeReader func()
	in          *interp
	fa          frameArgs
	depth       int
	meta        *tracer.Meta
	rec         *tracer.Recorder
	live        *tracer.Recorder // the provisional recording, streamed (or nil)
	probes      []probe

	startMono int64
	// stopMono, when set, is when the recording was cut off with the
	// program still running (attach's duration or interrupt): events
	// after it are dropped. Disabling the probes takes tens of
	// milliseconds, one probe after another, and the hits of the probes
	// still enabled meanwhile (a drop_gil without its take_gil) made a
	// tail of mended releases and GIL waits that never happened.
	stopMono int64
	// cutAt, for an attach with a duration, is where it ends: events
	// after it are never handled (QA: a 2 s attach to a busy
	// multiprocessing.Pool handled the hits that kept coming for 20 s
	// before its loop saw the duration pass).
	cutAt   int64
	tgids   map[int]int // task -> process
	mainPID int         // the program started, or the process attached to
	tasks   []int       // the tasks launch found to trace (their children follow)
	// python: the processes a probe hit came from; silent: those they
	// forked that have had none yet (survivors), and did not exec or
	// exit. Kept by prepare, under the machine's lock.
	python, silent map[int]bool
}

// eventNames lists the events of the recording, as group/event.
func (r *run) eventNames() []string {
	names := []string{"sched/" + evExit, "sched/" + evExec, "task/" + evNewTask}
	for _, p := range r.probes {
		names = append(names, r.sess.group+"/"+p.name)
	}
	return names
}

func monoNow() int64 { return nanotime() }

// nanotime is the Go runtime's CLOCK_MONOTONIC, read through the vDSO:
// the perf events' clock, without a system call. unix.ClockGettime was a
// system call, made thousands of times a second, each one waking Go's
// scheduler monitor (sysmon) once the recorder's processors were idle.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// record runs the program (or watches the process) and handles its events
// until it ends.
//
//  1. Start the program stopped behind a gate (Command), or list the tasks
//     of the process tree (Attach); open the events for them.
//  2. Enable the probes, note time 0, open the gate.
//  3. Read the rings, hold each event for the reorder window, handle it.
//  4. When the program exits (or the duration elapses, or ctx is done),
//     drain what is left and end every thread.
func (r *run) record(ctx context.Context) (tracer.Meta, error) {
	s := r.s
	cmd, gate, err := r.launch()
	if err != nil {
		return *r.meta, err
	}
	// Whether giltrace runs on the program's CPUs, taking their time:
	// unless --cpus moved it off them.
	shared := cmd != nil
	if cmd != nil && len(s.o.CPUs) > 0 {
		restore, moved := keepOff(s.o.CPUs)
		defer restore()
		shared = !moved
	}
	defer func() {
		if gate != nil {
			gate.Close()
		}
	}()
	// An attached process's CPU time over the trace's window, for the
	// busy-machine check (diagnosis.ExtraCPU): read as it begins and as
	// it is cut off or stopped (attachCPU).
	cpu0, sys0, cpuOK := time.Duration(0), time.Duration(0), false
	rd, err := openRawReader(r.eventNames(), r.sess.filter)
	if err == nil {
		r.closeReader = rd.close // by RecordLive, before it removes the probes
		err = r.openTasks(rd, cmd)
	}
	if err == nil {
		r.meta.Start = time.Now()
		r.startMono = monoNow()
		if cmd == nil {
			cpu0, sys0, cpuOK = procCPU(s.pid)
		}
		err = rd.enable()
	}
	if err == nil && cmd == nil {
		err = r.followNewTasks(rd)
	}
	if err != nil {
		if cmd != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		return *r.meta, err
	}
	s.logf("probes enabled in %v", time.Since(r.meta.Start).Round(time.Millisecond))

	exited := make(chan struct{})
	var exitMono atomic.Int64 // when the program was seen to exit
	if cmd != nil {
		// The trace begins as the program is let go, not before the
		// probes were enabled: a slow enable (a loaded machine) was
		// counted in the run's wall, time no thread lived in (QA: the
		// first event at 170 and 214 ms, where 11-40 ms is usual, and
		// the achieved speedup 1.72x where the other runs had 2.7-3.0x).
		r.meta.Start = time.Now()
		r.startMono = monoNow()
		own0 := selfCPU()
		gate.Close() // the program runs from here
		gate = nil
		go func() {
			_ = cmd.Wait()
			exitMono.Store(monoNow())
			own := selfCPU() - own0
			s.mu.Lock()
			if shared {
				s.ownCPU = own
			}
			s.exitCode = cmd.ProcessState.ExitCode()
			s.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			s.sysCPU = cmd.ProcessState.SystemTime()
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				// As a shell reports it: 128 + the signal's number.
				s.exitCode, s.exitSignal = 128+int(ws.Signal()), unix.SignalName(ws.Signal())
			}
			s.mu.Unlock()
			if afterProgramExit != nil {
				afterProgramExit()
			}
			close(exited)
		}()
	} else {
		go watchPID(ctx, s.pid, exited)
	}
	var deadline <-chan time.Time
	if s.duration > 0 {
		// From the trace's start, which enabling the probes follows by a
		// few milliseconds: --duration 10ms is a 10 ms trace (QA: 15 ms).
		tm := time.NewTimer(max(s.duration-time.Duration(monoNow()-r.startMono), 0))
		defer tm.Stop()
		deadline = tm.C
		r.cutAt = r.startMono + s.duration.Nanoseconds()
	}
	pm := newProcMem(r.in)
	defer pm.close()
	m := newMachine(r.rec, r.in, r.fa, r.depth, r.meta.Workload, pm)
	m.live = r.live
	m.root = r.mainPID
	if cmd == nil { // attached: every task known now existed before the trace
		m.existed = map[int]bool{}
		for tid := range r.tgids {
			m.existed[tid] = true
		}
	}
	m.lockHolds = r.s.o.LockHolds
	interrupted, cut := false, false
	var pend []rawEvent
	q := startReading(rd, r, m)
	watch := startUntracedWatch(r.mainPID, r.in.Path)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	// When the program (or the process attached to) has exited, the trace
	// follows the processes it left running (a forked child that outlives
	// it) for up to orphanWait more, then cuts them off.
	mainExited := (<-chan struct{})(exited)
	var grace <-chan time.Time
	// survivorsAt are the survivors once every event before mono has
	// been read and handled (at most 200 ms of waiting for the reader):
	// a process is known only from its events, its fork among them.
	survivorsAt := func(mono int64) []*proc {
		q.reach(mono+int64(reorderMargin), 200*time.Millisecond)
		evs, safe := q.take()
		pend = r.process(m, evs, safe, pend, false)
		return r.survivors(m)
	}
	// Once stopped, a program started here gets SIGINT, as from Ctrl-C, and
	// is traced while it shuts down, until it exits or StopGrace has passed
	// (then it is killed).
	stop := ctx.Done()
	var kill <-chan time.Time
	var killNow <-chan struct{}
	var stoppedAt time.Time
	var killedAfter time.Duration
	killed := false
	killProgram := func() {
		kill, killNow, killed, killedAfter = nil, nil, true, time.Since(stoppedAt)
		// Its traced child processes first, while their parents still
		// lead to it: a program killed leaves nothing to end them (QA: a
		// Pool's workers kept spinning, their parent gone, and nothing
		// said so). Only processes the trace follows, descended from the
		// program giltrace started.
		var killedChildren []*proc
		for _, p := range r.survivors(m) {
			if descendantOf(p.pid, r.mainPID) && syscall.Kill(p.pid, syscall.SIGKILL) == nil {
				killedChildren = append(killedChildren, p)
			}
		}
		r.notePIDs("killed_children", killedChildren)
		_ = cmd.Process.Kill()
	}
loop:
	for {
		select {
		case <-stop:
			if cmd != nil && s.ExitCode() >= 0 && len(r.survivors(m)) == 0 {
				// The program had exited, leaving no process to trace,
				// when the signal came: nothing was stopped (QA: a signal
				// right after the program's exit made a complete run
				// "interrupted", its program "stopped with SIGINT").
				break loop
			}
			interrupted = true
			if cmd == nil {
				break loop
			}
			stop, stoppedAt = nil, time.Now()
			ignored := false
			if s.o.Interrupted == nil || !s.o.Interrupted() {
				// Whether it ignores SIGINT is read before it is sent
				// (review: a program that caught KeyboardInterrupt and
				// then ignored SIGINT to protect its cleanup was said to
				// ignore it when read after), and said, so that a kill
				// after the grace is understood. Not when the terminal
				// sent it (nothing then tells what it did with it).
				ignored = ignoresSignal(cmd.Process.Pid, syscall.SIGINT)
				_ = cmd.Process.Signal(os.Interrupt)
				if ignored {
					r.meta.Extra["sigint_ignored"] = "true"
				}
			}
			if ignored {
				s.logf("stopped: SIGINT sent to the program, which ignores it; killed if it runs %v more", s.o.stopGrace())
			} else {
				s.logf("stopped: SIGINT sent to the program, killed if it runs %v more", s.o.stopGrace())
			}
			kt := time.NewTimer(s.o.stopGrace())
			defer kt.Stop()
			kill, killNow = kt.C, s.o.KillNow
		case <-kill: // the grace is over
			killProgram()
		case <-killNow: // a second signal
			killProgram()
		case <-mainExited:
			mainExited = nil
			// The processes it left are known once their events before
			// its exit are handled: the reader is let reach it first
			// (TestRecordPythonOrphan: 1 run in 10, the loop ended at the
			// program's exit, its child not seen yet, and cut it off).
			// (Whether it forked is known only then: a few milliseconds
			// at every end.)
			x := exitMono.Load()
			if x == 0 { // attached: seen to have exited by now
				x = monoNow()
			}
			if interrupted || len(survivorsAt(x)) == 0 {
				break loop // a stopped program (only a command is: an attach stops at once) has exited
			}
			grace = time.After(orphanWait)
		case <-grace:
			break loop
		case <-deadline:
			cut = true
			break loop
		case <-tick.C:
			if mainExited == nil && grace != nil && len(r.survivors(m)) == 0 {
				// None left, as far as the events handled tell: the reader
				// is let reach now first, for a fork not read yet (QA: a
				// chain of processes, each forking the next and exiting,
				// was cut off at its third, said to run a second more).
				if len(survivorsAt(monoNow())) == 0 {
					break loop
				}
			}
		}
		if r.cutAt != 0 && monoNow() > r.cutAt {
			// The duration passed while a batch was handled: the select
			// may pick the tick again.
			cut = true
			break loop
		}
		evs, safe := q.take()
		pend = r.process(m, evs, safe, pend, false)
	}
	if cut || interrupted && cmd == nil {
		r.stopMono = monoNow()
		if cut && s.duration > 0 {
			// At the duration exactly: the loop may see the timer late
			// (handling a batch of events), and what came after is cut.
			r.stopMono = min(r.stopMono, r.startMono+s.duration.Nanoseconds())
		}
	}
	if cmd == nil && cpuOK {
		// Where the trace stops, before the draining (QA: read after it,
		// a 300 ms attach counted 1.35 s of CPU).
		end := r.stopMono
		if end == 0 {
			end = monoNow()
		}
		if cpu1, sys1, ok := procCPU(s.pid); ok {
			attachCPU(r.meta, cpu0, sys0, cpu1, sys1, time.Duration(end-r.startMono))
		}
	}
	tEnd := time.Now()
	s.logf("recording loop ended %v after the trace's start (cut %v, interrupted %v)", time.Duration(monoNow()-r.startMono).Round(time.Millisecond), cut, interrupted)
	if untraced := watch.stop(); len(untraced) > 0 {
		r.meta.Extra["untraced"] = strings.Join(untraced, ", ")
	}
	if beforeDrain != nil {
		beforeDrain()
	}
	r.drain(m, q, rd, pend)
	if len(rd.unkept) > 0 {
		// Read once the reading goroutine has stopped (drain).
		var names []string
		for _, u := range rd.unkept {
			names = append(names, fmt.Sprintf("pid %d", u.pid))
			s.logf("%v", u.err)
		}
		r.meta.Extra["unkept"] = strings.Join(names, ", ") + " (" + rd.unkept[0].err.Error() + ")"
	}
	why := tracer.ReleaseThreadEnd
	if interrupted || cut {
		why = tracer.ReleaseInterrupt
	}
	now := monoNow() - r.startMono
	if r.stopMono != 0 {
		now = r.stopMono - r.startMono
	}
	if x := exitMono.Load(); x > 0 && !interrupted && !cut && len(m.procs) <= 1 {
		// A program of one process has no thread after its exit: a
		// thread whose end the rings lost (the recorder starved while
		// they filled) ends there, not where the drain ended (QA: a
		// 10 s program's threads ran to 16.9 s, waiting for the GIL).
		now = min(now, x-r.startMono)
	}
	if interrupted && cmd != nil && !killed {
		// A stopped program exited by itself and left traced processes
		// running: said, not signalled (SIGINT went to the program only;
		// only a program giltrace kills takes them with it).
		r.notePIDs("left_running", r.survivors(m))
	}
	if !interrupted && !cut {
		// The processes still running are cut off, not ended.
		outlived := r.survivors(m)
		for _, p := range outlived {
			for _, th := range p.threads {
				m.end(th, now, tracer.ReleaseInterrupt)
			}
		}
		r.notePIDs("outlived", outlived)
		if cmd == nil {
			// Attached, neither stopped nor cut off: the process exited,
			// its CPU time read at its end, if at all, missing its last.
			r.meta.Extra["ended"] = "exited"
			delete(r.meta.Extra, "cpu_ns")
			delete(r.meta.Extra, "sys_cpu_ns")
		}
	}
	m.finish(now, why)
	if x := m.untracedExecs(); x != "" {
		r.meta.Extra["untraced_exec"] = x
	}
	r.finishMeta(m, rd, interrupted)
	if cmd != nil && !cut {
		if s.ExitCode() >= 0 {
			// Its status is set: exited closes right after (the drain,
			// quick with perf events, can end first).
			<-exited
		}
		select {
		case <-exited: // its status is known
			r.meta.Extra["exit_status"] = strconv.Itoa(s.ExitCode())
			if cpu := s.cpuTime(); cpu > 0 {
				// The CPU time the kernel gave the program (its threads, and
				// the children it waited for), for the busy-machine check
				// (diagnosis.ExtraCPU).
				r.meta.Extra["cpu_ns"] = strconv.FormatInt(cpu.Nanoseconds(), 10)
				// Its kernel part: the probes' traps and its system calls
				// (diagnosis.ExtraSysCPU, shown beside the tracing cost's
				// floor).
				r.meta.Extra["sys_cpu_ns"] = strconv.FormatInt(s.systemTime().Nanoseconds(), 10)
			}
			s.mu.Lock()
			if own := s.ownCPU; own > 0 {
				// giltrace's own, on the program's CPUs (diagnosis.ExtraRecorderCPU).
				r.meta.Extra["recorder_cpu_ns"] = strconv.FormatInt(own.Nanoseconds(), 10)
			}
			s.mu.Unlock()
			if sig := s.exitSignalName(); sig != "" {
				r.meta.Extra["exit_signal"] = sig
			}
			if interrupted { // it was stopped
				r.meta.Extra["stopped"] = "interrupted"
				if killed {
					r.meta.Extra["stopped"] = "killed"
					r.meta.Extra["killed_after"] = killedAfter.Round(time.Millisecond).String()
				}
				r.meta.Extra["stop_grace"] = s.o.stopGrace().String()
			}
		default:
		}
	}
	s.logf("drained and finished in %v", time.Since(tEnd).Round(time.Millisecond))
	switch {
	case rd.err != nil:
		return *r.meta, fmt.Errorf("reading the ring buffers: %w", rd.err)
	case interrupted:
		return *r.meta, fmt.Errorf("recording %s: %w", r.meta.Workload, tracer.ErrInterrupted)
	case r.rec.Empty() && cmd == nil:
		return *r.meta, fmt.Errorf("attaching to process %d: no thread of it or of its children took or released the GIL while attached (%v): "+
			"each was blocked (sleeping, waiting, in I/O) or ran alone, never releasing it (a process with one thread running Python holds its GIL throughout, "+
			"and the probes see only the GIL changing hands); attach while its threads compete for the GIL, or for longer",
			s.pid, time.Since(r.meta.Start).Round(time.Millisecond))
	case r.rec.Empty():
		return *r.meta, fmt.Errorf("recording %s: no event from the interpreter %s (did the program run CPython, or exit at once?)", r.meta.Workload, r.in.Path)
	}
	return *r.meta, nil
}

// launch starts the command behind its gate (not yet open), or lists the
// tasks of the process to attach to: the tasks to open the events for.
func (r *run) launch() (*exec.Cmd, *os.File, error) {
	if beforeLaunch != nil {
		beforeLaunch()
	}
	var cmd *exec.Cmd
	var gate *os.File
	var pids []int
	if r.s.argv != nil {
		var err error
		if cmd, gate, err = r.startGated(); err != nil {
			return nil, nil, err
		}
		if len(r.s.o.CPUs) > 0 {
			if err := pin(cmd.Process.Pid, r.s.o.CPUs); err != nil {
				_ = cmd.Process.Kill() // before the gate opens: the program never runs
				_ = cmd.Wait()
				gate.Close()
				return nil, nil, err
			}
		}
		pids = []int{cmd.Process.Pid}
		r.tgids[cmd.Process.Pid] = cmd.Process.Pid
		r.mainPID = cmd.Process.Pid
	} else {
		r.mainPID = r.s.pid
		for tid, pid := range processTree(r.s.pid) {
			pids = append(pids, tid)
			r.tgids[tid] = pid
		}
		if len(pids) == 0 {
			// It exited while the probes were made (QA: an empty list
			// cleared the instance's pid filter, and the trace recorded
			// every other CPython process using the same interpreter,
			// as the process's "children").
			return nil, nil, fmt.Errorf("attaching to process %d: it exited while the probes were set up: nothing recorded", r.s.pid)
		}
	}
	r.tasks = pids
	return cmd, gate, nil
}

// openTasks opens the events for the tasks launch found (disabled until
// enable). The program behind its gate cannot have exited; a process
// attached to can have, while the probes were made.
func (r *run) openTasks(rd *rawReader, cmd *exec.Cmd) error {
	n, err := rd.addTasks(r.tasks)
	if err != nil {
		return err
	}
	if n == 0 {
		if cmd != nil {
			return fmt.Errorf("recording %s: its process %d is gone before it ran", r.meta.Workload, cmd.Process.Pid)
		}
		return fmt.Errorf("attaching to process %d: it exited while the probes were set up: nothing recorded", r.s.pid)
	}
	return nil
}

// followNewTasks opens, once the events are on, those of the tasks an
// attached process created after its task list was read and before its
// tasks' events were opened (those created after follow by inheritance):
// until a listing finds none.
func (r *run) followNewTasks(rd *rawReader) error {
	for range 8 {
		var tids []int
		for tid, pid := range processTree(r.s.pid) {
			if !rd.tasks[tid] {
				tids = append(tids, tid)
				if _, ok := r.tgids[tid]; !ok {
					r.tgids[tid] = pid
				}
			}
		}
		if len(tids) == 0 {
			return nil
		}
		sort.Ints(tids)
		if _, err := rd.addTasks(tids); err != nil {
			return err
		}
	}
	return nil
}

// beforeDrain (tests) runs once the recording loop has ended, before the
// rings are drained: a recorder slow to drain them.
var beforeDrain func()

// readDelay (tests) holds the reading goroutine back for that long, as a
// recorder starved of CPU is.
var readDelay time.Duration

// beforeLaunch (tests) runs as launch begins: the probes are defined,
// not yet enabled.
var beforeLaunch func()

// orphanWait is how long the trace follows the processes that the
// program (or the process attached to) left running when it exited.
const orphanWait = time.Second

// survivors are the traced processes, other than the one started or
// attached to, that are still running, in order of pid: those with an
// event handled, and, with no threads, those a Python process forked
// that have had no probe hit yet, and did not exec (review: a child forked
// holding the GIL in a C call, its parent's exit at once, was not
// followed; not a fork of a program the probes do not see: a daemon a
// shell started).
func (r *run) survivors(m *machine) []*proc {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*proc
	for pid, p := range m.procs {
		if pid != r.mainPID && processAlive(pid) {
			out = append(out, p)
		}
	}
	for pid := range r.silent {
		if pid != r.mainPID && m.procs[pid] == nil && processAlive(pid) {
			out = append(out, &proc{pid: pid})
		}
	}

	slices.SortFunc(out, func(a, b *proc) int { return cmp.Compare(a.pid, b.pid) })
	return out
}

// drain stops the reading goroutine and handles every event left: those
// of a process that has exited are all in the buffers.
func (r *run) drain(m *machine, q *readQueue, rd *rawReader, pend []rawEvent) {
	t0 := time.Now()
	disabled := false
	disable := func() {
		tOff := time.Now()
		rd.disable()
		r.s.logf("probes disabled in %v", time.Since(tOff).Round(time.Millisecond))
		disabled = true
	}
	if r.stopMono != 0 {
		// Cut off or stopped: nothing after the stop is kept, and a busy
		// program's probes would go on filling the buffers while they are
		// drained (QA: a 2 s attach to a multiprocessing.Pool returned
		// only when the program exited, a minute later).
		disable()
	}
	q.stop()
	evs, _ := q.take()
	r.s.logf("reading stopped in %v, %d events queued", time.Since(t0).Round(time.Millisecond), len(evs))
	pend = r.process(m, evs, 0, pend, false)
	for range 3 {
		evs := r.prepare(m, rd.read())
		pend = r.process(m, evs, rd.safe, pend, false)
		if len(evs) == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if !disabled {
		disable()
	}
	for { // every ring to its end (read takes a bounded part of each)
		evs := rd.read()
		if len(evs) == 0 && rd.safe > 0 {
			break
		}
		pend = r.process(m, r.prepare(m, evs), rd.safe, pend, false)
	}
	r.process(m, nil, 0, pend, true)
}

// pacer ticks every sampleTick of CLOCK_MONOTONIC, through a timerfd that
// Go's network poller waits on. A time.Ticker of sampleTick does not:
// Go's timers wake a sleeping program through the poller, whose own
// timeout is whole milliseconds, and a 500 us ticker ticked every 1.1 ms
// here, leaving holds of 2 ms unread between two readings
// (TestShortHoldsSampled). clock_nanosleep to an absolute time kept the
// pace (500-526 us, p50-p99) but cost the recorder 11-13 % more CPU on
// pool_20k (1.48-1.68 s against 1.29-1.37 s, at 1 ms as at 500 us: the
// goroutine blocked in a system call gives its P away and takes one back
// at each tick); a timerfd read parks the goroutine as a channel would.
type pacer struct {
	every  time.Duration
	f      *os.File
	ticker *time.Ticker // where timerfd is refused
}

func newPacer(every time.Duration) *pacer {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err == nil {
		ts := unix.NsecToTimespec(int64(every))
		if err = unix.TimerfdSettime(fd, 0, &unix.ItimerSpec{Interval: ts, Value: ts}, nil); err == nil {
			return &pacer{every: every, f: os.NewFile(uintptr(fd), "timerfd")}
		}
		unix.Close(fd)
	}
	return &pacer{every: every, ticker: time.NewTicker(every)}
}

// wait waits for the next tick; ticks missed meanwhile (a reading that
// took longer than a tick, the recorder not scheduled) are not made up
// for in a burst.
func (p *pacer) wait() {
	if p.ticker != nil {
		<-p.ticker.C
		return
	}
	var n [8]byte
	if _, err := p.f.Read(n[:]); err != nil {
		time.Sleep(p.every) // not expected: keep a pace
	}
}

func (p *pacer) stop() {
	if p.ticker != nil {
		p.ticker.Stop()
		return
	}
	p.f.Close()
}

// readQueue holds the events a reading goroutine has read and prepared
// (see prepare) until the recording loop takes them: reading and the
// memory reads of prepare keep pace with the program even when handling
// falls behind.
type readQueue struct {
	mu   sync.Mutex
	evs  []rawEvent
	safe int64
	done chan struct{}
	quit chan struct{}
}

// startReading reads rd every 2 ms, and the GIL's holders every
// sampleTick (sampler), into a queue until stop.
func startReading(rd *rawReader, r *run, m *machine) *readQueue {
	q := &readQueue{done: make(chan struct{}), quit: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		wg.Wait()
		close(q.done)
	}()
	go func() {
		defer wg.Done()
		pm := newProcMem(r.in)
		defer pm.close()
		s := newSampler(r.in, r.fa, r.depth, pm)
		states := newTaskStates()
		states.mem = pm.memory
		defer states.close()
		tick := newPacer(sampleTick)
		defer tick.stop()
		var stateAt, intervalAt int64
		for {
			mono := monoNow()
			pids := m.tracedPIDs()
			evs := s.read(pids, mono)
			if mono-stateAt >= int64(stateEvery) {
				stateAt = mono
				evs = states.read(m.statePIDs(), mono, evs)
			}
			if mono-intervalAt >= refreshEvery {
				// Each process's switch interval, dated when read
				// (machine.noteInterval).
				intervalAt = mono
				for _, pid := range pids {
					if v, ok := pm.interval(pid); ok {
						evs = append(evs, rawEvent{mono: monoNow(), tgid: pid, event: evInterval, args: []arg{{name: "interval", vals: []uint64{uint64(v)}}}})
					}
				}
			}
			if len(evs) > 0 {
				q.mu.Lock()
				q.evs = append(q.evs, evs...)
				q.mu.Unlock()
			}
			select {
			case <-q.quit:
				return
			default:
				tick.wait()
			}
		}
	}()
	go func() {
		defer wg.Done()
		if readDelay > 0 { // tests: a recorder starved of CPU
			select {
			case <-time.After(readDelay):
			case <-q.quit:
				return
			}
		}
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			evs := rd.read()
			safe := rd.safe
			keepArmed(rd, evs)
			m.mu.Lock()
			evs = r.prepare(m, evs)
			m.mu.Unlock()
			q.mu.Lock()
			q.evs = append(q.evs, evs...)
			q.safe = safe
			q.mu.Unlock()
			select {
			case <-q.quit:
				return
			case <-t.C:
			}
		}
	}()
	return q
}

// take returns the events read so far and the time before which every
// event has been read.
func (q *readQueue) take() ([]rawEvent, int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	evs := q.evs
	q.evs = nil
	return evs, q.safe
}

// reach waits, at most max, until every event before mono has been read
// and prepared.
func (q *readQueue) reach(mono int64, max time.Duration) {
	for end := time.Now().Add(max); time.Now().Before(end); time.Sleep(time.Millisecond) {
		q.mu.Lock()
		safe := q.safe
		q.mu.Unlock()
		if safe >= mono {
			return
		}
	}
}

// stop ends the reading goroutine and waits for it.
func (q *readQueue) stop() {
	close(q.quit)
	<-q.done
}

// prepare sorts newly read events, notes the process of each new task,
// gives each event its process and reads what the process's memory must
// give now (machine.prefetch). It returns the events to handle. Called
// with m.mu held (or from the recording goroutine once reading stopped).
func (r *run) prepare(m *machine, evs []rawEvent) []rawEvent {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].mono < evs[j].mono })
	out := evs[:0]
	for _, e := range evs {
		if e.event == evNewTask {
			child := int(int32(e.val("pid")))
			if e.val("clone_flags")&cloneThread != 0 {
				r.tgids[child] = r.tgidOf(m, e.tid)
			} else {
				r.tgids[child] = child
				parent := r.tgidOf(m, e.tid)
				m.forkedFrom[child] = parent
				if r.python[parent] {
					r.silent[child] = true
				}
			}
			continue
		}
		e.tgid = r.tgidOf(m, e.tid)
		switch e.event {
		case evExit:
			if e.tid == e.tgid {
				delete(r.silent, e.tgid)
			}
		case evExec:
			delete(r.silent, e.tgid) // another program: one the probes see has hits
			m.mem.forget(e.tgid)
		default: // a probe's hit: it runs the probed interpreter
			r.python[e.tgid] = true
			delete(r.silent, e.tgid)
		}
		m.prefetch(&e)
		out = append(out, e)
	}
	return out
}

// keepArmed keeps the probes armed in the processes forked until they
// exit, where the markers do not (rawReader.keepArmed): from the reading
// goroutine, which owns rd, as soon as it has read their forks.
func keepArmed(rd *rawReader, evs []rawEvent) {
	if !rd.plainMarker {
		return // the markers keep them: no keepers
	}
	for i := range evs {
		switch e := &evs[i]; e.event {
		case evNewTask:
			if e.val("clone_flags")&cloneThread == 0 {
				rd.keepArmed(int(int32(e.val("pid"))))
			}
		case evExit:
			rd.letGo(e.tid) // its keepers if it led a process that has them
		}
	}
}

// process sorts prepared events into pend and handles those before safe,
// less the reorder margin (all of them if final).
func (r *run) process(m *machine, evs []rawEvent, safe int64, pend []rawEvent, final bool) []rawEvent {
	pend = append(pend, evs...)
	if len(pend) == 0 {
		return pend
	}
	sort.SliceStable(pend, func(i, j int) bool { return pend[i].mono < pend[j].mono })
	pend = dropOwnCopies(pend)
	for _, end := range []int64{r.stopMono, r.cutAt} {
		if end != 0 {
			pend = pend[:sort.Search(len(pend), func(i int) bool { return pend[i].mono > end })]
		}
	}
	cut := len(pend)
	if !final {
		limit := safe - int64(reorderMargin)
		cut = sort.Search(len(pend), func(i int) bool { return pend[i].mono > limit })
	}
	// In chunks, so that the reading goroutine can prepare in between.
	for lo := 0; lo < cut; lo += 512 {
		m.mu.Lock()
		for i := lo; i < min(lo+512, cut); i++ {
			e := &pend[i]
			m.step(e, max(e.mono-r.startMono, 0))
		}
		m.mu.Unlock()
	}
	if cut > 0 {
		m.mu.Lock()
		if !final {
			m.liveHorizon = max(safe-int64(reorderMargin)-r.startMono, 0) // every hit before it is handled
		}
		m.publishLive()
		m.mu.Unlock()
	}
	return append(pend[:0], pend[cut:]...)
}

// tgidOf finds the process of task tid: from the task_newtask event that
// created it (or the task list at the start), else /proc/TID/status, else
// the only process traced so far, else the program (or the process
// attached to). A thread created while an attach sets up (after the task
// list, before the events are on) that has ended by the time its first
// hit is read has neither; it used to become a process of its own, named
// after the program, and the program "child PID".
func (r *run) tgidOf(m *machine, tid int) int {
	if g, ok := r.tgids[tid]; ok {
		return g
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", tid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
				if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
					r.tgids[tid] = n
					return n
				}
			}
		}
	}
	if len(m.procs) == 1 {
		for pid := range m.procs {
			return pid
		}
	}
	if r.mainPID > 0 {
		r.tgids[tid] = r.mainPID
		return r.mainPID
	}
	return tid
}

func (r *run) finishMeta(m *machine, rd *rawReader, interrupted bool) {
	ex := r.meta.Extra
	if hits, ok := r.sess.hits(); ok {
		ex["probe_hits"] = strconv.FormatInt(hits, 10)
	}
	// The first process seen (the program's, or the one attached to)
	// whose interval was read: its interval for most of the run.
	var first *proc
	for _, th := range m.order {
		if th.p != nil && th.p.intervalRead {
			first = th.p
			break
		}
	}
	if first != nil {
		interval, changed := first.mainInterval(m.now)
		r.meta.SwitchInterval = time.Duration(interval)
		if changed {
			// QA: a program that set 20 ms for its contention, then 1 ms,
			// was reported at 1 ms, and told to shorten no further.
			ex["switch_intervals"] = first.intervalsText()
		}
	} else {
		ex["switch_interval"] = "not read from the process; CPython's default 5ms assumed"
	}
	if interrupted {
		ex["interrupted"] = "true"
	}
	// Counted by the events (all of it, those at the end of the run
	// among them), else as the rings reported it.
	lost := max(rd.lost, rd.lostSamples())
	if lost > 0 {
		ex["lost_events"] = strconv.FormatUint(lost, 10)
	}
	if m.inferredNative > 0 {
		ex["inferred_native_holding"] = strconv.Itoa(m.inferredNative)
	}
	if m.windowFrames > 0 {
		ex["callers_from_window"] = strconv.Itoa(m.windowFrames)
	}
	if m.nativeWaits > 0 {
		ex["native_waits"] = strconv.Itoa(m.nativeWaits)
	}
	if m.inferredWaits > 0 {
		ex["native_waits_inferred"] = strconv.Itoa(m.inferredWaits)
	}
	if txt := m.sitesText(); txt != "" {
		ex["native_wait_sites"] = txt
	}
	// The readings asleep on a descriptor, those on the process's own
	// pipes and connections (ownio.go), and both by thread:
	// "ID:own/readings", the trace's thread IDs (diagnosis.OwnIO).
	var readings, own int
	var parts []string
	for _, th := range m.order {
		readings, own = readings+th.ioAsleep, own+th.ownIO
		if th.ioAsleep > 0 && th.traced != tracer.NoThread {
			parts = append(parts, fmt.Sprintf("%d:%d/%d", th.traced, th.ownIO, th.ioAsleep))
		}
	}
	if readings > 0 {
		ex["io_readings"] = strconv.Itoa(readings)
		ex["own_io_readings"] = strconv.Itoa(own)
	}
	if len(parts) > 0 {
		ex["own_io_by_thread"] = strings.Join(parts, ",")
	}
	// The readings in I/O calls, and those that found the thread running
	// or runnable, by thread: "ID:awake/readings" (diagnosis.CoreIO).
	parts = parts[:0]
	for _, th := range m.order {
		if th.ioReads > 0 && th.traced != tracer.NoThread {
			parts = append(parts, fmt.Sprintf("%d:%d/%d", th.traced, th.ioAwake, th.ioReads))
		}
	}
	if len(parts) > 0 {
		ex["io_awake_by_thread"] = strings.Join(parts, ",")
	}
	if m.lockTimeouts > 0 {
		ex["lock_timeouts"] = strconv.Itoa(m.lockTimeouts)
	}
	// A lock wait that ran out is I/O "lock-timeout" (ranOut, or its
	// outcome probed): the others ended with the lock, notified.
	ex["lock_wait_ends"] = "known"
	if m.lockHolds {
		ex["lock_holds"] = "observed"
	}
	if m.crossReleases > 0 {
		ex["cross_thread_releases"] = strconv.Itoa(m.crossReleases)
	}
	if m.unmatchedLocks > 0 {
		ex["unmatched_lock_events"] = strconv.Itoa(m.unmatchedLocks)
	}
	if m.liveStop != "" {
		// The provisional recording stopped there: a crash would have
		// left the run up to it (live.go).
		ex["live_stopped"] = fmt.Sprintf("cut off %v into the trace, at or before %s", time.Duration(m.liveStopAt).Round(time.Microsecond), m.liveStop)
	}
	if m.heldSamples > 0 {
		ex["held_samples"] = strconv.Itoa(m.heldSamples)
	}
	if m.repairs > 0 {
		ex["repairs"] = strconv.Itoa(m.repairs)
	}
	if m.lateDrops > 0 {
		ex["late_drop_requests"] = strconv.Itoa(m.lateDrops)
	}
	if m.unexplainedDrops > 0 {
		ex["drop_releases_without_request"] = strconv.Itoa(m.unexplainedDrops)
	}
	ex["exact_frames"] = strconv.Itoa(r.fa.frames)
	ex["processes"] = strconv.Itoa(len(m.procs))
}

// notePIDs lists processes ps in the run's metadata under key ("pid N,
// pid M"), if there are any.
func (r *run) notePIDs(key string, ps []*proc) {
	var names []string
	for _, p := range ps {
		names = append(names, fmt.Sprintf("pid %d", p.pid))
	}
	if len(names) > 0 {
		r.meta.Extra[key] = strings.Join(names, ", ")
	}
}

// attachMinCPUWindow is the shortest attach whose CPU time is recorded:
// /proc counts it in ticks of 10 ms, a few per cent of half a second.
const attachMinCPUWindow = 500 * time.Millisecond

// attachCPU records in meta the CPU time an attached process obtained
// during the trace's window (its threads', and the children it waited
// for): cpu0 and sys0 read as the trace began, cpu1 and sys1 as it was cut
// off or stopped, window apart: what record -- records of the program it
// starts, so that an attach on a busy machine is flagged too (QA: a
// pure-Python loop attached to beside 5 spinning processes on 2 cores got
// gil-held-in-native, unflagged). Nothing for a window shorter than
// attachMinCPUWindow or times that went back.
func attachCPU(meta *tracer.Meta, cpu0, sys0, cpu1, sys1, window time.Duration) {
	if window < attachMinCPUWindow || cpu1 < cpu0 || sys1 < sys0 {
		return
	}
	meta.Extra["cpu_ns"] = strconv.FormatInt((cpu1 - cpu0).Nanoseconds(), 10)
	meta.Extra["sys_cpu_ns"] = strconv.FormatInt((sys1 - sys0).Nanoseconds(), 10)
}

// afterProgramExit (tests) runs once the program started by Command has
// exited and been reaped (its exit status known), before the recorder's
// loop is told.
var afterProgramExit func()
