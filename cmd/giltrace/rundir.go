package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/giltrace/giltrace/compare"
	"github.com/giltrace/giltrace/internal/cpus"
	"github.com/giltrace/giltrace/internal/textfmt"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

// One run per directory. record streams the trace into DIR/run.giltrace.partial
// while the run goes (a crash leaves it there, readable as a truncated
// trace, beside the previous run's files, which are untouched). When the
// trace is complete, it is renamed to run.giltrace; then, if a previous
// run's trace was there, that run's outputs (the files its record listed
// in DIR/.giltrace-outputs as written, and giltrace's files in its
// subdirectories whatif/ and compare/, which go once empty) are removed,
// and the new outputs are written and listed: the directory never holds
// files of two runs under giltrace's names (if a removal fails, record
// warns that it does). A file record did not write is never removed, even
// under an output's name: a directory without a run's trace holds no run,
// and a user's file beside a run is not in its list; nor is it replaced:
// an output whose name a file already has is not written, and record says
// so (outputsToWrite). A failure to put the new trace in
// place leaves the previous run whole and the new trace in partial.

// traceName and partialName are the names of a run's trace in its
// directory, complete and while it is recorded.
const (
	traceName   = "run.giltrace"
	partialName = "run.giltrace.partial"
)

// manifestName is the list of the outputs record wrote beside the run's
// trace, one path relative to the directory a line: the files the next
// record into the directory removes (clearRun).
const manifestName = ".giltrace-outputs"

// missingDirs lists dir and those of its parents that do not exist, the
// deepest first: what os.MkdirAll(dir) is about to make.
func missingDirs(dir string) []string {
	var made []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); !os.IsNotExist(err) {
			break
		}
		made = append(made, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	return made
}

// removeEmptyDirs removes, deepest first, the directories of made
// (missingDirs before they were made) while they are empty: a command that
// wrote nothing leaves nothing behind. One that holds anything stays, and
// so do its parents.
func removeEmptyDirs(made []string) {
	for _, d := range made {
		if fi, err := os.Lstat(d); err != nil || !fi.IsDir() {
			return // not made (MkdirAll failed), or replaced since
		}
		if os.Remove(d) != nil { // a directory is removed only when empty
			return
		}
	}
}

// writeManifest lists the outputs paths (in dir or below it) in dir's
// manifest. A manifest that is not a regular file (a link) is the user's:
// it is not written through, and the outputs stay unlisted.
func writeManifest(dir string, paths []string) error {
	if fi, err := os.Lstat(filepath.Join(dir, manifestName)); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file: left alone", filepath.Join(dir, manifestName))
	}
	var b strings.Builder
	b.WriteString("# giltrace: the outputs record and export wrote in this directory; the next record into it removes them\n")
	for _, p := range paths {
		rel, err := filepath.Rel(dir, p)
		if err != nil || !filepath.IsLocal(rel) {
			continue
		}
		b.WriteString(filepath.ToSlash(rel))
		b.WriteByte('\n')
	}
	return writeFile(context.Background(), filepath.Join(dir, manifestName), func(w io.Writer) error {
		_, err := io.WriteString(w, b.String())
		return err
	})
}

// readManifest returns the outputs dir's manifest lists (paths relative to
// dir, slash-separated), none if it has none.
func readManifest(dir string) map[string]bool { return readListing(filepath.Join(dir, manifestName)) }

