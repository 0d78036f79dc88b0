package cpython

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/giltrace/giltrace/tracer"
)

// Default and minimum stack depth recorded per event.
const (
	DefaultMaxDepth = 32
	MinMaxDepth     = 16
	// DefaultExactFrames: the top frame, exact at every event (the function
	// that released or asked for the GIL) for 3 user-memory reads.
	DefaultExactFrames = 1
)

// bufferKB is the ring buffer per CPU of the tracefs instance: 32 MiB
// holds about 100 000 events per CPU, seconds of the busiest program, so
// that the reader falling behind for a moment loses nothing.
const bufferKB = 32 << 10

// reorderMargin: an event is handled once every CPU's buffer has been
// drained after its time plus this margin, so that events of all CPUs are
// handled in time order although each buffer is read in turn (and the
// reader may be descheduled between two); the margin covers an event
// whose timestamp was taken before a drain began but committed after.
const reorderMargin = 2 * time.Millisecond

// Options configure a Source.
type Options struct {
	// MaxDepth is the deepest Python stack recorded per event; deeper ones
	// are cut and end in a "...more frames" frame. 0 means
	// DefaultMaxDepth; less than MinMaxDepth means MinMaxDepth.
	MaxDepth int
	// Stdin, Stdout, Stderr are the program's (Command); nil means
	// /dev/null for Stdin and discarding for the others.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Version is giltrace's version, recorded in the trace's metadata.
	Version string
	// ExactFrames is how many innermost frames the probe itself fetches
	// at each release of the GIL (exact); the frames below are read from
	// the process's memory right after (see the package documentation).
	// Each one costs the traced program about k+3 user-memory reads per
	// release. 0 means DefaultExactFrames; the most is 8 to 12 (the
	// kernel's 63-character fetch-argument limit, per version).
	ExactFrames int
	// Logf, if set, receives progress and diagnostics.
	Logf func(format string, args ...any)
}

// Source records a real CPython process tree with uprobes on its
// interpreter (tracer.Source). Make one with Command or Attach.
type Source struct {
	argv     []string
	pid      int
	duration time.Duration
	o        Options

	mu       sync.Mutex
	exitCode int
}

var _ tracer.Source = (*Source)(nil)

// Command returns a Source that runs argv (a CPython program: "python3
// app.py", a script with a "#!" line naming python) and traces it and the
// processes it forks until it exits. The program starts only once the
// probes are in place.
func Command(argv []string, o Options) *Source {
	return &Source{argv: append([]string(nil), argv...), o: o, exitCode: -1}
}

// Attach returns a Source that traces the running CPython process pid and
// its children until duration elapses (0: no limit), ctx is done or the
// process exits.
func Attach(pid int, duration time.Duration, o Options) *Source {
	return &Source{pid: pid, duration: duration, o: o, exitCode: -1}
}

// ExitCode is the exit status of the program started by Command, valid
// after Record returns: -1 if it did not run or was killed by a signal.
func (s *Source) ExitCode() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exitCode
}

func (s *Source) logf(format string, args ...any) {
	if s.o.Logf != nil {
		s.o.Logf(format, args...)
	}
}

