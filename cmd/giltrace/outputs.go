package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/giltrace/giltrace/exporters/chrome"
	"github.com/giltrace/giltrace/exporters/flamegraph"
	"github.com/giltrace/giltrace/exporters/perfetto"
	"github.com/giltrace/giltrace/exporters/pprof"
	"github.com/giltrace/giltrace/tracer"
)

// output is a local output format: a file that giltrace record writes into
// its output directory and giltrace export writes for any recorded run.
type output struct {
	Name     string // the --format / --formats name
	File     string // the file name in a run's directory
	About    string // one line for help and docs/outputs.md
	New      func(w io.Writer, r *run) exporter
	Optional bool // written by record only when --formats names it
}

// outputs returns the local output formats, in the order they are written
// and listed.
func outputs() []output {
	return []output{
		{"pprof-wait", "gil-wait.pb.gz", "pprof GIL-wait profile: each wait charged to the waiting thread's stack",
			func(w io.Writer, r *run) exporter { return pprof.NewWait(w).WithWarnings(r.warnings()) }, false},
		{"pprof-blame", "gil-blame.pb.gz", "pprof blame profile: each wait charged to the stack of the thread holding the lock",
			func(w io.Writer, r *run) exporter { return pprof.NewBlame(w).WithWarnings(r.warnings()) }, false},
		{"pprof-wall", "wall.pb.gz", "pprof wall profile: every thread's time in every state",
			func(w io.Writer, r *run) exporter { return pprof.NewWall(w).WithWarnings(r.warnings()) }, false},
		// chrome: the Chrome trace-event JSON exporter (exporters/chrome).
		{"chrome", "trace.json", "Chrome trace-event JSON for ui.perfetto.dev and chrome://tracing",
			func(w io.Writer, r *run) exporter { return chrome.New(w).WithWarnings(r.warnings()) }, false},
		{"folded", "flame.folded", "folded stacks of wall time (thread;state;frames ns) for flamegraph.pl, inferno, speedscope",
			func(w io.Writer, _ *run) exporter { return flamegraph.NewFolded(w) }, false},
		{"flamegraph", "flame.html", "interactive HTML flame graph (wall, GIL wait, blame), self-contained",
			func(w io.Writer, r *run) exporter { return flamegraph.NewHTML(w).WithWarnings(r.warnings()) }, false},
		{"report", "report.txt", "the diagnosis, as giltrace report prints it, and for a real program what would help, as record prints it",
			func(w io.Writer, r *run) exporter { return reportOutput{w, r, false} }, false},
		{"report-json", "report.json", "the diagnosis as JSON, as giltrace report --json prints it, and for a real program what would help (what_if), as record --json prints it",
			func(w io.Writer, r *run) exporter { return reportOutput{w, r, true} }, false},
		{"perfetto", "trace.perfetto-trace", "Perfetto's native protobuf trace for ui.perfetto.dev, about a seventh of trace.json's size; record writes it instead of trace.json for runs over 1 M events",
			func(w io.Writer, r *run) exporter { return perfetto.New(w).WithWarnings(r.warnings()) }, true},
		{"text", "run.txt", "the trace's events in the tracer's text form, one a line (docs/trace-format.md); record writes it only when --formats names it",
			func(w io.Writer, _ *run) exporter { return textExporter{w} }, true},
	}
}

// textExporter writes a trace in the tracer's text form.
type textExporter struct{ w io.Writer }

func (e textExporter) Export(ctx context.Context, s *tracer.Spans) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return tracer.WriteText(e.w, s.Trace)
}

// bySize adapts the default formats (spec "" or "all") to the size of run
// r: past perfetto.LargeRun events, perfetto replaces chrome, with a note on
// stderr. Formats named explicitly are kept as they are.
func bySize(spec string, names []string, r *run, stderr io.Writer) []string {
	out := sizedNames(spec, names, len(r.trace.Events))
	if !slices.Equal(out, names) {
		fmt.Fprintf(stderr, "giltrace: note: %d events: writing trace.perfetto-trace (Perfetto's protobuf) instead of trace.json; `giltrace export --format chrome` writes the JSON anyway\n", len(r.trace.Events))
	}
	return out
}

// sizedNames is the formats bySize picks for a run of n events, without
// the note: the outputs a message says were not written (QA: trace.json
// named for a run whose output is trace.perfetto-trace).
func sizedNames(spec string, names []string, n int) []string {
	spec = strings.TrimSpace(spec)
	if n <= perfetto.LargeRun || (spec != "" && spec != "all") {
		return names
	}
	out := make([]string, 0, len(names))
	for _, name := range names {
		if name == "chrome" {
			name = "perfetto"
		}
		out = append(out, name)
	}
	return out
}

