package cpython

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// tracefsRoot is where tracefs is mounted (and mounted by Check if absent).
const tracefsRoot = "/sys/kernel/tracing"

// groupPrefix starts the uprobe group and the tracefs instance of every
// run: giltrace_<pid of the recorder>. A later run removes those whose
// recorder is gone.
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
	if _, err := os.Stat(filepath.Join(tracefsRoot, "instances")); err != nil {
		return fmt.Errorf("%s/instances: %w (%w)", tracefsRoot, err, ErrNoTracing)
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

// session is the tracefs state of one run: its group of uprobes and its
// instance. close removes both.
type session struct {
	group    string
	instance string // path of the instance directory
	path     string // interpreter file
	defined  []string
}

func newSession(path string) *session {
	g := groupPrefix + strconv.Itoa(os.Getpid())
	return &session{group: g, instance: filepath.Join(tracefsRoot, "instances", g), path: path}
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

// open creates the instance (private ring buffer of bufKB per CPU, the
// monotonic clock, tgids recorded, event pid filters following forks) and
// defines the probes.
func (s *session) open(probes []probe, bufKB int) error {
	if err := os.Mkdir(s.instance, 0o755); err != nil {
		return fmt.Errorf("creating tracefs instance %s: %w", s.instance, err)
	}
	settings := [][2]string{
		{"trace_clock", "mono"},
		{"buffer_size_kb", strconv.Itoa(bufKB)},
		{"options/record-tgid", "1"},
		{"options/event-fork", "1"},
	}
	for _, kv := range settings {
		if err := writeFile(filepath.Join(s.instance, kv[0]), kv[1]); err != nil {
			return fmt.Errorf("setting %s of tracefs instance %s: %w", kv[0], s.instance, err)
		}
	}
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
			if err := writeFile(filepath.Join(s.instance, "events", s.group, p.name, "filter"), p.filter); err != nil {
				return fmt.Errorf("setting the filter of uprobe %s/%s: %w", s.group, p.name, err)
			}
		}
	}
	return nil
}

// setPIDs restricts the instance's events to the given tasks (and, with
// event-fork, the tasks they create). An empty list is refused: written,
// it would clear the filter, and the probes, on a library every CPython
// process of the machine may map, would record them all.
func (s *session) setPIDs(pids []int) error {
	if len(pids) == 0 {
		return errors.New("setting the traced pids: no task to trace (an empty list would trace every process)")
	}
	var b strings.Builder
	for _, p := range pids {
		fmt.Fprintf(&b, "%d ", p)
	}
	if err := writeFile(filepath.Join(s.instance, "set_event_pid"), b.String()); err != nil {
		return fmt.Errorf("setting the traced pids: %w", err)
	}
	return nil
}

// enable turns on the group's uprobes and the task creation and exit
// tracepoints.
func (s *session) enable() error {
	if err := writeFile(filepath.Join(s.instance, "events", s.group, "enable"), "1"); err != nil {
		return fmt.Errorf("enabling uprobes %s: %w", s.group, err)
	}
	for _, ev := range []string{"sched/sched_process_exit", "task/task_newtask"} {
		if err := writeFile(filepath.Join(s.instance, "events", ev, "enable"), "1"); err != nil {
			return fmt.Errorf("enabling %s: %w", ev, err)
		}
	}
	return nil
}

// lost sums the events each CPU's ring buffer overwrote or dropped.
func (s *session) lost() uint64 {
	var n uint64
	dirs, _ := filepath.Glob(filepath.Join(s.instance, "per_cpu", "cpu*"))
	for _, d := range dirs {
		f, err := os.Open(filepath.Join(d, "stats"))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if ok && (k == "overrun" || k == "dropped events") {
				x, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
				n += x
			}
		}
		f.Close()
	}
	return n
}

// close disables and removes the instance, then the probes. It is safe to
// call more than once.
func (s *session) close() error {
	var errs []error
	if _, err := os.Stat(s.instance); err == nil {
		_ = writeFile(filepath.Join(s.instance, "tracing_on"), "0")
		_ = writeFile(filepath.Join(s.instance, "events", "enable"), "0")
		if err := os.Remove(s.instance); err != nil {
			errs = append(errs, fmt.Errorf("removing tracefs instance %s: %w", s.instance, err))
		}
	}
	for _, name := range s.defined {
		if err := appendFile(filepath.Join(tracefsRoot, "uprobe_events"), fmt.Sprintf("-:%s/%s\n", s.group, name)); err != nil {
			errs = append(errs, fmt.Errorf("removing uprobe %s/%s: %w", s.group, name, err))
		}
	}
	s.defined = nil
	return errors.Join(errs...)
}

// RemoveStale removes the tracefs instances and uprobes that recorders
// which no longer exist left behind (killed before they could clean up).
// Every recording does it first; tests that kill one call it after.
func RemoveStale() error {
	_, err := cleanupStale()
	return err
}

// RemoveAtExit removes this process's probes and instance as well as
// stale ones, for a forced exit while a recording runs: it first closes
// the recording's per-CPU buffers, which would keep its instance (EBUSY).
// The recording cannot go on after it.
func RemoveAtExit() error {
	openPipes.closeAll()
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
		if err := appendFile(filepath.Join(tracefsRoot, "uprobe_events"), "-:"+ev+"\n"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing stale uprobe %s: %w", ev, err)) // ENOENT: removed by another recorder
		}
	}
	return removed, errors.Join(errs...)
}