// Record traces the program into rec (tracer.Source). See the package
// documentation for what is recorded and how.
func (s *Source) Record(ctx context.Context, rec *tracer.Recorder) (tracer.Meta, error) {
	meta := tracer.Meta{GILMode: tracer.GILCPython, SwitchInterval: defaultInterval, Cores: runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), Version: s.o.Version, Extra: map[string]string{"source": "cpython"}}
	t0 := time.Now()
	if err := Check(); err != nil {
		return meta, err
	}
	in, err := s.interp()
	if err != nil {
		return meta, err
	}
	s.logf("interpreter %s (Python %s), read in %v", in.Path, in.Version, time.Since(t0).Round(time.Millisecond))
	s.describe(&meta, in)
	depth := s.o.MaxDepth
	if depth == 0 {
		depth = DefaultMaxDepth
	}
	depth = max(depth, MinMaxDepth)
	exact := s.o.ExactFrames
	if exact <= 0 {
		exact = DefaultExactFrames
	}
	probes, fa, err := buildProbes(in, min(exact, depth))
	if err != nil {
		return meta, err
	}
	if err := cleanupStale(); err != nil {
		s.logf("cleaning up after an earlier run: %v", err)
	}
	sess := newSession(in.Path)
	defer func() {
		if cerr := sess.close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	if err := sess.open(probes, bufferKB); err != nil {
		return meta, err
	}
	s.logf("%d uprobes in group %s, %d frames fetched per release, ready in %v", len(probes), sess.group, fa.frames, time.Since(t0).Round(time.Millisecond))
	r := &run{s: s, sess: sess, in: in, fa: fa, depth: depth, meta: &meta, rec: rec, probes: probes, tgids: map[int]int{}}
	return r.record(ctx)
}

func (s *Source) interp() (*interp, error) {
	if s.argv != nil {
		return findCommandInterp(s.argv)
	}
	if s.pid <= 0 || syscall.Kill(s.pid, 0) != nil {
		return nil, fmt.Errorf("attaching to process %d: no such process", s.pid)
	}
	return findPIDInterp(s.pid)
}

// describe fills the metadata that does not depend on the run.
func (s *Source) describe(meta *tracer.Meta, in *interp) {
	meta.Extra["python"] = in.Version
	meta.Extra["interpreter"] = in.Path
	if in.NoGIL {
		meta.GILMode = tracer.GILNone
	}
	if s.argv != nil {
		meta.Extra["command"] = strings.Join(s.argv, " ")
		meta.Workload, meta.WorkloadFile = workloadName(s.argv)
		return
	}
	meta.Extra["pid"] = strconv.Itoa(s.pid)
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", s.pid))
	argv := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	meta.Extra["command"] = strings.Join(argv, " ")
	meta.Workload, meta.WorkloadFile = workloadName(argv)
}

// workloadName is the script's name without ".py" (or the module of -m,
// or the command's name) and the script's path.
func workloadName(argv []string) (string, string) {
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "-m" && i+1 < len(argv):
			return argv[i+1], ""
		case a == "-c":
			return filepath.Base(argv[0]), ""
		case a == "-X" || a == "-W":
			i++
		case strings.HasPrefix(a, "-"):
		default:
			return strings.TrimSuffix(filepath.Base(a), ".py"), a
		}
	}
	if len(argv) == 0 {
		return "", ""
	}
	return strings.TrimSuffix(filepath.Base(argv[0]), ".py"), ""
}

// run is one recording.
type run struct {
	s      *Source
	sess   *session
	in     *interp
	fa     frameArgs
	depth  int
	meta   *tracer.Meta
	rec    *tracer.Recorder
	probes []probe

	startMono int64
	tgids     map[int]int // task -> process
}

// eventNames lists the events of the recording, as group/event.
func (r *run) eventNames() []string {
	names := []string{"sched/" + evExit, "task/" + evNewTask}
	for _, p := range r.probes {
		names = append(names, r.sess.group+"/"+p.name)
	}
	return names
}

