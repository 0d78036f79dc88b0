package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/giltrace/giltrace/internal/cpus"
	"github.com/giltrace/giltrace/source/cpython"
	"github.com/giltrace/giltrace/tracer"
	"github.com/spf13/cobra"
)

// attachOptions are the arguments of giltrace attach.
type attachOptions struct {
	recordOptions               // -o, --formats, --json, --otlp, as for record
	PID           int           // the process to trace
	Duration      time.Duration // how long to trace; 0 until Ctrl-C or the process exits
}

func newAttachCmd() *cobra.Command { return attachCmd(runAttach) }

// attachCmd builds the command around run, so that tests can check the
// parsed options.
func attachCmd(run func(*cobra.Command, *attachOptions) error) *cobra.Command {
	o := &attachOptions{}
	cmd := &cobra.Command{
		Use:   "attach PID",
		Short: "Trace a running CPython process, then report why its threads did or did not speed up",
		Long: "attach traces the running CPython process PID, and the CPython processes it\n" +
			"starts, through uprobes on its interpreter (docs/cpython.md: needs root), until\n" +
			"--duration elapses, Ctrl-C, or the process exits. It writes DIR/run.giltrace\n" +
			"and every output (--formats) and prints the report, as record does. The\n" +
			"process is not stopped or changed: only observed.",
		Args: usageArgs(exactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			pid, err := strconv.Atoi(args[0])
			if err != nil || pid < 1 {
				return &usageError{fmt.Errorf("PID %q: expected a process id, a positive integer", args[0])}
			}
			if err := checkAttachPID(pid); err != nil {
				return &usageError{err}
			}
			if err := checkOutDir(o.Out); err != nil {
				return &usageError{err}
			}
			o.PID = pid
			if o.Duration < 0 || cmd.Flags().Changed("duration") && o.Duration == 0 {
				return &usageError{fmt.Errorf("--duration %v: expected a positive duration such as 10s (leave it out to trace until Ctrl-C or the process exits)", o.Duration)}
			}
			if err := o.check(cmd.Flags().Changed); err != nil {
				return &usageError{err}
			}
			return run(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Out, "out", "o", "", "write run.giltrace to `DIR` (default giltrace-out/py-<script or command name>)")
	f.DurationVar(&o.Duration, "duration", 0, "stop tracing after `D`, e.g. 10s (default: until Ctrl-C or the process exits)")
	outputFlags(cmd, &o.recordOptions)
	lockHoldsFlag(cmd, &o.recordOptions)
	return cmd
}

// lockHoldsFlag defines --lock-holds (record -- COMMAND and attach). Off
// by default: observing every acquire and release costs the traced program
// about 4 us per acquire and release on top of the lock probe's 1.7 us
// (docs/cpython.md, "Lock holds"), which took a thread pool of small tasks
// from 2.2x to 4x its untraced time.
func lockHoldsFlag(cmd *cobra.Command, o *recordOptions) {
	cmd.Flags().BoolVar(&o.LockHolds, "lock-holds", false, "real programs on CPython 3.9 to 3.13: also observe every acquire and release of the program's locks, so that lock holds are exact, uncontended ones included (costs about 4 us per acquire and release; 3.14's locks are PyMutex locks, refused; docs/cpython.md)")
}

// checkAttachPID refuses, from /proc/PID/status, what is not a live
// process: a thread's id (TID) that is not its process's, which attach
// would trace with the thread taken for the main one (QA), and a zombie,
// whose interpreter is gone, and a process that does not exist (as the
// zombie, a usage error: QA found exit status 1 for one and 2 for the
// other). Where the file cannot be read otherwise (no /proc, no
// permission), the recorder says why.
func checkAttachPID(pid int) error {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if errors.Is(err, fs.ErrNotExist) {
		if _, perr := os.Stat("/proc/self/status"); perr == nil {
			return fmt.Errorf("no process %d: nothing to trace", pid)
		}
	}
	if err != nil {
		return nil
	}
	var tgid, threads int
	var state string
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Tgid":
			tgid, _ = strconv.Atoi(v)
		case "State":
			state = v
		case "Threads":
			threads, _ = strconv.Atoi(v)
		}
	}
	if tgid > 0 && tgid != pid {
		return fmt.Errorf("PID %d is a thread of process %d, not a process: attach %d", pid, tgid, tgid)
	}
	if strings.HasPrefix(state, "Z") && threads <= 1 { // a leader gone before its threads is not a zombie process (review)
		return fmt.Errorf("process %d has exited (a zombie its parent has not reaped): nothing to trace", pid)
	}
	if kernelThread(pid) {
		// QA: "readlink /proc/2/exe: no such file or directory".
		return fmt.Errorf("process %d is a kernel thread, not a program: nothing to trace", pid)
	}
	if strings.HasPrefix(state, "T") {
		// Its main thread stopped: nothing of it runs while attached
		// (QA: "each was blocked (sleeping, waiting, in I/O) or ran
		// alone" for a process stopped by SIGSTOP).
		return fmt.Errorf("process %d is stopped (%s: by SIGSTOP or Ctrl-Z), and nothing of it would run while attached: continue it (kill -CONT %d), then attach", pid, state, pid)
	}
	if strings.HasPrefix(state, "t") {
		// Stopped by its tracer, which SIGCONT does not resume (review).
		return fmt.Errorf("process %d is stopped by a debugger or tracer (%s: gdb, strace), and nothing of it would run while attached: let it run or detach the tracer, then attach", pid, state)
	}
	return nil
}

