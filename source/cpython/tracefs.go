package cpython

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// tracefsRoot is where tracefs is mounted (and mounted by Check if absent).
const tracefsRoot = "/sys/kernel/tracing"

// groupPrefix starts the uprobe group of every run: giltrace_<pid of the
// recorder>. A later run removes those whose recorder is gone.
const groupPrefix = "giltrace_"

// ErrPermission is wrapped by the error of a recorder that lacks the
// privilege to create uprobes.
var ErrPermission = errors.New("permission denied")

// ErrNoTracing is wrapped by the error of a kernel without tracefs or
// uprobe events.
var ErrNoTracing = errors.New("no tracefs uprobe support")

// Check verifies that this process can trace CPython with uprobes: it runs
// as root (or with CAP_SYS_ADMIN), tracefs is mounted at
// /sys/kernel/tracing (mounting it if it is not), and the kernel offers
// uprobe events. It is safe to call concurrently; it changes nothing but
// the mount.
func Check() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("tracing CPython needs root (CAP_SYS_ADMIN to create uprobes in tracefs, CAP_SYS_PTRACE to read the program's memory): %w; run giltrace with sudo", ErrPermission)
	}
	if _, err := os.Stat(filepath.Join(tracefsRoot, "uprobe_events")); err != nil {
		if _, err2 := os.Stat(filepath.Join(tracefsRoot, "trace")); err2 != nil {
			if err := syscall.Mount("nodev", tracefsRoot, "tracefs", 0, ""); err != nil {
				return fmt.Errorf("mounting tracefs at %s: %w (%w: is CONFIG_TRACING enabled?)", tracefsRoot, err, ErrNoTracing)
			}
		}
		if _, err := os.Stat(filepath.Join(tracefsRoot, "uprobe_events")); err != nil {
			return fmt.Errorf("%s/uprobe_events: %w (the kernel needs CONFIG_UPROBE_EVENTS=y)", tracefsRoot, ErrNoTracing)
		}
	}
	if _, err := os.Stat("/proc/sys/kernel/perf_event_paranoid"); err != nil {
		return fmt.Errorf("/proc/sys/kernel/perf_event_paranoid: %w (%w: the kernel needs CONFIG_PERF_EVENTS)", err, ErrNoTracing)
	}
	return nil
}

// probe is one uprobe definition.
type probe struct {
	name   string // event name in the group
	ret    bool   // a return probe
	offset uint64 // file offset in the interpreter
	args   string // fetch args, "name=expr:type ..."
	filter string // event filter, or ""
}

// session is the tracefs state of one run: its group of uprobes, defined
// in uprobe_events (their events are opened, and armed, per traced task
// through perf: perf.go). close removes them.
type session struct {
	group   string
	path    string // interpreter file
	defined []string
	filter  map[string]string // group/event -> its filter
	// shared: another session had probes where this one put its own
	// when they were defined (sharedProbes): the hits counted are both's.
	shared bool
}

func newSession(path string) *session {
	g := groupPrefix + strconv.Itoa(os.Getpid())
	return &session{group: g, path: path, filter: map[string]string{}}
}

func writeFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	return errors.Join(err, f.Close())
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	return errors.Join(err, f.Close())
}

// kernelError adds the last line of tracefs's error_log, which says why a
// definition was refused.
func kernelError(err error) error {
	b, _ := os.ReadFile(filepath.Join(tracefsRoot, "error_log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "error:") {
			return fmt.Errorf("%w (kernel: %s)", err, strings.TrimSpace(lines[i][strings.Index(lines[i], "error:"):]))
		}
	}
	return err
}