// outputNames lists the format names, comma-separated, for messages.
func outputNames() string {
	var names []string
	for _, o := range outputs() {
		names = append(names, o.Name)
	}
	return strings.Join(names, ", ")
}

// optionalNames lists the formats that all leaves out, for messages.
func optionalNames() string {
	var names []string
	for _, o := range outputs() {
		if o.Optional {
			names = append(names, o.Name)
		}
	}
	return strings.Join(names, " and ")
}

// lookupOutput returns the format named name.
func lookupOutput(name string) (output, error) {
	for _, o := range outputs() {
		if o.Name == name {
			return o, nil
		}
	}
	return output{}, fmt.Errorf("unknown format %q (formats: %s)%s", name, outputNames(), didYouMean("formats", name))
}

// parseFormats parses a --formats value: "" or "all", "none", or format
// names separated by commas. It returns the names in the registry's order,
// without repeats.
func parseFormats(s string) ([]string, error) {
	var names []string
	switch s = strings.TrimSpace(s); s {
	case "", "all":
		for _, o := range outputs() {
			if !o.Optional {
				names = append(names, o.Name)
			}
		}
		return names, nil
	case "none":
		return nil, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			return nil, fmt.Errorf("%q: an empty name in the list (a comma too many?); formats: %s", s, outputNames())
		}
		if n == "all" || n == "none" {
			return nil, fmt.Errorf("%q cannot be combined with other formats: give all (every format but %s) or none alone, or list the formats (formats: %s)", n, optionalNames(), outputNames())
		}
		if _, err := lookupOutput(n); err != nil {
			return nil, err
		}
		want[n] = true
	}
	for _, o := range outputs() {
		if want[o.Name] {
			names = append(names, o.Name)
		}
	}
	return names, nil
}

// longest are the formats that take longest to write, each a pass over
// every event with an output in proportion (trace.json: about half of
// record's work after the run): writeOutputs starts them first, so that
// the other outputs share the other cores meanwhile.
var longest = map[string]bool{"chrome": true, "perfetto": true, "text": true}

// memoryPerEvent and memoryBase make the soft memory limit of writing the
// outputs (issue 14: at most 100 bytes per event and 50 MB, the trace and
// its spans included): below the bound, so that the garbage collector
// works harder before the outputs' buffers and garbage push the process
// past it (docs/performance.md).
const (
	memoryBase     = 50 << 20
	memoryPerEvent = 90
)

// analysisRoom is how far Go's heap is grown, in fresh memory advised for
// huge pages, before the work after a run of n events
// (tracer.FreeForAnalysis): the soft limit's share per event, which counts
// the trace too, so more than the work after the run makes. Pages the work
// does not touch are never backed.
func analysisRoom(n int) int { return memoryPerEvent * n }

// boundMemory sets the soft memory limit for writing the outputs of a
// trace of n events, unless one was set (GOMEMLIMIT, or a caller's), and
// returns what restores the previous one. A soft limit never fails an
// allocation: past it the collector runs more often, within its CPU cap.
func boundMemory(n int) (restore func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	prev := debug.SetMemoryLimit(-1)
	if prev != math.MaxInt64 {
		return func() {}
	}
	debug.SetMemoryLimit(memoryBase + memoryPerEvent*int64(n))
	return func() { debug.SetMemoryLimit(prev) }
}

// beforeOutput (tests) runs as each output begins, on its goroutine.
var beforeOutput func(path string)