// kernelThread reports whether pid is a kernel thread: the PF_KTHREAD
// flag in its /proc/PID/stat (review: a process whose main thread exited
// while others run has no command line nor executable either, and is no
// kernel thread).
func kernelThread(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return false
	}
	// After the command: state, ppid, pgrp, session, tty_nr, tpgid, flags.
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 7 {
		return false
	}
	flags, err := strconv.ParseUint(f[6], 10, 64)
	return err == nil && flags&pfKthread != 0
}

// pfKthread is the kernel's PF_KTHREAD task flag.
const pfKthread = 0x00200000

// attachName names the process pid for attach's messages and trace: its
// Python program (the script, the -m module) when its command is a
// Python's, else its command (QA: a `sleep 30` was named "30").
func attachName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return "pid-" + strconv.Itoa(pid)
	}
	argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	if !strings.HasPrefix(filepath.Base(argv[0]), "python") {
		argv = argv[:1] // named by its command (ProgramName of it alone)
	}
	return cpython.ProgramName(argv)
}

func runAttach(cmd *cobra.Command, o *attachOptions) error {
	name := attachName(o.PID)
	// The privilege first, said of an attach (QA: "recording NAME: ...
	// needs root" for an attach).
	if err := cpython.Check(); err != nil {
		return fmt.Errorf("attaching to %s (pid %d): %w", name, o.PID, err)
	}
	pg := newProgress(cmd)
	defer pg.Stop()
	err := recordPython(withProgress(cmd.Context(), pg), cmd, &o.recordOptions, cpython.Attach(o.PID, o.Duration, pythonOptions(cmd, &o.recordOptions)), name)
	if errors.Is(err, cpython.ErrNotCPython) || errors.Is(err, cpython.ErrOtherNamespace) {
		// QA: "/usr/bin/bash: not a CPython interpreter" named no pid;
		// and a refusal of the PID, as the others (no process, a
		// thread's id, a zombie), exits 2, not 1 (QA).
		return &usageError{fmt.Errorf("attaching to %s (pid %d): %w", name, o.PID, err)}
	}
	return err
}

