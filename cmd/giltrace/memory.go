package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// bytesPerEvent is what one recorded event costs at record's peak, over
// the run and its analysis: 32 bytes in the recorder's buffers and as many
// in the merged trace during the run; the trace, the spans and the
// outputs' work after it (docs/performance.md: 218-220 MB for 1.92 M
// events with every output, 50 MB of it the program's own).
const bytesPerEvent = 128

// memoryReserve is the memory kept out of the events' share: the
// program, the outputs' fixed costs.
const memoryReserve = 64 << 20

// memAvailable is the memory this process may still take, in bytes, and
// where that figure comes from; 0 when unknown. A variable for tests.
var memAvailable = readMemAvailable

// readMemAvailable is the least of the kernel's MemAvailable and, for each
// cgroup (v2) from this process's up to the root that sets memory.max,
// that limit less the cgroup's memory.current without its inactive page
// cache: a container's limit, which the machine's free memory does not
// show. cgroup v1 is not read.
func readMemAvailable() (int64, string) {
	return memAvailableUnder("/proc/meminfo", "/proc/self/cgroup", "/sys/fs/cgroup")
}

// memAvailableUnder is readMemAvailable reading the files named (tests).
func memAvailableUnder(meminfo, selfCgroup, cgroupRoot string) (int64, string) {
	avail, from := int64(0), ""
	if f, err := os.Open(meminfo); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
				if kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64); err == nil {
					avail, from = kb<<10, "MemAvailable"
				}
			}
		}
		f.Close()
	}
	b, err := os.ReadFile(selfCgroup)
	if err != nil {
		return avail, from
	}
	for _, line := range strings.Split(string(b), "\n") {
		rel, ok := strings.CutPrefix(line, "0::")
		if !ok {
			continue
		}
		for dir := filepath.Join(cgroupRoot, rel); strings.HasPrefix(dir, cgroupRoot); dir = filepath.Dir(dir) {
			limit, lerr := readCgroupValue(filepath.Join(dir, "memory.max"))
			used, uerr := readCgroupValue(filepath.Join(dir, "memory.current"))
			if lerr == nil && uerr == nil && limit > 0 {
				// memory.current counts the page cache, which the kernel
				// reclaims before it kills anything: a long-lived
				// container sits near its limit (review). Its inactive
				// file pages are taken out, as container runtimes count
				// a working set.
				used -= cgroupStat(filepath.Join(dir, "memory.stat"), "inactive_file")
				if left := max(limit-used, 0); avail == 0 || left < avail {
					avail, from = left, "the memory limit of cgroup "+strings.TrimPrefix(dir, cgroupRoot)
				}
			}
			if dir == cgroupRoot {
				break
			}
		}
	}
	return avail, from
}

// cgroupStat is the value of key in a cgroup's memory.stat, 0 if none.
func cgroupStat(path, key string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// readCgroupValue reads a cgroup file holding a number; "max" is 0.
func readCgroupValue(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

// fitEvents is the recorder's bound of events lowered to what the memory
// available holds (bytesPerEvent each, past memoryReserve), and a note
// saying so; bound itself and "" when it fits or the memory is unknown.
// Never below minFitEvents: a machine that short of memory fails on its
// own terms.
func fitEvents(bound int) (int, string) {
	avail, from := memAvailable()
	if avail <= 0 {
		return bound, ""
	}
	fit := max(int((avail-memoryReserve)/bytesPerEvent), minFitEvents)
	if fit >= bound {
		return bound, ""
	}
	return fit, fmt.Sprintf("giltrace: note: %d MB of memory available here (%s): the recorder keeps at most %d events (about %d bytes each over the run and its outputs), not %d; a run past them is cut there, with a warning\n",
		avail>>20, from, fit, bytesPerEvent, bound)
}

// minFitEvents is the least bound fitEvents sets: 1 Mi events.
const minFitEvents = 1 << 20
