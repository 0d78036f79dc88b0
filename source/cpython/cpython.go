package cpython

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

	"github.com/giltrace/giltrace/internal/cpus"
	"github.com/giltrace/giltrace/tracer"
	"golang.org/x/sys/unix"
)

// Default and minimum stack depth recorded per event.
const (
	DefaultMaxDepth = 32
	MinMaxDepth     = 16
	// DefaultExactFrames: the top frame, exact at every event (the function
	// that released or asked for the GIL) for 3 user-memory reads.
	DefaultExactFrames = 1
)

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
	// StackWindow (3.11+) makes the probe also fetch 1 KiB of the thread's
	// data stack below the innermost frame at each release of the GIL, so
	// that the callers found there are exact rather than read from memory
	// a little later. It costs the traced program 128 user-memory reads
	// per release (the kernel copies arrays element by element).
	StackWindow bool
	// LockHolds makes the recorder observe the holds of the program's
	// locks (threading.Lock, RLock, the interpreter's PyThread locks):
	// every acquire's outcome and every release is a probe hit, so that a
	// hold is shown from its acquire to its release, uncontended ones
	// included. It costs the traced program about 3.5 us per acquire and
	// release (a return probe and a probe). Without it, only blocking
	// acquires are seen: a waiter is shown holding the lock from the end
	// of its wait until it has the GIL back.
	LockHolds bool
	// CPUs, for a program that Record starts, are the CPUs it runs on
	// (its affinity, set before it runs any code, as taskset does); nil
	// leaves it giltrace's. The trace's cores are then theirs, and
	// giltrace, which shares none of them unless it must, does not take
	// the program's time on them (record --cpus).
	CPUs []int
	// StopGrace is how long a program started by Command has to exit once
	// the recording is stopped (its context done): it gets SIGINT, as from
	// Ctrl-C, and is traced while it shuts down (finally blocks, atexit
	// handlers, joining its threads); past StopGrace it is killed. 0 means
	// DefaultStopGrace.
	StopGrace time.Duration
	// KillNow, once closed, cuts StopGrace short: the program is killed at
	// once (the CLI closes it at a second Ctrl-C).
	KillNow <-chan struct{}
	// Interrupted, if set, reports at the stop whether the program has had
	// its SIGINT already: a Ctrl-C at the terminal reaches the whole
	// foreground process group, the program included, and a second SIGINT
	// would interrupt the shutdown (its finally blocks) the first began.
	Interrupted func() bool
	// Logf, if set, receives progress and diagnostics.
	Logf func(format string, args ...any)
	// CloseLater makes RecordLive return as soon as the trace is
	// complete, the probes' removal going on meanwhile: closing their
	// events makes the kernel unregister each probe in turn (about
	// 0.35 s in all), which the caller's work on the trace then overlaps.
	// A caller that sets it calls Close before it exits; Close says then
	// what the removal had to say (a probe that could not be removed).
	// A recording that begins while another's probes are still being
	// removed waits for that first. A crash of giltrace during the
	// removal leaves the definitions, disarmed, to the next recording.
	CloseLater bool
}

// DefaultStopGrace is Options.StopGrace's default.
const DefaultStopGrace = 5 * time.Second

// Source records a real CPython process tree with uprobes on its
// interpreter (tracer.Source). Make one with Command or Attach.
type Source struct {
	argv     []string
	pid      int
	duration time.Duration
	o        Options

	mu         sync.Mutex
	exitCode   int
	exitSignal string        // the signal that killed the program, if one did
	cpu        time.Duration // the program's user and system time, once it has exited
	sysCPU     time.Duration // its system time alone
	// ownCPU is giltrace's own CPU time from the probes' start to the
	// program's exit, when giltrace shared the program's CPUs (record
	// without --cpus): the busy-machine warning names it.
	ownCPU time.Duration
	// removed is closed once the probes of a RecordLive with CloseLater
	// are removed; nil until then. removedSay then says how it went.
	removed    chan struct{}
	removedSay func()
}

// pendingRemovals counts the recordings whose probes are being removed
// in the background (Options.CloseLater).
var pendingRemovals sync.WaitGroup

var _ tracer.Source = (*Source)(nil)