// open defines the probes. A definition arms nothing: a probe is armed
// in a process only while an event of it is open for one of its tasks.
func (s *session) open(probes []probe) error {
	for _, p := range probes {
		kind := "p"
		if p.ret {
			kind = "r"
		}
		def := fmt.Sprintf("%s:%s/%s %s:%#x %s\n", kind, s.group, p.name, s.path, p.offset, p.args)
		if err := appendFile(filepath.Join(tracefsRoot, "uprobe_events"), def); err != nil {
			return kernelError(fmt.Errorf("defining uprobe %s/%s: %w", s.group, p.name, err))
		}
		s.defined = append(s.defined, p.name)
		if p.filter != "" {
			s.filter[s.group+"/"+p.name] = p.filter
		}
	}
	if defs, err := os.ReadFile(filepath.Join(tracefsRoot, "uprobe_events")); err == nil {
		s.shared = sharedProbes(s.group, string(defs))
	}
	return nil
}

// sharedProbes reports whether another group of uprobe_events (defs) has
// a probe at a file and offset where group has one: the kernel then calls
// both probes at every hit, and counts the hits of each in both
// (uprobe_profile counts a hit before any filter, the other session's
// process included).
func sharedProbes(group, defs string) bool {
	mine, others := map[string]bool{}, map[string]bool{}
	for _, d := range strings.Split(strings.TrimSpace(defs), "\n") {
		f := strings.Fields(d)
		if len(f) < 2 {
			continue
		}
		g, _, _ := strings.Cut(f[0], "/")
		if _, gr, _ := strings.Cut(g, ":"); gr == group {
			mine[f[1]] = true
		} else {
			others[f[1]] = true
		}
	}
	for at := range mine {
		if others[at] {
			return true
		}
	}
	return false
}

// close removes the probes' definitions (their events must be closed
// first). It is safe to call more than once.
func (s *session) close() error {
	var errs []error
	deadline := time.Now().Add(busyWait) // for all the probes together
	for _, name := range s.defined {
		def := fmt.Sprintf("-:%s/%s\n", s.group, name)
		err := appendFile(filepath.Join(tracefsRoot, "uprobe_events"), def)
		// A probe is busy while an event of it is still open: the kernel
		// frees the event of a task that exited just before its
		// descriptor was closed a little later, from that task's side
		// (seen when threads ended as an attach stopped: thread_end's
		// probe stayed defined, once in some tens of runs on a loaded
		// machine). Tried again until busyWait has passed.
		for errors.Is(err, syscall.EBUSY) && time.Now().Before(deadline) {
			time.Sleep(busyRetry)
			err = appendFile(filepath.Join(tracefsRoot, "uprobe_events"), def)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("removing uprobe %s/%s: %w", s.group, name, err))
		}
	}
	s.defined = nil
	return errors.Join(errs...)
}

// busyWait is how long close tries again to remove a probe the kernel
// says is busy, every busyRetry.
const (
	busyWait  = 2 * time.Second
	busyRetry = 10 * time.Millisecond
)

// RemoveStale removes the uprobe definitions (and the tracefs instances of
// giltrace before 2026-12-02) that recorders which no longer exist left
// behind (killed before they could clean up: their probes were disarmed
// when the kernel closed their events).
// Every recording does it first; tests that kill one call it after.
func RemoveStale() error {
	_, err := cleanupStale()
	return err
}

// RemoveAtExit removes this process's probes as well as stale ones, for a
// forced exit while a recording runs: it first closes the recording's
// perf events, which disarm the probes and would keep their definitions
// (EBUSY). The recording cannot go on after it.
func RemoveAtExit() error {
	perfFiles.closeAll()
	_, err := cleanupStale()
	return err
}