// writeOutputs writes every format in names for run r into dir, each to
// its file name (writeFile: atomically), and returns the paths written, in
// the order of names. The outputs are independent: up to GOMAXPROCS of
// them are written at once, the longest first, then in the order of names,
// and the run's diagnosis (which record prints after them) is made
// alongside. Failures do not stop the other formats: they are joined in
// the order of names, each naming its file. Once ctx is done no output
// starts, those cut short fail, and the error names the outputs not
// written.
func writeOutputs(ctx context.Context, dir string, r *run, names []string) ([]string, error) {
	type result struct {
		path        string // written
		err         error  // failed
		interrupted bool   // stopped by ctx, or never started once it was done
	}
	results := make([]result, len(names))
	var mu sync.Mutex
	finished := make([]bool, len(names)) // under mu: for a forced exit's message
	in := interruptsOf(ctx)
	// What the command said before (record: that the trace is saved, and
	// where) stays said; the outputs not written are this list's: those
	// not finished, and those interrupted or failed (QA: a signal while
	// the diagnosis ran, the outputs interrupted, printed "giltrace:
	// interrupted" alone).
	before := in.pendingNow()
	in.setPending(func() string {
		mu.Lock()
		defer mu.Unlock()
		var left []string
		for i, n := range names {
			if !finished[i] || results[i].path == "" {
				left = append(left, n)
			}
		}
		said := ""
		if before != nil {
			said, _, _ = strings.Cut(before(), "; outputs not written")
		}
		if left := notWritten(dir, left); left != "" {
			return strings.TrimPrefix(said+"; outputs not written: "+left, "; ")
		}
		return said
	})
	defer boundMemory(len(r.trace.Events))()
	if slices.Contains(names, "pprof-blame") {
		// The diagnosis's and the flame graph's WaitedSums then come
		// from the blame profile's sweep of the locks' timelines.
		pprof.PlanBlame(r.spans)
	}
	var next, started atomic.Int64 // the next output to take (in order); how many have started
	write := func(i int) {
		res := &results[i]
		defer func() {
			mu.Lock()
			finished[i] = true
			mu.Unlock()
		}()
		o, err := lookupOutput(names[i])
		if err != nil {
			res.err = err
			return
		}
		if ctx.Err() != nil {
			res.interrupted = true
			return
		}
		path := filepath.Join(dir, o.File)
		if beforeOutput != nil {
			beforeOutput(path)
		}
		r.progress.Phase("writing %s (%d of %d)", path, started.Add(1), len(names))
		begun := time.Now()
		defer func() {
			name := names[i]
			if res.path == "" {
				name += " not written" // interrupted or failed: see the error
			}
			r.timings.part(name, time.Since(begun))
		}()
		if err := writeOutputFile(ctx, o, r, path); err != nil {
			if ctx.Err() != nil {
				res.interrupted = true
			} else {
				res.err = fmt.Errorf("writing %s: %w", path, err)
			}
			return
		}
		res.path = path
		if r.written != nil {
			r.written(path)
		}
	}
	var order []int // indexes into names: the longest first
	for _, first := range []bool{true, false} {
		for i, n := range names {
			if longest[n] == first {
				order = append(order, i)
			}
		}
	}
	worker := func() {
		for k := int(next.Add(1)) - 1; k < len(order); k = int(next.Add(1)) - 1 {
			write(order[k])
		}
	}
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), len(names))
	for range workers - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker()
		}()
	}
	if workers > 1 && len(names) > 0 {
		begun := time.Now()
		r.diagnosis() // meanwhile, on this goroutine, before its share of the outputs
		r.timings.part("diagnosis", time.Since(begun))
	}
	worker()
	wg.Wait()

	var written, left []string
	var errs []error
	for i, res := range results {
		switch {
		case res.path != "":
			written = append(written, res.path)
		case res.interrupted:
			left = append(left, names[i])
		case res.err != nil:
			errs = append(errs, res.err)
		}
	}
	if len(left) > 0 {
		errs = append(errs, fmt.Errorf("interrupted: outputs not written: %s", notWritten(dir, left)))
	}
	return written, errors.Join(errs...)
}

// notWritten lists the files of the formats names in dir.
func notWritten(dir string, names []string) string {
	var paths []string
	for _, n := range names {
		if o, err := lookupOutput(n); err == nil {
			paths = append(paths, filepath.Join(dir, o.File))
		}
	}
	return strings.Join(paths, " ")
}

// writeOutputFile writes format o of run r to path with writeFile: a
// failure leaves whatever was at path as it was.
func writeOutputFile(ctx context.Context, o output, r *run, path string) error {
	return writeFile(ctx, path, func(w io.Writer) error { return o.New(w, r).Export(ctx, r.spans) })
}

// outputFiles lists the files of the formats, for help texts: those that
// all (the default) writes, then the optional ones, each with its format's
// name.
func outputFiles() string {
	var files, optional []string
	for _, o := range outputs() {
		if o.Optional {
			optional = append(optional, o.File+" ("+o.Name+")")
		} else {
			files = append(files, o.File)
		}
	}
	return "all, the default, writes " + strings.Join(files, ", ") + " (past 1 M events trace.perfetto-trace instead of trace.json); " +
		strings.Join(optional, " and ") + " only when named"
}
