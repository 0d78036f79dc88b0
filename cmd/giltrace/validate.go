package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// validateOptions are the arguments of giltrace validate.
type validateOptions struct {
	File string // the .giltrace file
}

func newValidateCmd() *cobra.Command { return validateCmd(runValidate) }

// validateCmd builds the command around run, so that tests can check the
// parsed options.
func validateCmd(run func(*cobra.Command, *validateOptions) error) *cobra.Command {
	o := &validateOptions{}
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a .giltrace file and summarise it in one line",
		Long: "validate reads a .giltrace file, checks every record and every invariant of the\n" +
			"event protocol, and prints a one-line summary of a valid trace. For a damaged\n" +
			"or invalid file it prints where and what is wrong, and exits non-zero. For a\n" +
			"file cut off mid-write it summarises the complete part, warns, and exits non-zero.",
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.File = args[0]
			return run(cmd, o)
		},
	}
}

func runValidate(cmd *cobra.Command, o *validateOptions) error {
	t, err, fatal := readTraceFile(o.File, false)
	if fatal != nil {
		return fatal
	}
	status := "valid"
	if t.Truncated {
		status = "complete part valid"
	}
	if _, werr := fmt.Fprintf(cmd.OutOrStdout(), "%s: %s: %s\n", o.File, status, t.Summary()); werr != nil {
		return werr
	}
	return err
}
