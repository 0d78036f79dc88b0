package diagnosis

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/giltrace/giltrace/tracer"
)

// Summary is the per-thread breakdown of a run that `giltrace record`
// prints. Its JSON field names are a contract kept stable for scripts.
type Summary struct {
	Workload         string `json:"workload"`
	GILMode          string `json:"gil_mode"`
	SwitchIntervalNS int64  `json:"switch_interval_ns"`
	// SwitchIntervals: a real program that changed its switch interval
	// (sys.setswitchinterval) while traced: each value and from when, as
	// "5ms from the start, 20ms from 100ms"; SwitchIntervalNS is then the
	// one in effect for the longest time.
	SwitchIntervals string `json:"switch_intervals,omitempty"`
	CheckInterval   int    `json:"check_interval,omitempty"` // legacy mode, in instructions
	Processes       int    `json:"processes"`
	Cores           int    `json:"cores"`
	WallNS          int64  `json:"wall_ns"`
	Events          int    `json:"events"`
	DroppedEvents   uint64 `json:"dropped_events"`
	// StoppedAtBound: a virtual run that stopped at the recorder's bound
	// (DroppedEvents then counts the events made before it stopped, not
	// all the run would have made).
	StoppedAtBound bool `json:"stopped_at_bound,omitempty"`
	Truncated      bool `json:"truncated,omitempty"`
	// Source and Clock say where the run comes from: "vm" or "cpython" (a
	// real program); "real" (measured) or "virtual" (simulated by the VM:
	// exact, on Cores simulated cores, with Seed).
	Source string `json:"source"`
	Clock  string `json:"clock"`
	Seed   string `json:"seed,omitempty"`
	// ExitStatus is a real program's exit status, when record started it
	// and it ended, by itself or once stopped (128 + N when signal N,
	// ExitSignal, killed it).
	ExitStatus *int   `json:"exit_status,omitempty"`
	ExitSignal string `json:"exit_signal,omitempty"`
	// Stopped says how a program that record started ended when giltrace
	// was stopped (Ctrl-C, SIGTERM, SIGHUP): "interrupted" (it was sent
	// SIGINT and exited within StopGrace, traced meanwhile) or "killed"
	// (it had not, or a second signal came first, and it was sent SIGKILL
	// KilledAfter the SIGINT). SIGINTIgnored: the program ignored SIGINT
	// when it was sent.
	// FailedAtStart: a real program that exited with a non-zero status
	// before any of its own code ran (no frame outside the interpreter's
	// frozen modules, the standard library and installed packages): a
	// missing script, a failed import. Its run is the interpreter's
	// start-up, and no verdict is given.
	FailedAtStart bool   `json:"failed_at_start,omitempty"`
	Stopped       string `json:"stopped,omitempty"`
	StopGrace     string `json:"stop_grace,omitempty"`
	KilledAfter   string `json:"killed_after,omitempty"`
	SIGINTIgnored bool   `json:"sigint_ignored,omitempty"`
	// Outlived lists the processes (pid N, ...) that were still running a
	// second after the program exited: their threads are cut off then.
	Outlived string `json:"outlived,omitempty"`
	// KilledChildren lists the traced child processes killed with a
	// program giltrace killed (--kill-after, or a second signal);
	// LeftRunning those still running when a program giltrace stopped
	// had exited (they were not signalled).
	KilledChildren string `json:"killed_children,omitempty"`
	LeftRunning    string `json:"left_running,omitempty"`
	// Untraced lists the processes the program started (pid N (PATH), ...)
	// that ran another CPython than the one probed: not in the trace.
	Untraced string `json:"untraced,omitempty"`
	// UntracedExec lists the traced processes that exec'd a program the
	// probes do not see (os.execv into /bin/sleep, into another
	// interpreter): "pid N exec'd PATH at T", ", "-separated; their
	// threads end at the exec.
	UntracedExec string `json:"untraced_exec,omitempty"`
	// Unkept lists the processes forked during the run that the recorder
	// could not keep its probes armed in, on a kernel before 6.12 (docs/cpython.md):
	// their probe hits after a relative exited may be missing.
	Unkept string `json:"unkept,omitempty"`
	// Ended is "exited" for a process giltrace attached to that exited
	// while attached (by itself, or killed): its exit status went to its
	// parent, which giltrace is not.
	Ended string `json:"ended,omitempty"`
	// LostEvents and Repairs are a real program's probe hits the kernel
	// lost, and the inconsistencies the recorder mended (a release or an
	// acquisition it did not see): the times around them are estimates.
	LostEvents uint64          `json:"lost_events,omitempty"`
	Repairs    int             `json:"repairs,omitempty"`
	Threads    []ThreadSummary `json:"threads"`
}