// pythonOptions are the CPython recorder's options for a command: the
// program's standard streams are giltrace's. GILTRACE_VERBOSE=1 prints the
// recorder's phases (interpreter read, probes defined, enabled, disabled,
// drained) with their times on stderr.
func pythonOptions(cmd *cobra.Command, ro *recordOptions) cpython.Options {
	// A second signal kills a program that the first one asked to stop; a
	// forced exit (the third) removes the probes before giltrace exits.
	in := interruptsOf(cmd.Context())
	in.atForcedExit(func() { _ = cpython.RemoveAtExit() })
	// With --json, giltrace's standard output is the JSON document alone
	// (for jq and scripts): the program's goes to standard error (QA: its
	// lines came before the document, which no parser then read).
	progOut := cmd.OutOrStdout()
	if ro.JSON {
		progOut = cmd.ErrOrStderr()
	}
	o := cpython.Options{Stdin: os.Stdin, Stdout: progOut, Stderr: cmd.ErrOrStderr(), Version: giltraceVersion(), LockHolds: ro.LockHolds,
		StopGrace: ro.KillAfter, KillNow: in.nth(2), CPUs: ro.cpuList,
		Interrupted: func() bool { return in.Signal() == os.Interrupt && terminalForeground() },
		// The probes are removed while the trace is saved and analysed
		// (recordPython waits for it before it returns).
		CloseLater: true}
	if os.Getenv("GILTRACE_VERBOSE") != "" {
		stderr := cmd.ErrOrStderr()
		o.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, "giltrace: cpython: "+format+"\n", args...) }
	}
	return o
}

// recordPython records a real CPython program through src, named name,
// then writes, reports and sends the run as record does for a workload
// (recordRun). A program started by record (not attach) passes its exit
// status through: once the run is saved, giltrace exits with it.
func recordPython(ctx context.Context, cmd *cobra.Command, o *recordOptions, src *cpython.Source, name string) error {
	// The probes are removed (Options.CloseLater) before giltrace exits.
	// A signal that comes while it waits for that, the run saved and
	// reported, stops nothing: said, as for one that comes as the run
	// ends (QA: exit 130 and not a word, the program having exited 0).
	in := interruptsOf(ctx)
	done, sigAtEnd := false, os.Signal(nil)
	defer func() {
		src.Close()
		if sig := in.Signal(); done && sigAtEnd == nil && sig != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "giltrace: stopped%s while the probes were removed: the run is complete, and so are its trace and outputs\n", signalName(sig))
		}
	}()
	// The metadata a trace cut off mid-run keeps (the run's replaces it at
	// the end): the switch interval is read from the process later.
	start := tracer.Meta{Workload: name, GILMode: tracer.GILCPython, SwitchInterval: 5 * time.Millisecond, Cores: cpus.Usable(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		Start: time.Now().UTC(), Version: giltraceVersion(), Extra: map[string]string{"provisional": "true", "source": "cpython",
			"switch_interval": "not read from the process before the trace was cut off; CPython's default 5ms assumed"}}
	// The privilege first: a user without it learns that, not that the
	// output directory could not be made.
	if err := cpython.Check(); err != nil {
		return fmt.Errorf("recording %s: %w", name, err)
	}
	if o.Out == "" {
		oo := *o
		oo.Out = programOutDir(name)
		o = &oo
	}
	bound, note := fitEvents(tracer.DefaultMaxEvents)
	if note != "" {
		fmt.Fprint(cmd.ErrOrStderr(), note)
	}
	err := recordRun(ctx, name, name, start, o, cmd.OutOrStdout(), cmd.ErrOrStderr(), func(ctx context.Context) (*tracer.Trace, error) {
		// The events are read and recorded by giltrace, not by the
		// program: huge pages for its buffers cost the program nothing.
		t, err := tracer.Record(ctx, src, tracer.Config{HugePages: true, MaxEvents: bound})
		if t != nil && t.Meta.Workload == "" {
			// The process's command line was gone when the recorder read
			// it (it exited as the attach began): the name it had when
			// giltrace started (QA: a run named ".").
			t.Meta.Workload = name
		}
		return t, err
	})
	done, sigAtEnd = true, in.Signal()
	if afterRecordRun != nil {
		afterRecordRun()
	}
	if err != nil {
		// giltrace failed (its outputs, a signal): it exits 1 (or as
		// stopped), and says what the program's own status was.
		// -1: it never ran (not a CPython, no such file): nothing to say
		// (QA: "the program itself exited with status -1").
		if code := src.ExitCode(); o.Command != nil && code != 0 && code != -1 {
			// Its own line (printError), after giltrace's error's lines.
			return errors.Join(err, fmt.Errorf("the program itself exited with status %d", code))
		}
		return err
	}
	if o.Command != nil {
		if code := src.ExitCode(); code != 0 {
			return &programExit{code: code}
		}
	}
	return nil
}

