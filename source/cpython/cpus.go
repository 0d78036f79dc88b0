package cpython

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// maxCPU is the highest CPU number a list may name: unix.CPUSet's size.
const maxCPU = 1023

// ParseCPUs reads a list of CPUs as taskset -c and /sys's cpulist files
// write it: numbers and ranges separated by commas ("0", "0,2", "1-3");
// sorted, each once.
func ParseCPUs(list string) ([]int, error) {
	var out []int
	if strings.TrimSpace(list) == "" {
		return nil, fmt.Errorf("%q: expected CPU numbers, e.g. 0 or 0,2 or 0-3", list)
	}
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, errA := strconv.Atoi(lo)
		b := a
		var errB error
		if isRange {
			b, errB = strconv.Atoi(hi)
		}
		switch {
		case errA != nil || errB != nil || a < 0 || b < 0:
			return nil, fmt.Errorf("%q: %q is not a CPU number or a range of them (e.g. 0 or 2-3)", list, part)
		case b < a:
			return nil, fmt.Errorf("%q: the range %q ends before it begins", list, part)
		case b > maxCPU:
			return nil, fmt.Errorf("%q: CPU %d is past the last this machine could have (%d)", list, b, maxCPU)
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// FormatCPUs writes sorted CPUs as ParseCPUs reads them, ranges joined:
// "0-1,3".
func FormatCPUs(cpus []int) string {
	var b strings.Builder
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(cpus[i]))
		if j > i {
			fmt.Fprintf(&b, "-%d", cpus[j])
		}
		i = j + 1
	}
	return b.String()
}

// CheckCPUs says whether giltrace, and so the program it starts, may run
// on every CPU of cpus (its own affinity: a cgroup's cpuset, a taskset
// around giltrace).
func CheckCPUs(cpus []int) error {
	var own unix.CPUSet
	if err := unix.SchedGetaffinity(0, &own); err != nil {
		return fmt.Errorf("reading the CPUs giltrace may use: %w", err)
	}
	var may []int
	for c := 0; c <= maxCPU; c++ {
		if own.IsSet(c) {
			may = append(may, c)
		}
	}
	for _, c := range cpus {
		if !own.IsSet(c) {
			return fmt.Errorf("CPU %d is not one giltrace may run on (%s), nor then the program", c, FormatCPUs(may))
		}
	}
	return nil
}

// cpuSet is cpus as a unix.CPUSet.
func cpuSet(cpus []int) unix.CPUSet {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	return set
}

// pin sets the affinity of process pid (the program behind its gate, not
// yet running any code of its own: its threads and children inherit it)
// to cpus.
func pin(pid int, cpus []int) error {
	set := cpuSet(cpus)
	if err := unix.SchedSetaffinity(pid, &set); err != nil {
		return fmt.Errorf("running the program on CPUs %s (sched_setaffinity of process %d): %w", FormatCPUs(cpus), pid, err)
	}
	return nil
}

// keepOff moves giltrace's own threads off cpus, when it may run on other
// CPUs, so that reading the probes does not take the program's time on
// them (its threads made later inherit the affinity of the thread that
// makes them); the returned function moves them back. Best effort: a
// thread that cannot be moved stays where it is.
func keepOff(cpus []int) (restore func(), moved bool) {
	var own unix.CPUSet
	if unix.SchedGetaffinity(0, &own) != nil {
		return func() {}, false
	}
	rest := own
	for _, c := range cpus {
		rest.Clear(c)
	}
	if rest.Count() == 0 {
		return func() {}, false // every CPU giltrace may use is the program's
	}
	set := func(s unix.CPUSet) {
		// Twice: a thread made during the first pass, by one not yet
		// moved, is moved by the second.
		for range 2 {
			tasks, err := os.ReadDir("/proc/self/task")
			if err != nil {
				return
			}
			for _, t := range tasks {
				if tid, err := strconv.Atoi(t.Name()); err == nil {
					_ = unix.SchedSetaffinity(tid, &s)
				}
			}
		}
	}
	set(rest)
	return func() { set(own) }, true
}

// selfCPU is giltrace's own CPU time so far (user and system, all its
// threads).
func selfCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
