package main

import (
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// argsCase is one argv -> options case of a subcommand test.
type argsCase[O any] struct {
	args  []string
	want  *O     // the options the command runs with; nil when usage
	usage bool   // a usage error (exit status 2) is expected
	msg   string // with usage: a part of the error's message, if it matters
}

// testArgs checks each case against the command that build makes around a
// run function that keeps the options it is given: every subcommand file
// has such a constructor (recordCmd, reportCmd, ...).
func testArgs[O any](t *testing.T, build func(func(*cobra.Command, *O) error) *cobra.Command, cases []argsCase[O]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var got *O
			cmd := build(func(_ *cobra.Command, o *O) error { got = o; return nil })
			// As under the root command: flag errors are usage errors.
			cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
			// Never nil: cobra reads os.Args (the test binary's own flags)
			// for nil, and "no arguments" passed only when those flags
			// happened to be usage errors (`giltrace.test -test.count 1`
			// gave none, and every case of no arguments failed).
			cmd.SetArgs(append([]string{}, tc.args...))
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.Execute()
			if tc.usage {
				if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("err = %v, want a usage error with %q", err, tc.msg)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("options %+v, err %v; want %+v", got, err, tc.want)
			}
		})
	}
}
