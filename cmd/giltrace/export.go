package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/giltrace/giltrace/tracer"
	"github.com/spf13/cobra"
)

// exportOptions are the arguments of giltrace export.
type exportOptions struct {
	File   string // the .giltrace file
	Format string // an output format's name
	Out    string // the output file; "" is the format's file name next to the trace; "-" is stdout
}

func newExportCmd() *cobra.Command { return exportCmd(runExport) }

// exportCmd builds the command around run, so that tests can check the
// parsed options.
func exportCmd(run func(*cobra.Command, *exportOptions) error) *cobra.Command {
	o := &exportOptions{}
	cmd := &cobra.Command{
		Use:   "export FILE.giltrace --format FORMAT [-o OUT]",
		Short: "Write a recorded run as a pprof profile, Chrome trace JSON or flame graph",
		Long: "export reads a .giltrace file and writes it in one format (docs/outputs.md):\n\n" +
			formatHelp() + "\n" +
			"By default the output goes next to the trace under the format's file name\n" +
			"(the name giltrace record uses); -o names another file, -o - writes to stdout.",
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.File = args[0]
			if o.Format == "" {
				return &usageError{fmt.Errorf("--format is required (formats: %s)", outputNames())}
			}
			if _, err := lookupOutput(o.Format); err != nil {
				return &usageError{err}
			}
			return run(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Format, "format", "f", "", "output `FORMAT`: "+outputNames())
	f.StringVarP(&o.Out, "out", "o", "", "write to `FILE` (default: the format's file name next to the trace; - for stdout)")
	return cmd
}

// formatHelp lists the formats with their file names, one a line.
func formatHelp() string {
	s := ""
	for _, o := range outputs() {
		s += fmt.Sprintf("  %-12s %-16s %s\n", o.Name, o.File, o.About)
	}
	return s
}

func runExport(cmd *cobra.Command, o *exportOptions) error {
	out, err := lookupOutput(o.Format)
	if err != nil {
		return &usageError{err}
	}
	t, err := tracer.ReadFile(o.File)
	var te *tracer.TruncatedError
	if err != nil && !(errors.As(err, &te) && t != nil) {
		return err
	}
	if err != nil {
		// A file cut off mid-write: export its complete part, and say so.
		fmt.Fprintf(cmd.ErrOrStderr(), "giltrace: warning: %v; exporting the complete part\n", err)
	}
	s := tracer.Derive(t)
	if o.Out == "-" {
		return exportTo(cmd.Context(), out, s, cmd.OutOrStdout())
	}
	path := o.Out
	if path == "" {
		path = filepath.Join(filepath.Dir(o.File), out.File)
	}
	if err := writeOutputFile(cmd.Context(), out, s, path); err != nil {
		return fmt.Errorf("exporting %s as %s: writing %s: %w", o.File, o.Format, path, err)
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", path)
	return err
}