// Close waits until the probes of a recording made with
// Options.CloseLater are removed. Without it, or before RecordLive, it
// returns at once. It may be called more than once.
func (s *Source) Close() {
	s.mu.Lock()
	ch := s.removed
	s.mu.Unlock()
	if ch == nil {
		return
	}
	<-ch
	s.mu.Lock()
	say := s.removedSay
	s.removedSay = nil
	s.mu.Unlock()
	if say != nil {
		say()
	}
}

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
// after Record returns: -1 if it did not run, 128 + N if signal N killed
// it (as a shell reports it).
func (s *Source) ExitCode() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exitCode
}

// cpuTime is the CPU time of the program started by Command (user and
// system, its threads and the children it waited for), once it has exited.
func (s *Source) cpuTime() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cpu
}

// systemTime is the system part of cpuTime.
func (s *Source) systemTime() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sysCPU
}

// exitSignalName is the signal that killed the program, or "".
func (s *Source) exitSignalName() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exitSignal
}

func (s *Source) logf(format string, args ...any) {
	if s.o.Logf != nil {
		s.o.Logf(format, args...)
	}
}

// Record traces the program into rec (tracer.Source). See the package
// documentation for what is recorded and how.
func (s *Source) Record(ctx context.Context, rec *tracer.Recorder) (tracer.Meta, error) {
	return s.RecordLive(ctx, nil, rec)
}

