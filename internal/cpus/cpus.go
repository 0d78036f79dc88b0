// Package cpus says how many CPUs a process can use at once: the CPUs its
// affinity allows (runtime.NumCPU for giltrace itself, which a program
// that record starts inherits), bounded by the CPU bandwidth limit of its
// cgroup, rounded up (a container's --cpus: a process in a container
// limited to 2 CPUs on a 64-CPU host has 64 CPUs in its affinity and the
// time of 2). A trace's cores (tracer.Meta.Cores) are this count: what a
// model of the run replays on, and what the diagnosis's estimates assume.
package cpus

import (
	"fmt"
	"math"
	"os"
	"path"
	"runtime"
	"strconv"
	"strings"
)

// Usable is how many CPUs this process can use at once.
func Usable() int {
	return bound(runtime.NumCPU(), limit("/proc", "/sys/fs/cgroup", "self"))
}

// Of is how many CPUs the process pid can use at once, given the CPUs of
// its affinity (0 if unknown: then runtime.NumCPU).
func Of(pid, affinity int) int {
	if affinity <= 0 {
		affinity = runtime.NumCPU()
	}
	return bound(affinity, limit("/proc", "/sys/fs/cgroup", strconv.Itoa(pid)))
}

// bound is n CPUs within a bandwidth limit of lim CPUs (0: none), rounded
// up, at least one.
func bound(n int, lim float64) int {
	if lim > 0 && lim < float64(n) {
		n = int(math.Ceil(lim - 1e-9))
	}
	return max(n, 1)
}

// limit is the CPU bandwidth limit, in CPUs, of the cgroup of the process
// named pid under procRoot (a PID, or "self"), with cgroups mounted at
// cgRoot: the least of the limits of the cgroup and its ancestors; 0 if
// none is set or none can be read. cgroup v2 (cpu.max: "QUOTA PERIOD" or
// "max PERIOD", the unified hierarchy at cgRoot or, hybrid, at
// cgRoot/unified) and v1 (the cpu controller's cpu.cfs_quota_us and
// cpu.cfs_period_us, -1: none).
func limit(procRoot, cgRoot, pid string) float64 {
	b, err := os.ReadFile(path.Join(procRoot, pid, "cgroup"))
	if err != nil {
		return 0
	}
	least := 0.0
	note := func(l float64) {
		if l > 0 && (least == 0 || l < least) {
			least = l
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		// hierarchy-ID:controller-list:cgroup-path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		ctrls, p := parts[1], path.Clean("/"+parts[2])
		switch {
		case parts[0] == "0" && ctrls == "":
			for _, base := range []string{cgRoot, path.Join(cgRoot, "unified")} {
				eachAncestor(p, func(dir string) { note(v2Limit(path.Join(base, dir, "cpu.max"))) })
			}
		case hasController(ctrls, "cpu"):
			for _, base := range []string{path.Join(cgRoot, ctrls), path.Join(cgRoot, "cpu")} {
				eachAncestor(p, func(dir string) { note(v1Limit(path.Join(base, dir))) })
			}
		}
	}
	return least
}

// eachAncestor calls f with p and each of its ancestors up to "/".
func eachAncestor(p string, f func(string)) {
	for {
		f(p)
		if p == "/" {
			return
		}
		p = path.Dir(p)
	}
}

// hasController reports whether the comma-separated list holds c.
func hasController(list, c string) bool {
	for _, x := range strings.Split(list, ",") {
		if x == c {
			return true
		}
	}
	return false
}

// v2Limit reads a cgroup v2 cpu.max: its quota over its period, 0 for
// none ("max") or when it cannot be read.
func v2Limit(file string) float64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	var q, p string
	if n, _ := fmt.Sscan(string(b), &q, &p); n != 2 || q == "max" {
		return 0
	}
	return ratio(q, p)
}

// v1Limit reads a cgroup v1 cpu controller's directory: cfs_quota_us over
// cfs_period_us, 0 for none (-1) or when they cannot be read.
func v1Limit(dir string) float64 {
	q, err1 := os.ReadFile(path.Join(dir, "cpu.cfs_quota_us"))
	p, err2 := os.ReadFile(path.Join(dir, "cpu.cfs_period_us"))
	if err1 != nil || err2 != nil {
		return 0
	}
	return ratio(strings.TrimSpace(string(q)), strings.TrimSpace(string(p)))
}

// ratio is quota over period, 0 unless both are positive integers.
func ratio(quota, period string) float64 {
	q, err1 := strconv.ParseInt(quota, 10, 64)
	p, err2 := strconv.ParseInt(period, 10, 64)
	if err1 != nil || err2 != nil || q <= 0 || p <= 0 {
		return 0
	}
	return float64(q) / float64(p)
}