// ThreadSummary is one thread's wall time split by state. The six state
// times sum to WallNS.
type ThreadSummary struct {
	Name            string `json:"name"`
	Process         string `json:"process"`
	WallNS          int64  `json:"wall_ns"`
	RunningNS       int64  `json:"running_ns"`        // executing bytecode with the GIL (or free-threaded)
	GILWaitNS       int64  `json:"gil_wait_ns"`       // runnable, waiting for the GIL
	IONS            int64  `json:"io_ns"`             // in blocking I/O, GIL released
	NativeNS        int64  `json:"native_ns"`         // in a native call that released the GIL
	NativeHoldingNS int64  `json:"native_holding_ns"` // in a native call that keeps the GIL
	LockWaitNS      int64  `json:"lock_wait_ns"`      // blocked on a guest lock, GIL released
	Acquisitions    int    `json:"acquisitions"`      // times it acquired its process's GIL
}

// Add adds o's times and acquisitions to th's: th then sums the threads
// added to it (a group of threads, a set a verdict weighs).
func (th *ThreadSummary) Add(o *ThreadSummary) {
	th.WallNS += o.WallNS
	th.RunningNS += o.RunningNS
	th.GILWaitNS += o.GILWaitNS
	th.IONS += o.IONS
	th.NativeNS += o.NativeNS
	th.NativeHoldingNS += o.NativeHoldingNS
	th.LockWaitNS += o.LockWaitNS
	th.Acquisitions += o.Acquisitions
}

// Time is the time the thread spent in state st.
func (th *ThreadSummary) Time(st tracer.State) int64 {
	switch st {
	case tracer.StateRunning:
		return th.RunningNS
	case tracer.StateGILWait:
		return th.GILWaitNS
	case tracer.StateIO:
		return th.IONS
	case tracer.StateNative:
		return th.NativeNS
	case tracer.StateNativeHolding:
		return th.NativeHoldingNS
	case tracer.StateLockWait:
		return th.LockWaitNS
	}
	return 0
}

// Summarize computes the per-thread breakdown of a run from its spans s
// (tracer.Derive of s.Trace). Threads are in ThreadID order.
func Summarize(s *tracer.Spans) *Summary {
	t := s.Trace
	sum := &Summary{
		Workload:         t.Meta.Workload,
		GILMode:          string(t.Meta.GILMode),
		SwitchIntervalNS: int64(t.Meta.SwitchInterval),
		SwitchIntervals:  t.Meta.Extra["switch_intervals"],
		Processes:        len(t.Procs),
		Cores:            t.Meta.Cores,
		WallNS:           t.Duration(),
		Events:           len(t.Events),
		DroppedEvents:    t.Dropped,
		StoppedAtBound:   t.Meta.Extra["stopped_at_bound"] == "true",
		Truncated:        t.Truncated,
		Source:           orDefault(t.Meta.Extra["source"], "vm"),
		Clock:            orDefault(t.Meta.Extra["clock"], "real"),
		Seed:             t.Meta.Extra["seed"],
		Threads:          []ThreadSummary{},
	}
	if t.Meta.GILMode == "legacy" {
		sum.CheckInterval = t.Meta.CheckInterval
	}
	if v, err := strconv.Atoi(t.Meta.Extra["exit_status"]); err == nil {
		sum.ExitStatus = &v
	}
	sum.Outlived = t.Meta.Extra["outlived"]
	sum.KilledChildren, sum.LeftRunning = t.Meta.Extra["killed_children"], t.Meta.Extra["left_running"]
	sum.Untraced = t.Meta.Extra["untraced"]
	sum.UntracedExec = t.Meta.Extra["untraced_exec"]
	sum.Unkept = t.Meta.Extra["unkept"]
	sum.Ended = t.Meta.Extra["ended"]
	sum.LostEvents, _ = strconv.ParseUint(t.Meta.Extra["lost_events"], 10, 64)
	sum.Repairs, _ = strconv.Atoi(t.Meta.Extra["repairs"])
	sum.ExitSignal = t.Meta.Extra["exit_signal"]
	sum.Stopped, sum.StopGrace, sum.KilledAfter = t.Meta.Extra["stopped"], t.Meta.Extra["stop_grace"], t.Meta.Extra["killed_after"]
	sum.SIGINTIgnored = t.Meta.Extra["sigint_ignored"] == "true"
	// Killed by a signal, it was running (its own code, maybe in too short
	// a hold to be sampled), not failing to start.
	sum.FailedAtStart = sum.ExitStatus != nil && *sum.ExitStatus != 0 && sum.ExitSignal == "" && sum.Stopped == "" && sum.Source == "cpython" && !ranOwnCode(t)
	totals := threadTotals(s, len(t.Threads))
	acq := gilAcquisitions(t, s)
	for i, th := range t.Threads {
		tot := totals[i]
		ts := ThreadSummary{
			Name:            th.Name,
			Process:         procName(t, th.Proc),
			WallNS:          tot.Sum(),
			RunningNS:       tot[tracer.StateRunning],
			GILWaitNS:       tot[tracer.StateGILWait],
			IONS:            tot[tracer.StateIO],
			NativeNS:        tot[tracer.StateNative],
			NativeHoldingNS: tot[tracer.StateNativeHolding],
			LockWaitNS:      tot[tracer.StateLockWait],
			Acquisitions:    acq[i],
		}
		if i < len(s.Threads) {
			ts.WallNS = s.Threads[i].End - s.Threads[i].Start
		}
		sum.Threads = append(sum.Threads, ts)
	}
	return sum
}