// readListing reads a listing of paths, one a line, "#" lines left out: a
// manifest. It is empty unless p is a regular file of at most 1 MiB.
func readListing(p string) map[string]bool {
	if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() || fi.Size() > 1<<20 {
		return nil
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			listed[line] = true
		}
	}
	return listed
}

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
		Cores: cpus.Usable(), GOMAXPROCS: runtime.GOMAXPROCS(0),
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
			if !st.Complete() {
				return "", fmt.Errorf("%w (the streamed run is in %s)", err, partial)
			}
			// The rewrite needs room for a second copy: the stream, whole,
			// takes its place (QA: a full disk discarded a complete trace).
			fmt.Fprintf(stderr, "giltrace: warning: %v: the streamed trace, which holds the whole run, is kept instead (the same events; its bytes differ from another record of the same run)\n", err)
		}
	}
	if serr != nil {
		if err := tracer.WriteFile(partial, t); err != nil {
			return "", fmt.Errorf("%w; then %w (%s)", serr, err, partialHolds(partial, t.Meta.Extra["clock"] == "virtual"))
		}
	}
	// The new trace takes its place first; only then, and only if a run
	// was there (its trace: giltrace's names alone may be the user's
	// files), are the previous run's outputs cleared. A failure before
	// leaves the previous run whole and the new one in partial.
	path := filepath.Join(dir, traceName)
	fi, lerr := os.Lstat(path)
	previous := lerr == nil
	_, terr := os.Stat(path)
	replaced := terr == nil // not a dangling link (QA: "replaced the previous run" of none)
	if previous && !fi.Mode().IsRegular() {
		// A link (or a device) the user put there: written through, as
		// every output is (writeFile), never replaced.
		if err := copyInto(path, partial); err != nil {
			return "", fmt.Errorf("%w (the run is in %s)", err, partial)
		}
		if err := os.Remove(partial); err != nil {
			return "", err
		}
	} else {
		if err := os.Rename(partial, path); err != nil {
			return "", fmt.Errorf("%w (the run is in %s)", err, partial)
		}
		syncDir(dir)
	}
	if !previous {
		return path, nil
	}
	if _, err := clearRun(dir); err != nil {
		fmt.Fprintf(stderr, "giltrace: warning: %v: %s holds files of the previous run beside this one's\n", err, dir)
	}
	if replaced {
		fmt.Fprintf(stderr, "giltrace: replaced the previous run in %s\n", dir)
	}
	return path, nil
}

// partialHolds says, for the error of a run whose trace could not be
// written, what of the run its streamed file partial holds: the run's
// prefix (a truncated trace of its complete events), or that it holds none.
// A virtual-time run is computed faster than the stream's flushes, which
// come every 250 ms of real time: a disk that fills during it may leave
// the file with its header and tables and no event; it is the same on
// every run (virtual), so recording it again gives it whole.
func partialHolds(partial string, virtual bool) string {
	again := ""
	if virtual {
		again = "; a virtual-time run is the same bytes every time: record it again where the disk has room"
	}
	if fi, err := os.Lstat(partial); err == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
		// This run's own file, with nothing in it: not left behind for
		// the report's trace line to point at (QA).
		os.Remove(partial)
		return fmt.Sprintf("nothing of the run reached the disk: its empty %s was removed%s", partial, again)
	}
	t, _ := tracer.ReadFile(partial)
	if t != nil && len(t.Events) == 0 {
		// Its header and tables, no event: this run's own file, of no
		// use, and taking the room of the full disk (QA: 3 MB left).
		if err := os.Remove(partial); err == nil {
			return fmt.Sprintf("no complete event of the run reached the disk: its %s, which held none, was removed%s", partial, again)
		}
	}
	if t == nil || len(t.Events) == 0 {
		return fmt.Sprintf("%s holds no complete event of the run%s", partial, again)
	}
	return fmt.Sprintf("the run's prefix, %s, is in %s%s", textfmt.Plural(len(t.Events), "event"), partial, again)
}

// runSubdirs are the subdirectories giltrace writes into a run's
// directory: whatif/ (record's prediction for a real program, and compare
// RUN.giltrace's default) and compare/ (where compare -o DIR/compare puts
// a workload's comparison, as docs/tutorial.md shows). Either may hold
// any compare's files (compare -o puts either anywhere): what tells
// giltrace's from the user's is the listing (clearSubdir).
var runSubdirs = []string{"whatif", "compare"}

// variantTrace matches the file name of a comparison's trace of a variant
// (compare.Variant.Name): threads-4.giltrace, processes-2-si1ms.giltrace.
var variantTrace = regexp.MustCompile(`^(threads|processes|free-threaded)-[0-9]+(-si[0-9a-zµμ.]+)?\.giltrace$`)

