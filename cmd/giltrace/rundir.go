package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

// One run per directory. record streams the trace into DIR/run.giltrace.partial
// while the run goes (a crash leaves it there, readable as a truncated
// trace, beside the previous run's files, which are untouched). When the
// trace is complete, the previous run's outputs (the files with giltrace's
// output names: run.giltrace and every output's file) are removed and the
// new trace renamed to run.giltrace, then the new outputs are written: the
// directory never holds files of two runs under giltrace's names.

// traceName and partialName are the names of a run's trace in its
// directory, complete and while it is recorded.
const (
	traceName   = "run.giltrace"
	partialName = "run.giltrace.partial"
)

// runFiles are the names of the files of a run in its directory.
func runFiles() []string {
	names := []string{traceName}
	for _, o := range outputs() {
		names = append(names, o.File)
	}
	return names
}

// startMeta is what is known of a run before it starts: a cut-off trace
// has it (the source's metadata replaces it when the run ends). Its Start
// is when record began, up to the VM's calibration (a fraction of a
// second) before the events' time 0; its extra key "provisional" says so.
func startMeta(w *workload.Workload, o *recordOptions) tracer.Meta {
	m := tracer.Meta{
		Workload: w.Name, WorkloadFile: w.File, WorkloadSource: string(w.Source),
		GILMode: w.GIL.Mode, SwitchInterval: w.GIL.SwitchInterval, CheckInterval: w.GIL.CheckInterval,
		Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		Start: time.Now().UTC(), Version: giltraceVersion(),
		Extra: map[string]string{"provisional": "true"},
	}
	if o.Mode != "" {
		m.GILMode = tracer.GILMode(o.Mode)
	}
	if o.SwitchInterval > 0 {
		m.SwitchInterval = o.SwitchInterval
	}
	return m
}

// saveTrace makes the run's trace DIR/run.giltrace and clears the previous
// run's outputs (see above). f is the streamed file at partial; if the
// stream failed (a full disk), the whole trace t is written instead, and so
// it is when canonical is set (a simulated run, whose file must be the same
// bytes every time, which the stream's timing does not give). On failure
// the partial file is left: it holds the run's prefix.
func saveTrace(dir string, f *os.File, st *tracer.Stream, t *tracer.Trace, stderr io.Writer, canonical bool) (string, error) {
	partial := f.Name()
	serr := st.Err()
	if cerr := f.Close(); serr == nil {
		serr = cerr
	}
	if canonical && serr == nil {
		if err := tracer.WriteFile(partial, t); err != nil {
			return "", fmt.Errorf("%w (the streamed run is in %s)", err, partial)
		}
	}
	if serr != nil {
		if err := tracer.WriteFile(partial, t); err != nil {
			return "", fmt.Errorf("%w; then %w (the run's prefix is in %s)", serr, err, partial)
		}
	}
	removed, err := clearRun(dir)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, traceName)
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		// A link (or a device) the user put there: written through, as
		// every output is (writeFile), never replaced.
		if err := copyInto(path, partial); err != nil {
			return "", err
		}
		return path, os.Remove(partial)
	}
	if err := os.Rename(partial, path); err != nil {
		return "", err
	}
	syncDir(dir)
	if removed > 0 {
		fmt.Fprintf(stderr, "giltrace: replaced the previous run in %s\n", dir)
	}
	return path, nil
}

// clearRun removes the outputs of a previous run in dir (regular files
// with giltrace's output names, not the trace, which is renamed over) and
// returns how many it removed, counting the trace.
func clearRun(dir string) (int, error) {
	n := 0
	var errs []error
	for _, name := range runFiles() {
		p := filepath.Join(dir, name)
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue // absent, or not giltrace's (a link, a device): left alone
		}
		n++
		if name == traceName {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("removing the previous run's outputs: %w", err)
	}
	return n, nil
}

// syncDir makes a rename in dir durable, where the system allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// copyInto writes the file src to path with writeFile.
func copyInto(path, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return writeFile(context.Background(), path, func(w io.Writer) error {
		_, err := io.Copy(w, f)
		return err
	})
}