// cleanupStale removes the instances and uprobes of earlier runs whose
// recorder process no longer exists (killed before it could clean up).
func cleanupStale() (removed []string, err error) {
	alive := func(g string) bool {
		pid, err := strconv.Atoi(strings.TrimPrefix(g, groupPrefix))
		if err != nil {
			return true // not ours
		}
		if pid == os.Getpid() {
			return false
		}
		return syscall.Kill(pid, 0) == nil
	}
	var errs []error
	seen := map[string]bool{}
	note := func(g string) {
		if !seen[g] && g != groupPrefix+strconv.Itoa(os.Getpid()) {
			seen[g] = true
			removed = append(removed, strings.TrimPrefix(g, groupPrefix))
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(tracefsRoot, "instances", groupPrefix+"*"))
	for _, d := range dirs {
		if !alive(filepath.Base(d)) {
			note(filepath.Base(d))
			_ = writeFile(filepath.Join(d, "events", "enable"), "0")
			// Another recorder starting at the same time may remove it
			// first (gone), or be removing it (busy): not an error here.
			if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.EBUSY) {
				errs = append(errs, fmt.Errorf("removing stale tracefs instance %s: %w", d, err))
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(tracefsRoot, "uprobe_events"))
	if err != nil {
		return removed, errors.Join(append(errs, err)...)
	}
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		_, ev, ok := strings.Cut(fields[0], ":")
		g, _, ok2 := strings.Cut(ev, "/")
		if !ok || !ok2 || !strings.HasPrefix(g, groupPrefix) || alive(g) {
			continue
		}
		note(g)
		// ENOENT: removed by another recorder. EBUSY: its events are
		// open, by a recording of this process (RemoveStale while it
		// reads), which removes it itself.
		if err := appendFile(filepath.Join(tracefsRoot, "uprobe_events"), "-:"+ev+"\n"); err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.EBUSY) {
			errs = append(errs, fmt.Errorf("removing stale uprobe %s: %w", ev, err))
		}
	}
	return removed, errors.Join(errs...)
}

// hits is how many times the session's probes were hit, summed: tracefs's
// uprobe_profile counts every hit, those the events' filters then drop
// included (an uncontended Lock.acquire, without lock holds), each of
// which costs the program a trap. uprobe_profile names no group, so its
// lines are matched with uprobe_events' by position (the kernel lists both
// from the same list), read again if another session changed the list in
// between; ok false if they never match, or if another session had probes
// at the same places when this one's were defined or has now
// (sharedProbes): a session that came and went in between is not seen.
func (s *session) hits() (int64, bool) {
	for range 3 {
		defs, err1 := os.ReadFile(filepath.Join(tracefsRoot, "uprobe_events"))
		prof, err2 := os.ReadFile(filepath.Join(tracefsRoot, "uprobe_profile"))
		if err1 != nil || err2 != nil {
			return 0, false
		}
		if s.shared || sharedProbes(s.group, string(defs)) {
			// Another giltrace traced the same interpreter at once: its
			// program's hits are in the counts (review: a sleeping
			// program was given 345 370 hits of another's locks).
			return 0, false
		}
		if n, ok := sessionHits(s.group, string(defs), string(prof)); ok {
			return n, true
		}
	}
	return 0, false
}

// sessionHits sums the hits in profile (uprobe_profile: "FILE EVENT HITS"
// per line) of the probes of group in defs (uprobe_events: "p:GROUP/EVENT
// FILE:OFFSET ..."), matched line by line; ok false if the two lists do
// not match (a probe added or removed between the reads) or none is the
// group's.
func sessionHits(group, defs, profile string) (int64, bool) {
	dl := strings.Split(strings.TrimSpace(defs), "\n")
	pl := strings.Split(strings.TrimSpace(profile), "\n")
	if len(dl) != len(pl) {
		return 0, false
	}
	var sum int64
	found := false
	for i, d := range dl {
		df, pf := strings.Fields(d), strings.Fields(pl[i])
		if len(df) < 1 || len(pf) < 3 {
			return 0, false
		}
		_, ev, ok := strings.Cut(df[0], "/")
		if !ok || pf[len(pf)-2] != ev {
			return 0, false
		}
		g := df[0][:strings.Index(df[0], "/")]
		if _, gr, ok := strings.Cut(g, ":"); !ok || gr != group {
			continue
		}
		n, err := strconv.ParseInt(pf[len(pf)-1], 10, 64)
		if err != nil {
			return 0, false
		}
		sum += n
		found = true
	}
	return sum, found
}
