package main

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/giltrace/giltrace/internal/textfmt"
	"github.com/spf13/cobra"
)

// version is the giltrace version, set at build time with
// -ldflags "-X main.version=..."; see giltraceVersion.
var version = "dev"

// giltraceVersion is version when set at build time; otherwise what the Go
// toolchain recorded in the binary: the module's version for
// `go install ...@vX.Y.Z`, else the VCS revision of a build in a checkout.
func giltraceVersion() string {
	if version != "dev" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision":
			rev = s.Value[:min(12, len(s.Value))]
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "+modified"
		}
	}
	if rev == "" {
		return version
	}
	return version + "-" + rev + dirty
}

func newRootCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:           "giltrace",
		Short:         "Trace and explain the GIL contention of Python programs and workloads",
		Long:          "giltrace traces real CPython programs (record -- COMMAND, attach PID) or runs\nworkloads on an instrumented GIL-locked VM, records every GIL acquire,\nrelease, wait and drop request, explains why threads did or did not speed up,\nand predicts what would. Where a command reads a recorded run (report, view,\nexport, model, compare, validate), a run's directory stands for its trace: DIR is\nDIR/run.giltrace, or a killed record's DIR/run.giltrace.partial.",
		Version:       giltraceVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.SetFlagErrorFunc(flagError)
	cmd.SetVersionTemplate("giltrace {{.Version}}\n") // as `giltrace version` prints it (QA)
	var selfProfile string
	cmd.PersistentFlags().Bool("quiet", false, "show no progress on stderr (shown only on a terminal, while record and compare work)")
	cmd.PersistentFlags().StringVar(&selfProfile, "self-profile", "", "write a wall-clock pprof profile of giltrace itself (fgprof: on- and off-CPU Go time) to `FILE`")
	cmd.PersistentPreRunE = func(c *cobra.Command, args []string) error {
		if selfProfile == "" {
			return nil
		}
		return profileSelf(c, args, selfProfile)
	}
	// Subcommands: one file each, one constructor each.
	cmd.AddCommand(
		newCheckCmd(),
		newVersionCmd(),
		newValidateCmd(),
		newReportCmd(),
		newRecordCmd(),
		newCompareCmd(),
		newViewCmd(),
		newExportCmd(),
		newAttachCmd(),
		newModelCmd(),
	)
	addCompletions(cmd)
	return cmd
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print giltrace's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := cmd.OutOrStdout().Write([]byte("giltrace " + giltraceVersion() + "\n"))
			return err
		},
	}
}

// usageError is a command-line usage error: exit status 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageArgs wraps a positional-argument check so that its error is a usage error.
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			if u := otlpURLArg(cmd, args); u != "" {
				// QA: `record W.yaml --otlp http://host:4318` was told to
				// trace the YAML file as a program.
				return &usageError{fmt.Errorf("%s: --otlp takes its URL after \"=\": --otlp=%s (with a space, %s is read as an argument, and a bare --otlp sends to $OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318)", cmd.Name(), u, u)}
			}
			// "attach: accepts 1 argument, received 0 (usage: giltrace attach PID [flags])"
			return &usageError{fmt.Errorf("%s: %w (usage: %s)", cmd.Name(), err, cmd.UseLine())}
		}
		return nil
	}
}

// otlpURLArg is the argument that looks like a URL when the command's
// --otlp flag was given bare (its value the default): a URL meant for it
// after a space. "" otherwise.
func otlpURLArg(cmd *cobra.Command, args []string) string {
	f := cmd.Flags().Lookup("otlp")
	if f == nil || !f.Changed || f.Value.String() != otlpDefault {
		return ""
	}
	for _, a := range args {
		if strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://") {
			return a
		}
	}
	return ""
}

// exactArgs is cobra.ExactArgs, its count in words: "accepts 1 argument,
// received 0" (cobra's "accepts 1 arg(s)").
func exactArgs(n int) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("accepts %s, received %d", textfmt.Plural(n, "argument"), len(args))
		}
		return nil
	}
}

// minimumArgs is cobra.MinimumNArgs, its count in words: "requires at
// least 1 argument, received 0" (cobra's "1 arg(s), only received 0").
func minimumArgs(n int) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < n {
			return fmt.Errorf("requires at least %s, received %d", textfmt.Plural(n, "argument"), len(args))
		}
		return nil
	}
}

// exitCode is 2 for usage errors, a traced program's own status when
// giltrace passes it through, 1 otherwise.
func exitCode(err error) int {
	if code, ok := programStatus(err); ok {
		return code
	}
	var u *usageError
	if errors.As(err, &u) || strings.HasPrefix(err.Error(), "unknown command ") {
		// Cobra's own usage error for an unknown command is untyped (QA:
		// `giltrace bogus` exited 1, other usage errors 2).
		return 2
	}
	return 1
}
