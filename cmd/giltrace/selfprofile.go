package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/felixge/fgprof"
	"github.com/spf13/cobra"
)

// --self-profile FILE: a wall-clock profile of giltrace itself
// (docs/performance.md), taken while the command c runs:
//
//  1. before the command runs, FILE is refused (a usage error) if it is a
//     directory, its directory does not exist, or it is one of the files
//     the command reads or writes (selfProfileClash);
//  2. the command's RunE is wrapped, so that the profile is written when
//     the command ends: a PersistentPostRunE runs only after a command
//     that returned nil, and lost the profile of a record -- COMMAND whose
//     program exits with a status of its own;
//  3. it is written, atomically (writeFile), only when the command
//     succeeded or passed through a traced program's status, and only if
//     FILE is as it was when the command began (selfProfileWritten): a
//     command that fails leaves FILE as it was.

// minSelfProfile is the shortest self-profile: 3 samples at fgprof's 99 Hz.
const minSelfProfile = 31 * time.Millisecond

// profileSelf checks file, starts the profiler, and wraps c's RunE to write
// the profile to file when it ends (see above).
func profileSelf(c *cobra.Command, args []string, file string) error {
	if fi, err := os.Stat(file); err == nil && fi.IsDir() {
		return &usageError{fmt.Errorf("--self-profile %s: is a directory", file)}
	}
	if _, err := os.Stat(filepath.Dir(file)); err != nil {
		return &usageError{fmt.Errorf("--self-profile %s: %w", file, err)}
	}
	if err := selfProfileClash(c, args, file); err != nil {
		return err
	}
	before, _ := os.Stat(file)
	var profile bytes.Buffer
	stop, start := fgprof.Start(&profile, fgprof.FormatPprof), time.Now()
	finish := func(c *cobra.Command, write bool) error {
		// fgprof v0.9.5 divides by its sample rate, which is 0 when it
		// took no sample: let it sample (99 Hz) at least twice.
		if d := time.Since(start); d < minSelfProfile {
			time.Sleep(minSelfProfile - d)
		}
		err := stop()
		if err == nil && write {
			if err = selfProfileWritten(c, file, before); err == nil {
				err = writeFile(context.WithoutCancel(c.Context()), file, func(w io.Writer) error {
					_, err := w.Write(profile.Bytes())
					return err
				})
			}
		}
		if err != nil {
			return fmt.Errorf("self-profile %s: %w", file, err)
		}
		return nil
	}
	origE, orig := c.RunE, c.Run
	run := origE
	if run == nil { // cobra's own commands: help, completion
		run = func(c *cobra.Command, args []string) error {
			if orig != nil {
				orig(c, args)
			}
			return nil
		}
		c.Run = nil
	}
	c.RunE = func(c *cobra.Command, args []string) error {
		// The command as it was, for a next Execute of the same root
		// (review: a second one wrapped the wrapper, and stopped the
		// first run's profiler again: it hung).
		c.RunE, c.Run = origE, orig
		err := run(c, args)
		// A failure writes none (QA: record refused to replace a user's
		// DIR/report.txt, and the profile then replaced it); a traced
		// program's own status is not giltrace's failure.
		_, passed := programStatus(err)
		perr := finish(c, err == nil || passed)
		switch {
		case perr == nil:
		case err == nil:
			err = perr
		default:
			printError(c.ErrOrStderr(), perr)
		}
		return err
	}
	return nil
}

// selfProfileClash is the usage error of a --self-profile file that the
// command c reads or writes, nil otherwise: one of its arguments (a trace,
// a workload, a program: the same file, through a link or another name,
// or the same path where it does not exist yet), or its -o (export's and
// model's file; record's, attach's and compare's directory, and any file
// in it). The profile, written when the command ends, would replace it
// (QA: `--self-profile t.giltrace report t.giltrace` replaced the trace
// read; `--self-profile DIR/run.giltrace record W.yaml -o DIR` the trace
// just recorded). A default output directory (no -o) is known only once
// the command has run: selfProfileWritten guards it.
func selfProfileClash(c *cobra.Command, args []string, file string) error {
	for _, a := range args {
		if samePlace(file, a) {
			return &usageError{fmt.Errorf("--self-profile %s: is %s's argument %s, which the profile would replace: name another file", file, c.Name(), a)}
		}
	}
	o := c.Flags().Lookup("out")
	if o == nil || o.Value.String() == "" || o.Value.String() == "-" {
		return nil
	}
	out := o.Value.String()
	if samePlace(file, out) {
		return &usageError{fmt.Errorf("--self-profile %s: is what %s writes (-o %s), which the profile would replace: name another file", file, c.Name(), out)}
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		if samePlace(d, out) {
			return &usageError{fmt.Errorf("--self-profile %s: is in %s's output directory (-o %s), where the profile would replace or join the files %s writes: name a file outside it", file, c.Name(), out, c.Name())}
		}
		if filepath.Dir(d) == d {
			return nil
		}
	}
}

// selfProfileWritten is an error when the file at path is no longer what
// before was (os.Stat of it when the command began; nil: nothing there):
// made, replaced, changed or removed while the command ran, by the command
// (into a default output directory: record W.yaml's giltrace-out/NAME)
// or by another program. The profile would replace that file, which the
// user did not ask for: it is not written. A device or other non-regular
// file (/dev/stdout) is written in place, replacing nothing.
func selfProfileWritten(c *cobra.Command, path string, before os.FileInfo) error {
	if before != nil && !before.Mode().IsRegular() {
		return nil
	}
	after, _ := os.Stat(path)
	switch {
	case before == nil && after == nil:
		return nil
	case before != nil && after != nil && os.SameFile(before, after) &&
		after.Size() == before.Size() && after.ModTime().Equal(before.ModTime()):
		return nil
	}
	return fmt.Errorf("changed while %s ran (written by %s, or by another program): left as it is, and the profile not written; name another file", c.Name(), c.Name())
}