// RecordLive is Record that also emits each event into live as soon as
// it is handled (tracer.LiveSource), every 5 ms, for a Stream to write:
// with the threads named "thread TID" (MainThread aside) and every guest
// lock the program used, where rec gets, at the end, the threads' names
// and only the locks that say something about the threads. A crash of
// giltrace then leaves the run so far on disk. live may be nil.
func (s *Source) RecordLive(ctx context.Context, live, rec *tracer.Recorder) (tracer.Meta, error) {
	meta := tracer.Meta{GILMode: tracer.GILCPython, SwitchInterval: defaultInterval, Cores: cpus.Usable(),
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
	probes, fa, err := buildProbes(in, min(exact, depth), s.o.StackWindow, s.o.LockHolds)
	if err != nil {
		return meta, err
	}
	// A recording of this process whose probes are still being removed
	// (CloseLater) uses the same group and probe names: it finishes
	// first.
	pendingRemovals.Wait()
	removed, err := cleanupStale()
	if err != nil {
		s.logf("cleaning up after an earlier run: %v", err)
	}
	if len(removed) > 0 && s.o.Stderr != nil {
		// Said, not done silently (QA): the user may wonder where the
		// probes they saw went.
		fmt.Fprintf(s.o.Stderr, "giltrace: removed the uprobe definitions left by an earlier giltrace (pid %s) that was killed before it could remove them (its probes were disarmed when it died)\n", strings.Join(removed, ", "))
	}
	sess := newSession(in.Path)
	var r *run
	defer func() {
		// remove closes the events, then removes the definitions, and
		// says how it went (said by Close, in the caller's goroutine,
		// with CloseLater: not amid the caller's own output).
		remove := func() (say func()) {
			tOff := time.Now()
			if r != nil && r.closeReader != nil {
				r.closeReader() // the events first: a definition with one open is busy
			}
			cerr := sess.close()
			took := time.Since(tOff).Round(time.Millisecond)
			return func() {
				if cerr != nil {
					// A warning, not the run's failure (review): the run
					// was recorded whole, the definition left is armed by
					// no event, and the next run's cleanupStale removes it.
					s.logf("%v", cerr)
					if s.o.Stderr != nil {
						fmt.Fprintf(s.o.Stderr, "giltrace: warning: %v (armed by nothing now; the next giltrace removes it)\n", cerr)
					}
				}
				s.logf("probes removed in %v", took)
			}
		}
		if !s.o.CloseLater {
			remove()()
			return
		}
		done := make(chan struct{})
		s.mu.Lock()
		s.removed = done
		s.mu.Unlock()
		pendingRemovals.Add(1)
		go func() {
			defer pendingRemovals.Done()
			say := remove()
			s.mu.Lock()
			s.removedSay = say
			s.mu.Unlock()
			close(done)
		}()
	}()
	if err := sess.open(probes); err != nil {
		return meta, err
	}
	s.logf("%d uprobes in group %s, %d frames fetched per release, ready in %v", len(probes), sess.group, fa.frames, time.Since(t0).Round(time.Millisecond))
	r = &run{s: s, sess: sess, in: in, fa: fa, depth: depth, meta: &meta, rec: rec, live: live, probes: probes, tgids: map[int]int{}, python: map[int]bool{}, silent: map[int]bool{}}
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
	if abs, err := filepath.Abs(in.Path); err == nil {
		meta.Extra["interpreter"] = abs // QA: a venv's "venv/bin/python", relative
	}
	if in.DebugFile != "" {
		meta.Extra["debug_file"] = in.DebugFile
	}
	if in.NoGIL {
		meta.GILMode = tracer.GILNone
	}
	if len(in.inlined) > 0 {
		// A build with link-time optimisation: the inlined copies probed,
		// and where a lock wait is not told apart from other blocking calls.
		var at []string
		for _, p := range in.inlined {
			where := p.site.in
			if p.sym != "" {
				where = p.sym + " (entry)"
			}
			at = append(at, p.site.fn+" in "+where)
		}
		meta.Extra["inlined_probes"] = strings.Join(at, ", ")
	}
	if len(in.unprobedLocks) > 0 {
		meta.Extra["unprobed_lock_copies"] = strings.Join(in.unprobedLocks, ", ")
	}
	if s.argv != nil {
		if len(s.o.CPUs) > 0 {
			meta.Cores = cpus.Of(os.Getpid(), len(s.o.CPUs)) // giltrace's cgroup is the program's
			meta.Extra["cpus"] = FormatCPUs(s.o.CPUs)
		}
		meta.Extra["command"] = strings.Join(s.argv, " ")
		meta.Workload, meta.WorkloadFile = workloadName(s.argv)
		return
	}
	meta.Extra["pid"] = strconv.Itoa(s.pid)
	// The CPUs the process may run on, not giltrace's (which a program
	// that record starts inherits): its affinity, within its cgroup's CPU
	// limit; what its threads had, and what a model of the run replays
	// (model, cores:).
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(s.pid, &set); err == nil {
		meta.Cores = cpus.Of(s.pid, set.Count())
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", s.pid))
	argv := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	meta.Extra["command"] = strings.Join(argv, " ")
	meta.Workload, meta.WorkloadFile = workloadName(argv)
}

// workloadName is the script's name without ".py" (or the module of -m,
// or the command's name) and the script's path; the name made printable
// (a control character, a newline, is a "_") and never "." or "..", which
// name no run (QA: `python3 ..py` was recorded as ".", in a directory
// py-., and a newline in a script's name made one in the directory's).
func workloadName(argv []string) (string, string) {
	script, file := scriptName(argv)
	candidates := []string{script}
	if len(argv) > 0 {
		candidates = append(candidates, filepath.Base(argv[0])) // the command's
	}
	name := ""
	for _, n := range candidates {
		if n != "" && n != "." && n != ".." && n != "/" {
			name = n
			break
		}
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '/' {
			return '_'
		}
		return r
	}, name), file
}

func scriptName(argv []string) (string, string) {
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "--check-hash-based-pycs":
			i++ // an option with its argument apart (review: the argument was taken for the script)
		case a == "-": // the script from standard input
			return filepath.Base(argv[0]), a
		case !strings.HasPrefix(a, "-"):
			return strings.TrimSuffix(filepath.Base(a), ".py"), a
		case strings.HasPrefix(a, "--"):
			// --help, --version and the like: no argument.
		default:
			// Short options, grouped as python takes them (-uc CODE,
			// -Bm mod, -mhttp.server, -Xdev): -c and -m end the options,
			// their argument the rest of the group or the next one; -X
			// and -W take theirs likewise (review: -mhttp.server 8000
			// took 8000 for the script).
			for k := 1; k < len(a); k++ {
				rest := a[k+1:]
				switch a[k] {
				case 'c':
					return filepath.Base(argv[0]), ""
				case 'm':
					if rest != "" {
						return rest, ""
					}
					if i+1 < len(argv) {
						return argv[i+1], ""
					}
					return filepath.Base(argv[0]), ""
				case 'X', 'W':
					if rest == "" {
						i++
					}
					k = len(a) // the rest of the group is its argument
				}
			}
		}
	}
	if len(argv) == 0 {
		return "", ""
	}
	return strings.TrimSuffix(filepath.Base(argv[0]), ".py"), ""
}