func monoNow() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// record runs the program (or watches the process) and handles its events
// until it ends.
//
//  1. Start the program stopped behind a gate (Command), or list the tasks
//     of the process tree (Attach); restrict the instance to them.
//  2. Enable the probes, note time 0, open the gate.
//  3. Read trace_pipe, hold each event for the reorder window, handle it.
//  4. When the program exits (or the duration elapses, or ctx is done),
//     drain what is left and end every thread.
func (r *run) record(ctx context.Context) (tracer.Meta, error) {
	s := r.s
	var cmd *exec.Cmd
	var gate *os.File
	var pids []int
	if s.argv != nil {
		var err error
		cmd, gate, err = r.startGated()
		if err != nil {
			return *r.meta, err
		}
		pids = []int{cmd.Process.Pid}
		r.tgids[cmd.Process.Pid] = cmd.Process.Pid
		defer func() {
			if gate != nil {
				gate.Close()
			}
		}()
	} else {
		for tid, pid := range processTree(s.pid) {
			pids = append(pids, tid)
			r.tgids[tid] = pid
		}
	}
	fail := func(err error) (tracer.Meta, error) {
		if cmd != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		return *r.meta, err
	}
	if err := r.sess.setPIDs(pids); err != nil {
		return fail(err)
	}
	rd, err := openRawReader(r.sess.instance, r.eventNames())
	if err != nil {
		return fail(err)
	}
	defer rd.close()
	r.meta.Start = time.Now()
	r.startMono = monoNow()
	if err := r.sess.enable(); err != nil {
		return fail(err)
	}
	s.logf("probes enabled in %v", time.Since(r.meta.Start).Round(time.Millisecond))

	exited := make(chan struct{})
	if cmd != nil {
		gate.Close() // the program runs from here
		gate = nil
		go func() {
			_ = cmd.Wait()
			s.mu.Lock()
			s.exitCode = cmd.ProcessState.ExitCode()
			s.mu.Unlock()
			close(exited)
		}()
	} else {
		go watchPID(ctx, s.pid, exited)
	}
	var deadline <-chan time.Time
	if s.duration > 0 {
		tm := time.NewTimer(s.duration)
		defer tm.Stop()
		deadline = tm.C
	}
	pm := newProcMem(r.in)
	defer pm.close()
	m := newMachine(r.rec, r.in, r.fa, r.depth, r.meta.Workload, pm)
	interrupted := false
	var pend []rawEvent
	q := startReading(rd, r, m)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			interrupted = true
			break loop
		case <-exited:
			break loop
		case <-deadline:
			break loop
		case <-tick.C:
		}
		evs, safe := q.take()
		pend = r.process(m, evs, safe, pend, false)
	}
	if cmd != nil && interrupted {
		stopProgram(cmd, exited)
	}
	tEnd := time.Now()
	q.stop()
	evs, _ := q.take()
	pend = r.process(m, evs, 0, pend, false)
	// Drain: every hit of a process that has exited is in the buffer.
	for range 3 {
		evs := r.prepare(m, rd.read())
		pend = r.process(m, evs, rd.safe, pend, false)
		if len(evs) == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	tOff := time.Now()
	_ = writeFile(filepath.Join(r.sess.instance, "events", "enable"), "0")
	s.logf("probes disabled in %v", time.Since(tOff).Round(time.Millisecond))
	pend = r.process(m, r.prepare(m, rd.read()), 0, pend, true)
	end := monoNow() - r.startMono
	why := tracer.ReleaseThreadEnd
	if interrupted || deadline != nil && cmd == nil {
		why = tracer.ReleaseInterrupt
	}
	m.finish(end, why)
	r.finishMeta(m, rd, interrupted)
	s.logf("drained and finished in %v", time.Since(tEnd).Round(time.Millisecond))
	if rd.err != nil {
		return *r.meta, fmt.Errorf("reading the ring buffers: %w", rd.err)
	}
	if interrupted {
		return *r.meta, fmt.Errorf("recording %s: %w", r.meta.Workload, tracer.ErrInterrupted)
	}
	if r.rec.Empty() {
		return *r.meta, fmt.Errorf("recording %s: no event from the interpreter %s (did the program run CPython, or exit at once?)", r.meta.Workload, r.in.Path)
	}
	return *r.meta, nil
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

// startReading reads rd every 2 ms into a queue until stop.
func startReading(rd *rawReader, r *run, m *machine) *readQueue {
	q := &readQueue{done: make(chan struct{}), quit: make(chan struct{})}
	go func() {
		defer close(q.done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			evs := rd.read()
			safe := rd.safe
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
			}
			continue
		}
		e.tgid = r.tgidOf(m, e.tid)
		m.prefetch(&e)
		out = append(out, e)
	}
	return out
}