// afterRecordRun (tests) is called when recordPython's run is saved and
// reported, before it waits for the probes' removal.
var afterRecordRun func()

// programOutDir is the default directory of a real program's run named
// name (its script, module or command): giltrace-out/py-NAME, apart from
// a workload's giltrace-out/NAME, so that recording countdown.yaml and then
// python3 countdown.py keeps both runs.
func programOutDir(name string) string {
	return filepath.Join("giltrace-out", "py-"+name)
}

// programExit is the exit status of a traced program that giltrace passes
// through after tracing it: not an error of giltrace's, so nothing is
// printed. A program killed by signal N gives 128 + N, as a shell reports it.
type programExit struct{ code int }

func (e *programExit) Error() string { return fmt.Sprintf("the program exited with status %d", e.code) }

// programStatus is the exit status to pass through for err, if it is one.
func programStatus(err error) (int, bool) {
	var es *programExit
	if !errors.As(err, &es) {
		return 0, false
	}
	if es.code < 0 || es.code > 255 {
		return 1, true
	}
	return es.code, true
}

// resolveLauncher replaces a python launcher script at the head of argv (a
// pyenv or asdf shim, a virtualenv wrapper: a shell script that execs the
// real interpreter) with the interpreter it runs, which it asks for
// sys.executable: uprobes go on the interpreter's own code, which a script
// does not have. A script whose "#!" line runs such a launcher
// ("#!/usr/bin/env python3" with a pyenv shim first on $PATH) becomes the
// interpreter running the script, as the kernel would have run it.
// Anything else is returned as it is. failed says why a launcher asked
// for its interpreter did not say it ("" otherwise), for the error that
// follows when the launcher is then taken for the interpreter (QA: a pyenv
// shim for a version it could not run was "/usr/bin/bash: not a CPython
// interpreter").
func resolveLauncher(ctx context.Context, argv []string) (resolved []string, failed string) {
	if len(argv) == 0 {
		return argv, ""
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return argv, ""
	}
	if pythonName.MatchString(filepath.Base(argv[0])) {
		exe, failed := launcherTarget(ctx, path)
		if exe != "" {
			return append([]string{exe}, argv[1:]...), ""
		}
		return argv, failed
	}
	prog, args, ok, err := cpython.Shebang(path)
	if err != nil || !ok || !pythonName.MatchString(filepath.Base(prog)) {
		return argv, ""
	}
	exe, failed := launcherTarget(ctx, prog)
	if failed != "" {
		return argv, failed
	}
	if exe == "" {
		// The interpreter itself (#!/usr/bin/python3): run as the kernel
		// runs the script, so that the trace knows the script (QA: a
		// script run directly had no workload-file, its command the
		// script's name alone).
		exe = prog
	}
	// The script by the path found (as the kernel passes it): by its bare
	// name the interpreter would look for it in the working directory.
	script := argv[0]
	if !strings.ContainsRune(script, filepath.Separator) {
		script = path
	}
	return slices.Concat([]string{exe}, args, []string{script}, argv[1:]), ""
}

