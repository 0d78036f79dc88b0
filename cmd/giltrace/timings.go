package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// timings measures record's steps for --timings: the run, then each step
// after it, printed on stderr when the command ends. It is how the
// post-run time of issue 14 (record's work after the run against the
// time validate takes to read the trace) is measured on the commands
// themselves (docs/performance.md). A nil *timings measures nothing.
type timings struct {
	start, last time.Time
	cpu         int64 // processCPU at the last step's end; -1 unknown
	steps       []timedStep

	mu    sync.Mutex
	parts []timedStep // of the next step: what ran in it, on any core (part)
}

type timedStep struct {
	name  string
	d     time.Duration
	cpu   time.Duration // giltrace's CPU time in the step, all cores; < 0 unknown
	parts []timedStep
}

func newTimings(on bool) *timings {
	if !on {
		return nil
	}
	now := time.Now()
	return &timings{start: now, last: now, cpu: processCPU()}
}

// done ends the step called name, begun when the previous one ended.
func (t *timings) done(name string) {
	if t == nil {
		return
	}
	now, cpu := time.Now(), processCPU()
	t.mu.Lock()
	parts := t.parts
	t.parts = nil
	t.mu.Unlock()
	used := time.Duration(-1)
	if cpu >= 0 && t.cpu >= 0 {
		used = time.Duration(cpu - t.cpu)
	}
	t.steps = append(t.steps, timedStep{name, now.Sub(t.last), used, parts})
	t.last, t.cpu = now, cpu
}

// part notes that name, a piece of the step under way, took d: the
// outputs written at once on several cores, each with its own time.
// Safe for concurrent use.
func (t *timings) part(name string, d time.Duration) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.parts = append(t.parts, timedStep{name: name, d: d})
	t.mu.Unlock()
}

// write prints the steps: the first (the run) alone, then the time after
// it and each step of that time, in milliseconds, with the parts of a step
// in parentheses (each its own time: they ran at once), for example
//
//	giltrace: timings: run 512 ms (CPU 530 ms); after the run 601 ms (CPU 980 ms): saving the trace 41 ms, deriving the spans 130 ms, outputs 300 ms (diagnosis 80 ms, perfetto 180 ms, ...), ...
func (t *timings) write(w io.Writer) {
	if t == nil || len(t.steps) == 0 {
		return
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
	var after, afterCPU time.Duration
	var parts []string
	for _, s := range t.steps[1:] {
		after += s.d
		if afterCPU >= 0 && s.cpu >= 0 {
			afterCPU += s.cpu
		} else {
			afterCPU = -1
		}
		p := s.name + " " + ms(s.d)
		if len(s.parts) > 0 {
			var in []string
			for _, x := range s.parts {
				in = append(in, x.name+" "+ms(x.d))
			}
			p += " (" + strings.Join(in, ", ") + ")"
		}
		parts = append(parts, p)
	}
	// The CPU time beside the wall time of the run and of what follows
	// it: the issues' "per CPU second" figures (both cores counted).
	withCPU := func(d, cpu time.Duration) string {
		if cpu < 0 {
			return ms(d)
		}
		return ms(d) + " (CPU " + ms(cpu) + ")"
	}
	fmt.Fprintf(w, "giltrace: timings: %s %s; after the run %s", t.steps[0].name, withCPU(t.steps[0].d, t.steps[0].cpu), withCPU(after, afterCPU))
	if len(parts) > 0 {
		fmt.Fprintf(w, ": %s", strings.Join(parts, ", "))
	}
	fmt.Fprintln(w)
}
