package main

import (
	"fmt"
	"io"

	"github.com/giltrace/giltrace/model"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
	"github.com/spf13/cobra"
)

// modelOptions are the arguments of giltrace model.
type modelOptions struct {
	File string // the .giltrace file
	Out  string // the workload file to write; "" or "-" for stdout
}

func newModelCmd() *cobra.Command { return modelCmd(runModel) }

// modelCmd builds the command around run, so that tests can check the
// parsed options.
func modelCmd(run func(*cobra.Command, *modelOptions) error) *cobra.Command {
	o := &modelOptions{}
	cmd := &cobra.Command{
		Use:   "model RUN.giltrace",
		Short: "Write a workload file that reproduces a recorded run, to replay it under other choices",
		Long: "model reads a recorded run (of a real Python program or of a workload) and\n" +
			"writes a workload file that reproduces it: each thread's Python running time,\n" +
			"blocking calls, native calls and shared-lock holds in the order recorded,\n" +
			"grouped into functions named after the Python functions and compressed into\n" +
			"repeats. It replays on the recorded machine's cores (cores: N, with clock:\n" +
			"virtual) when the trace says how many it had.\n\n" +
			"The file is an ordinary, commented workload: check and record take it\n" +
			"(record simulates it on those cores; --cores N another machine). compare\n" +
			"takes it too, but refuses the model of a run of several processes: its\n" +
			"threads are pinned to their processes (process: K), which compare's\n" +
			"variants (threads of one process, or a process each) cannot scale; compare\n" +
			"the recorded run instead (giltrace compare RUN.giltrace). As for any\n" +
			"workload, compare also refuses variants of over 1024 threads in all\n" +
			"(--threads), and --clock real beside cores: (docs/what-if.md).",
		Args: usageArgs(exactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.File = runTraceArg(args[0])
			return run(cmd, o)
		},
	}
	cmd.Flags().StringVarP(&o.Out, "out", "o", "", "write the workload to `FILE` (default: standard output)")
	return cmd
}

func runModel(cmd *cobra.Command, o *modelOptions) error {
	if err := notTheInput(o.Out, o.File); err != nil {
		return err
	}
	t, err := readTrace(o.File, cmd.ErrOrStderr(), "modelling")
	if err != nil {
		return err
	}
	if err := checkHasEvents(t, o.File, "modelling", "model"); err != nil {
		return err
	}
	src, err := buildModel(t, o.File)
	if err != nil {
		return err
	}
	if o.Out == "" || o.Out == "-" {
		_, err = cmd.OutOrStdout().Write(src)
		return err
	}
	// Atomically (a full disk or a signal leaves what was at the path), as
	// every output.
	if err := writeFile(cmd.Context(), o.Out, func(w io.Writer) error {
		_, err := w.Write(src)
		return err
	}); err != nil {
		return fmt.Errorf("writing the model of %s: %w", o.File, err)
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", o.Out)
	return err
}

// buildModel models trace t (read from path) and checks that the result
// loads as a workload.
func buildModel(t *tracer.Trace, path string) ([]byte, error) {
	src, err := model.Build(tracer.Derive(t), model.Options{Source: path})
	if err != nil {
		return nil, err
	}
	if _, err := workload.Parse("model of "+path, src); err != nil {
		return nil, fmt.Errorf("modelling %s: %s: %w", path, model.NoLoad(t), err)
	}
	return src, nil
}