// applyEnv takes the env(1) of a command `env [NAME=VALUE]... PROGRAM
// ARGS...` (QA: `giltrace record -- env python3 app.py` was "/usr/bin/env:
// not a CPython interpreter", where a `#!/usr/bin/env python3` shebang
// works): it sets the assignments in giltrace's environment, which the
// program inherits, and returns PROGRAM ARGS. env's options (-i, -u, -S,
// ...) are refused with what to do instead; any other command is
// returned as it is.
func applyEnv(argv []string) ([]string, error) {
	for len(argv) > 0 && filepath.Base(argv[0]) == "env" { // env A=1 env B=2 python3 (QA)
		var err error
		if argv, err = applyOneEnv(argv); err != nil {
			return nil, err
		}
	}
	return argv, nil
}

// applyOneEnv is applyEnv of one env at argv[0].
func applyOneEnv(argv []string) ([]string, error) {
	i := 1
	var set [][2]string
	for ; i < len(argv); i++ {
		a := argv[i]
		if strings.HasPrefix(a, "-") {
			return nil, &usageError{fmt.Errorf("%s: env's options (%s) are not followed: run the program without env (set its environment in giltrace's: NAME=VALUE giltrace record -- python3 ...)", strings.Join(argv, " "), a)}
		}
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			break
		}
		if k == "" {
			return nil, &usageError{fmt.Errorf("%s: %q is no NAME=VALUE", strings.Join(argv, " "), a)}
		}
		set = append(set, [2]string{k, v})
	}
	if i == len(argv) {
		return nil, &usageError{fmt.Errorf("%s: no program after env's assignments", strings.Join(argv, " "))}
	}
	for _, kv := range set {
		if err := os.Setenv(kv[0], kv[1]); err != nil {
			return nil, fmt.Errorf("env %s=%s: %w", kv[0], kv[1], err)
		}
	}
	return argv[i:], nil
}

// pythonName matches the names of interpreters and their launchers
// (python, python3, python3.12), not a script named python_app.py, which
// launcherTarget would run.
var pythonName = regexp.MustCompile(`^python[0-9.]*$`)

// launcherTarget returns the interpreter that launcher script path runs
// (its sys.executable), "" if path is no script or does not say; failed
// then says why, when path is a script that was asked.
func launcherTarget(ctx context.Context, path string) (exe, failed string) {
	f, err := os.Open(path)
	if err != nil {
		return "", ""
	}
	var head [2]byte
	_, err = io.ReadFull(f, head[:])
	f.Close()
	if err != nil || string(head[:]) != "#!" {
		return "", "" // an executable, or unreadable: the recorder decides
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	c := exec.CommandContext(ctx, path, "-c", "import sys; print(sys.executable)")
	c.Stderr = &stderr
	out, err := c.Output()
	exe = strings.TrimSpace(string(out))
	asked := fmt.Sprintf("asked for the interpreter it runs (%s -c 'import sys; print(sys.executable)')", path)
	switch {
	case err != nil:
		// Its first lines: pyenv's second and third say which versions
		// have the command (QA: only the first was kept).
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		for i := range lines {
			lines[i] = strings.TrimSpace(lines[i])
		}
		said := strings.Join(slices.DeleteFunc(lines[:min(len(lines), 4)], func(l string) bool { return l == "" }), " ")
		if said == "" {
			return "", fmt.Sprintf("%s, it failed (%v)", asked, err)
		}
		return "", fmt.Sprintf("%s, it failed: %q", asked, said)
	case exe == "" || !filepath.IsAbs(exe):
		return "", fmt.Sprintf("%s, it printed %q, not a path", asked, exe)
	}
	if _, err := os.Stat(exe); err != nil {
		return "", fmt.Sprintf("%s, it named %s: %v", asked, exe, err)
	}
	return exe, ""
}