// process sorts prepared events into pend and handles those before safe,
// less the reorder margin (all of them if final).
func (r *run) process(m *machine, evs []rawEvent, safe int64, pend []rawEvent, final bool) []rawEvent {
	pend = append(pend, evs...)
	if len(pend) == 0 {
		return pend
	}
	sort.SliceStable(pend, func(i, j int) bool { return pend[i].mono < pend[j].mono })
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
	return append(pend[:0], pend[cut:]...)
}

// tgidOf finds the process of task tid: from the task_newtask event that
// created it (or the task list at the start), else /proc/TID/status, else
// the only process traced so far.
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
	return tid
}

func (r *run) finishMeta(m *machine, rd *rawReader, interrupted bool) {
	ex := r.meta.Extra
	interval, known := int64(0), false
	for _, p := range m.procs {
		if p.intervalRead {
			interval, known = p.interval, true
			break
		}
	}
	if known {
		r.meta.SwitchInterval = time.Duration(interval)
	} else {
		ex["switch_interval"] = "not read from the process; CPython's default 5ms assumed"
	}
	if interrupted {
		ex["interrupted"] = "true"
	}
	lost := rd.lost + r.sess.lost()
	if lost > 0 {
		ex["lost_events"] = strconv.FormatUint(lost, 10)
	}
	if m.repairs > 0 {
		ex["repairs"] = strconv.Itoa(m.repairs)
	}
	ex["exact_frames"] = strconv.Itoa(r.fa.frames)
	ex["processes"] = strconv.Itoa(len(m.procs))
}

// startGated starts the program behind a gate: a shell that waits for a
// line on fd 3 and then execs the program in the same process, so the
// program's pid is known (and traced) before it runs any code.
func (r *run) startGated() (*exec.Cmd, *os.File, error) {
	s := r.s
	rp, wp, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	args := append([]string{"-c", `read _ <&3; exec 3<&-; exec "$@"`, "giltrace-gate"}, s.argv...)
	cmd := exec.Command("/bin/sh", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.o.Stdin, s.o.Stdout, s.o.Stderr
	cmd.ExtraFiles = []*os.File{rp}
	if err := cmd.Start(); err != nil {
		rp.Close()
		wp.Close()
		return nil, nil, fmt.Errorf("starting %s: %w", strings.Join(s.argv, " "), err)
	}
	rp.Close()
	return cmd, wp, nil
}

// stopProgram interrupts the program like Ctrl-C would, then kills it if
// it has not exited within a second.
func stopProgram(cmd *exec.Cmd, exited <-chan struct{}) {
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-exited:
	case <-time.After(time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// watchPID closes exited when process pid no longer exists.
func watchPID(ctx context.Context, pid int, exited chan<- struct{}) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if syscall.Kill(pid, 0) != nil {
				close(exited)
				return
			}
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
				if i := strings.LastIndexByte(string(b), ')'); i > 0 && strings.HasPrefix(string(b[i+1:]), " Z") {
					close(exited) // a zombie: it has exited
					return
				}
			}
		}
	}
}

// processTree maps the tasks (threads) of pid and of its descendants to
// their process.
func processTree(pid int) map[int]int {
	children := map[int][]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		p, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		pp, _ := strconv.Atoi(f[1])
		children[pp] = append(children[pp], p)
	}
	out := map[int]int{}
	var walk func(int)
	walk = func(p int) {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/[0-9]*", p))
		for _, t := range tasks {
			if n, err := strconv.Atoi(filepath.Base(t)); err == nil {
				out[n] = p
			}
		}
		for _, c := range children[p] {
			walk(c)
		}
	}
	walk(pid)
	return out
}
