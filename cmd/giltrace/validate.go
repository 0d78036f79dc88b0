package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// validateOptions are the arguments of giltrace validate.
type validateOptions struct {
	Files []string // the .giltrace files
}

func newValidateCmd() *cobra.Command { return validateCmd(runValidate) }

// validateCmd builds the command around run, so that tests can check the
// parsed options.
func validateCmd(run func(*cobra.Command, *validateOptions) error) *cobra.Command {
	o := &validateOptions{}
	return &cobra.Command{
		Use:   "validate FILE.giltrace|DIR...",
		Short: "Check .giltrace files and summarise each in one line",
		Long: "validate reads each .giltrace file, checks every record and every invariant of\n" +
			"the event protocol, and prints a one-line summary of a valid trace. For a\n" +
			"damaged or invalid file it prints where and what is wrong. For a file cut off\n" +
			"mid-write it summarises the complete part and warns. A run's directory\n" +
			"stands for its trace (DIR/run.giltrace, or DIR/run.giltrace.partial), which\n" +
			"the summary names. The exit status is non-zero if any file is damaged,\n" +
			"invalid or cut off.",
		Args: usageArgs(minimumArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Files = args
			return run(cmd, o)
		},
	}
}

func runValidate(cmd *cobra.Command, o *validateOptions) error {
	var errs []error
	for _, f := range o.Files {
		if err := validateFile(cmd, f); err != nil {
			if len(o.Files) > 1 && !strings.Contains(err.Error(), f) {
				err = fmt.Errorf("%s: %w", f, err)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// validateFile validates one file, or a run directory's trace, and prints
// its summary (QA: `validate DIR` said DIR held no run.giltrace, where it
// did: the other commands read a run's directory, validate did not).
func validateFile(cmd *cobra.Command, file string) error {
	file = runTraceArg(file)
	t, err, fatal := readTraceFile(file, false)
	if fatal != nil {
		return fatal
	}
	status := "valid"
	if t.Truncated {
		status = "complete part valid"
	}
	if _, werr := fmt.Fprintf(cmd.OutOrStdout(), "%s: %s: %s\n", file, status, t.Summary()); werr != nil {
		return werr
	}
	return err
}
