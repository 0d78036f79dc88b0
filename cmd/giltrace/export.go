package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/giltrace/giltrace/compare"
	"github.com/giltrace/giltrace/tracer"
	"github.com/spf13/cobra"
)

// exportOptions are the arguments of giltrace export.
type exportOptions struct {
	File   string      // the .giltrace file
	Format string      // an output format's name
	Out    string      // the output file; "" is the format's file name next to the trace; "-" is stdout
	OTLP   otlpOptions // --format otlp: where and how to send the run
}

func newExportCmd() *cobra.Command { return exportCmd(runExport) }

// exportCmd builds the command around run, so that tests can check the
// parsed options.
func exportCmd(run func(*cobra.Command, *exportOptions) error) *cobra.Command {
	o := &exportOptions{}
	cmd := &cobra.Command{
		Use:   "export FILE.giltrace --format FORMAT [-o OUT]",
		Short: "Write a recorded run as a pprof profile, Chrome trace JSON or flame graph, or send it over OTLP",
		Long: "export reads a .giltrace file and writes it in one format (docs/outputs.md):\n\n" +
			formatHelp() + "\n" +
			"By default the output goes next to the trace under the format's file name\n" +
			"(the name giltrace record uses); -o names another file, -o - writes to stdout.\n" +
			"Beside a run's trace (DIR/run.giltrace) it joins the run's outputs, as record's:\n" +
			"a file of yours under that name is left as it is (export fails; with -o naming\n" +
			"that path it is replaced, as asked), and the next record into DIR removes the\n" +
			"output with the run's others. Beside any other trace the same: a file of yours\n" +
			"is left as it is; another trace beside a run's needs -o.\n\n" +
			"--format otlp sends the run as an OpenTelemetry trace to Jaeger or any OTLP\n" +
			"collector instead (--endpoint, --protocol, OTEL_EXPORTER_OTLP_*; docs/otel.md).",
		Args: usageArgs(exactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.File = runTraceArg(args[0])
			if o.Format == "" {
				return &usageError{fmt.Errorf("--format is required (formats: %s)", exportFormatNames())}
			}
			if o.Format != otlpFormat {
				if _, err := lookupOutput(o.Format); err != nil {
					return &usageError{fmt.Errorf("unknown format %q (formats: %s)%s", o.Format, exportFormatNames(), didYouMean("format", o.Format))}
				}
			}
			if err := checkExportOTLP(cmd, o); err != nil {
				return &usageError{err}
			}
			return run(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Format, "format", "f", "", "output `FORMAT`: "+exportFormatNames())
	f.StringVarP(&o.Out, "out", "o", "", "write to `FILE` (default: the format's file name next to the trace; - for stdout)")
	addOTLPFlags(f, &o.OTLP)
	return cmd
}

// formatHelp lists the formats with their file names, one a line, in
// columns as wide as their longest entry.
func formatHelp() string {
	wn, wf := 0, 0
	for _, o := range outputs() {
		wn, wf = max(wn, len(o.Name)), max(wf, len(o.File))
	}
	s := ""
	for _, o := range outputs() {
		s += fmt.Sprintf("  %-*s  %-*s  %s\n", wn, o.Name, wf, o.File, o.About)
	}
	return s
}

func runExport(cmd *cobra.Command, o *exportOptions) error {
	var out output
	if o.Format != otlpFormat {
		var err error
		if out, err = lookupOutput(o.Format); err != nil {
			return &usageError{err}
		}
	}
	if err := notTheInput(o.Out, o.File); err != nil {
		return err
	}
	t, err := readTrace(o.File, cmd.ErrOrStderr(), "exporting")
	if err != nil {
		return err
	}
	if err := checkHasEvents(t, o.File, "exporting", "export"); err != nil {
		return err
	}
	tracer.FreeForAnalysis(analysisRoom(len(t.Events))) // as report does
	s, err := deriveRun(cmd.Context(), t, true)
	if err != nil {
		return fmt.Errorf("exporting %s: %w", o.File, err)
	}
	if o.Format == otlpFormat {
		return sendOTLP(cmd.Context(), s.spans, s.warnings(), &o.OTLP, cmd.OutOrStdout())
	}
	if o.Format == "report" || o.Format == "report-json" {
		// A real program's report holds what would help, as record's
		// does: exporting it again gives record's file, not one without
		// the prediction (QA: report.txt lost "What would help").
		// A prediction that cannot be made is left out with a warning, as
		// record leaves it: the report is written without it (QA: the
		// model of a pool's trace cut off mid-write did not load, and
		// export of the report failed where report printed it).
		pred, _, err := predict(cmd.Context(), s, o.File, "", false)
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "giltrace: warning: predicting what would help: %v; exporting the report without it\n", err)
		} else if pred != nil {
			s.whatIf = func() *compare.Prediction { return pred }
		}
	}
	if o.Out == "-" {
		err := writeStream(cmd.Context(), cmd.OutOrStdout(), func(w io.Writer) error { return out.New(w, s).Export(cmd.Context(), s.spans) })
		if err != nil {
			return fmt.Errorf("exporting %s as %s to stdout: %w", o.File, o.Format, err)
		}
		return nil
	}
	path := o.Out
	beside := filepath.Join(filepath.Dir(o.File), out.File)
	if path == "" {
		// Beside any trace, as beside a run's: a file there that giltrace
		// did not write is left as it is (QA: `export notes/a.giltrace -f
		// report` replaced the user's notes/report.txt without a word).
		return exportIntoRun(cmd, o, out, s, beside, false)
	} else if isRunTrace(o.File) && samePath(path, beside) {
		// -o naming the default path: written, as asked, and listed with
		// the run's outputs (QA: the next record called it a file of the
		// user's, and kept another run's output beside its own).
		return exportIntoRun(cmd, o, out, s, path, true)
	}
	if err := writeOutputFile(cmd.Context(), out, s, path); err != nil {
		return fmt.Errorf("exporting %s as %s: writing %s: %w", o.File, o.Format, path, err)
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", path)
	stoppedAsWritten(cmd, path)
	return err
}

// stoppedAsWritten says, when a stopping signal came but the output was
// written whole (it came as the export ended), that it was: the command
// still exits as stopped (QA: exit status 143 and nothing said, the file
// replaced by the complete export).
func stoppedAsWritten(cmd *cobra.Command, path string) {
	if in := interruptsOf(cmd.Context()); in != nil && in.Signal() != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "giltrace: stopped%s as the export ended: %s is written whole\n", signalName(in.Signal()), path)
	}
}