// isCompareOutput reports whether file is a name any giltrace compare
// writes: a comparison's (isCompareFile) or a prediction's.
func isCompareOutput(file string) bool {
	return isCompareFile(file) || slices.Contains(compare.PredictionFiles, file)
}

// isCompareFile reports whether file is a name giltrace compare writes: a
// chart or a variant's trace.
func isCompareFile(file string) bool {
	return slices.Contains(compare.ChartFiles, file) || variantTrace.MatchString(file)
}

// clearSubdir removes the regular files of dir/sub that have the names
// compare writes (isCompareOutput) and that giltrace listed as written there
// (comparesFiles), then the listing, then dir/sub if that left it empty,
// and returns how many files it removed. Anything else (the user's files,
// those of an older giltrace that listed nothing, links, other
// directories) is left, and so is the directory that holds them.
func clearSubdir(dir, sub string) (int, error) {
	d := filepath.Join(dir, sub)
	if fi, err := os.Lstat(d); err != nil || !fi.IsDir() {
		return 0, nil // absent, or a link or a file of the user's: left alone
	}
	entries, err := os.ReadDir(d)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	listed := comparesFiles(d) // what giltrace listed as written there: a file of one of its names may be the user's
	for _, e := range entries {
		// Any compare's name, in either directory (review: a
		// prediction's files in compare/ were left, unlisted once the
		// list went, and the next compare refused them).
		if !e.Type().IsRegular() || !listed[e.Name()] || !isCompareOutput(e.Name()) {
			continue
		}
		if err := os.Remove(filepath.Join(d, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if m := filepath.Join(d, compareManifest); len(errs) == 0 && usersFile(m) {
		left := false
		for name := range readListing(m) {
			left = left || usersFile(filepath.Join(d, name))
		}
		if !left {
			os.Remove(m) // what it listed is gone
		}
	}
	os.Remove(d) // fails, as it should, unless empty
	return n, errors.Join(errs...)
}

// clearRun removes the outputs of a previous run in dir (regular files
// with giltrace's output names that its manifest lists, not the trace,
// which is renamed over, and giltrace's files in its subdirectories
// whatif/ and compare/: see runSubdirs), then the manifest, and returns
// how many files it removed, counting the trace.
func clearRun(dir string) (int, error) {
	n := 0
	var errs []error
	for _, sd := range runSubdirs {
		k, err := clearSubdir(dir, sd)
		n += k
		if err != nil {
			errs = append(errs, err)
		}
	}
	listed := readManifest(dir)
	var unlisted []string
	for _, name := range runFiles() {
		p := filepath.Join(dir, name)
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue // absent, or not giltrace's (a link, a device): left alone
		}
		if name == traceName {
			n++
			continue
		}
		if !listed[name] {
			if listed == nil {
				unlisted = append(unlisted, name)
			}
			continue // not written by the previous run: the user's
		}
		n++
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if listed != nil {
		if err := os.Remove(filepath.Join(dir, manifestName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	} else if len(unlisted) > 0 {
		// A run recorded before the list existed (or whose record was
		// killed before writing it): its outputs cannot be told from the
		// user's files, and are left.
		// Also a run that wrote none (--formats none: QA, told it was
		// an older giltrace's).
		which := "which may be its outputs or your files, were left"
		if len(unlisted) == 1 {
			which = "which may be its output or your file, was left"
		}
		errs = append(errs, fmt.Errorf("the previous run did not list its outputs (%s is missing: it wrote none, with --formats none, or was recorded by an older giltrace, or stopped before it was written), so %s, %s", manifestName, strings.Join(unlisted, ", "), which))
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("removing the previous run's outputs: %w", err)
	}
	return n, nil
}

// outputsToWrite is, of the formats names, those whose file in dir record
// may write, and an error naming the others: a regular file already there
// under an output's name, once the previous run's listed outputs are
// cleared (clearRun), is not giltrace's (a file of the user's, or of a
// run that did not list its outputs), and record does not replace it
// (QA: a user's report.txt was replaced by the report, beside a warning
// that it had been left); nor is a link written through (usersEntry).
func outputsToWrite(dir string, names []string) ([]string, error) {
	var keep, theirs []string
	for _, n := range names {
		o, err := lookupOutput(n)
		if err != nil {
			keep = append(keep, n) // writeOutputs reports it
			continue
		}
		p := filepath.Join(dir, o.File)
		if usersEntry(p) {
			theirs = append(theirs, p)
			continue
		}
		keep = append(keep, n)
	}
	return keep, leftAsTheyAre(theirs)
}

// usersFile reports whether a regular file is at path p of a run's
// directory after the previous run's listed files were cleared (clearRun):
// the user's, which record leaves as it is.
func usersFile(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

// usersEntry reports whether a file of the user's is at path p, an
// output's name in a run's directory: a regular file that giltrace did not
// list (usersFile), or a symbolic link, which giltrace never makes (QA: a
// link named report.txt, made by the user in a fresh directory, was
// written through and its target replaced; a dangling one made a file
// outside the directory). The run's trace, a link, is written through
// (saveTrace): that one is asked for.
func usersEntry(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && (fi.Mode().IsRegular() || fi.Mode()&fs.ModeSymlink != 0)
}

// isLink reports whether a symbolic link is at path p.
func isLink(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode()&fs.ModeSymlink != 0
}

// notATrace is, for a regular file at path p (or a link's target), the
// start of its content when that is not a trace's (neither the binary
// form's magic nor the text form's first word), "" otherwise or when p is
// not a regular file.
func notATrace(p string) string {
	fi, err := os.Stat(p) // through a link: its target is what would be replaced (QA)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		return ""
	}
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	b := make([]byte, 16)
	n, _ := io.ReadFull(f, b)
	b = b[:n]
	if strings.HasPrefix(string(b), tracer.Magic) || strings.HasPrefix(string(b), "giltrace-text") || strings.HasPrefix(tracer.Magic, string(b)) {
		return ""
	}
	return string(b)
}

// leftAsTheyAre is the error naming the user's files that record left in
// place of its outputs, nil for none.
func leftAsTheyAre(theirs []string) error {
	var files, links []string
	for _, p := range theirs {
		if isLink(p) {
			links = append(links, p)
		} else {
			files = append(files, p)
		}
	}
	var errs []error
	if len(files) > 0 {
		errs = append(errs, fmt.Errorf("%s: not written by giltrace (not listed in %s), left as it is, and its output not written: move it away, or record into another directory", strings.Join(files, ", "), manifestName))
	}
	if len(links) > 0 {
		// QA, review: called "not listed", where it may have been.
		errs = append(errs, fmt.Errorf("%s: a symbolic link (giltrace writes none), not written through, and its output not written: remove the link, or record into another directory", strings.Join(links, ", ")))
	}
	return errors.Join(errs...)
}

// keepPartial moves aside the streamed trace an earlier run left in dir
// (run.giltrace.partial: killed, or stopped by a full disk), the only copy
// of what it recorded, before a new run streams into that name: to
// run.giltrace.partial.N, the first N free. It returns the new path, ""
// when there was none (or an empty one, which it replaces). QA: the next
// record truncated it without a word.
//
// Anything there but a regular file (a link, a directory) is refused: the
// stream would write through a link into its target, and record rename
// the link as the run's trace (QA: a user's link named
// run.giltrace.partial had its target replaced by the trace).
func keepPartial(dir string) (string, error) {
	p := filepath.Join(dir, partialName)
	fi, err := os.Lstat(p)
	if err == nil && !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file (%s): record streams the run's trace into that name; move it away, or record into another directory", p, tracer.FileKind(fi.Mode()))
	}
	if err != nil || fi.Size() == 0 {
		return "", nil
	}
	for n := 1; n < 1000; n++ {
		to := fmt.Sprintf("%s.%d", p, n)
		if _, err := os.Lstat(to); err == nil {
			continue
		}
		if err := os.Rename(p, to); err != nil {
			return "", fmt.Errorf("keeping the earlier run's %s: %w", p, err)
		}
		return to, nil
	}
	return "", fmt.Errorf("%s: the trace of an earlier run that did not finish, and %s.1 to .999 are taken: move them away", p, p)
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