// threadTotals is the time each of n threads spent in each state, from the
// state spans (the same sums as Spans.ThreadTotals).
func threadTotals(s *tracer.Spans, n int) []tracer.Totals {
	out := make([]tracer.Totals, n)
	for _, sp := range s.States {
		if int(sp.Thread) < n && int(sp.State) < tracer.NumStates {
			out[sp.Thread][sp.State] += sp.End - sp.Start
		}
	}
	return out
}

// gilAcquisitions counts, per thread, the holds of its own process's GIL.
func gilAcquisitions(t *tracer.Trace, s *tracer.Spans) []int {
	out := make([]int, len(t.Threads))
	for _, h := range s.Holds {
		if isGIL(t, h.Lock) && int(h.Thread) < len(out) {
			out[h.Thread]++
		}
	}
	return out
}

// isGIL reports whether l is a GIL (of any process).
func isGIL(t *tracer.Trace, l tracer.LockID) bool {
	return int(l) < len(t.Locks) && t.Locks[l].GIL
}

func procName(t *tracer.Trace, p tracer.ProcID) string {
	if int(p) < len(t.Procs) {
		return t.Procs[p].Name
	}
	return fmt.Sprintf("process %d", p)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ranOwnCode reports whether a frame of the program's own code is in the
// trace (tracer.ProgramFile), or the outermost frame of python3 -c or of
// a script on stdin ("<string>", "<stdin>": deeper, a "<string>" is
// site's exec of a .pth file's line).
func ranOwnCode(t *tracer.Trace) bool {
	for _, f := range t.Frames {
		if t.OwnFile(f.File) {
			return true
		}
	}
	return slices.ContainsFunc(t.Stacks, func(st tracer.Stack) bool { return ownFrame(t, st) })
}

// ownFrame reports whether stack node st's frame is the program's own
// code: a file of the program (tracer.ProgramFile), or code of python3 -c
// or of a script on stdin ("<string>", "<stdin>") that is the outermost
// frame or the target a thread runs (called from threading's Thread.run,
// or a thread pool's work item). Deeper, a "<string>" is other code
// exec'd from a string: site's exec of a .pth file's line, a namedtuple's
// or a dataclass's generated methods (QA: a python3 -c program whose main
// thread was only seen in a join, "?", and whose workers ran "<string>"
// functions under Thread._bootstrap was said to have failed before any
// of its own code ran). A program run from a script file (the trace's
// WorkloadFile) has no code of its own in a string at the outermost
// frame: one there is a stack read only in part, such as site's exec of a
// .pth file's line seen without site's frames (QA: `python3 missing.py`
// beside setuptools' distutils-precedence.pth was given a verdict as a
// program that ran).
func ownFrame(t *tracer.Trace, st tracer.Stack) bool {
	if int(st.Frame) >= len(t.Frames) {
		return false
	}
	f := t.Frames[st.Frame].File
	if t.OwnFile(f) {
		return true
	}
	if f != "<string>" && f != "<stdin>" {
		return false
	}
	if st.Parent == tracer.NoStack {
		return t.Meta.WorkloadFile == ""
	}
	if int(st.Parent) >= len(t.Stacks) {
		return false
	}
	pf := t.Stacks[st.Parent].Frame
	if int(pf) >= len(t.Frames) {
		return false
	}
	caller := t.Frames[pf].File
	return strings.HasSuffix(caller, "/threading.py") || caller == "threading.py" || strings.HasSuffix(caller, "/concurrent/futures/thread.py")
}