// notTheInput is an error when out, an -o, is the file in itself (the
// same file, through a link or another name): writing it would replace
// the trace being read (QA: `export run.giltrace -f text -o
// run.giltrace` replaced a real program's only trace with its text).
func notTheInput(out, in string) error {
	if out == "" || out == "-" || !sameFile(out, in) {
		return nil
	}
	return &usageError{fmt.Errorf("-o %s is the trace being read (%s): writing it would replace the trace; name another file", out, in)}
}

// sameFile reports whether a and b are one existing file, through a link
// or another name (os.SameFile).
func sameFile(a, b string) bool {
	x, err1 := os.Stat(a)
	y, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(x, y)
}

// samePath reports whether a and b name the same path (made absolute and
// clean; links are not followed).
func samePath(a, b string) bool {
	x, err1 := filepath.Abs(a)
	y, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && x == y
}

// samePlace reports whether a and b are one file (sameFile) or, existing
// or not, one path (samePath).
func samePlace(a, b string) bool { return sameFile(a, b) || samePath(a, b) }

// isRunTrace reports whether path is a run's trace in its directory (record
// -o DIR's DIR/run.giltrace), beside the outputs listed in the directory's
// manifest.
func isRunTrace(path string) bool { return filepath.Base(path) == traceName }

// exportIntoRun writes an output beside its trace (export's default
// path) as record would: a file already there under the output's name
// that the directory's list does not hold is the user's, and is not
// replaced; the output written joins the list, so that the next record
// into the directory removes it with a run's other outputs (QA: export
// replaced a user's report.txt, and its trace.perfetto-trace outlived the
// run, and made the next record call it a file of the user's). The same
// beside any trace; and a trace beside a run's (DIR/run.giltrace) does
// not replace that run's outputs.
func exportIntoRun(cmd *cobra.Command, o *exportOptions, out output, s *run, path string, asked bool) error {
	dir := filepath.Dir(path)
	unlock, err := lockDir(dir)
	if err != nil {
		return fmt.Errorf("exporting %s as %s: %w", o.File, o.Format, err)
	}
	defer unlock()
	listed := readManifest(dir)
	if !asked && isLink(path) {
		return fmt.Errorf("exporting %s as %s: %s: a symbolic link (giltrace writes none), not written through: remove it, or name another file with -o", o.File, o.Format, path)
	}
	if !asked && !listed[out.File] && usersFile(path) {
		return fmt.Errorf("exporting %s as %s: %s: not written by giltrace (not listed in %s), left as it is: move it away, or name another file with -o", o.File, o.Format, path, manifestName)
	}
	if !asked && !isRunTrace(o.File) && usersFile(filepath.Join(dir, traceName)) {
		// Another trace beside a run's: the default names are the run's
		// outputs' (QA: `export other.giltrace -f folded` in a run's
		// directory replaced its flame.folded; refused only when the name
		// was listed, a second export of the same trace was then refused
		// as "the run's output", review).
		return fmt.Errorf("exporting %s as %s: %s is a run's directory (%s), whose outputs have the default names: name the file with -o", o.File, o.Format, dir, traceName)
	}
	if err := writeOutputFile(cmd.Context(), out, s, path); err != nil {
		return fmt.Errorf("exporting %s as %s: writing %s: %w", o.File, o.Format, path, err)
	}
	if !listed[out.File] {
		paths := []string{path}
		for rel := range listed {
			paths = append(paths, filepath.Join(dir, filepath.FromSlash(rel)))
		}
		slices.Sort(paths)
		if err := writeManifest(dir, paths); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "giltrace: warning: listing %s in %s: %v: the next record into %s will leave it\n", path, manifestName, err, dir)
		}
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", path)
	stoppedAsWritten(cmd, path)
	return err
}
