package cpython

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

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
	// When a standard stream is not a file, it is copied through a pipe
	// that a child the program leaves running holds open: the program's
	// exit is not held up by it for more than this (orphanWait follows
	// such children).
	cmd.WaitDelay = 100 * time.Millisecond
	cmd.ExtraFiles = []*os.File{rp}
	if err := cmd.Start(); err != nil {
		rp.Close()
		wp.Close()
		return nil, nil, fmt.Errorf("starting %s: %w", strings.Join(s.argv, " "), err)
	}
	rp.Close()
	return cmd, wp, nil
}

// stopGrace is StopGrace or its default.
func (o *Options) stopGrace() time.Duration {
	if o.StopGrace <= 0 {
		return DefaultStopGrace
	}
	return o.StopGrace
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
			if !processAlive(pid) {
				close(exited)
				return
			}
		}
	}
}

// processAlive reports whether process pid exists and has not exited (a
// zombie has).
func processAlive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if f := statFields(string(b)); len(f) > 0 && f[0] == "Z" {
			return false
		}
	}
	return true
}

// descendantOf reports whether process pid descends from process
// ancestor, by their parents in /proc (at most 64 generations).
func descendantOf(pid, ancestor int) bool {
	for range 64 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		pp, ok := statParent(b)
		if !ok || pp <= 1 {
			return false
		}
		if pp == ancestor {
			return true
		}
		pid = pp
	}
	return false
}

// statFields are the fields of a /proc/PID/stat line after the command,
// which is in parentheses and may hold spaces and parentheses: the state
// (stat's third field) first; nil if it has no command.
func statFields(stat string) []string {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(stat[i+1:])
}

// statParent is the parent process ID in b, a /proc/PID/stat: the second
// field after the command.
func statParent(b []byte) (int, bool) {
	f := statFields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
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
		pp, ok := statParent(b)
		if !ok {
			continue
		}
		p, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
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
