package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/giltrace/giltrace/compare"
	"github.com/giltrace/giltrace/tracer"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// flagValues are the values each flag with a fixed set of values takes,
// for shell completion and did-you-mean. A flag named here is completed in
// every command that has it. List flags (--formats, --modes) complete the
// item after the last comma.
func flagValues() map[string][]string {
	var gil []string
	for _, m := range tracer.GILModes {
		gil = append(gil, string(m))
	}
	var formats []string
	for _, o := range outputs() {
		formats = append(formats, o.Name)
	}
	return map[string][]string{
		"gil":     gil,
		"clock":   {"real", "virtual"},
		"format":  append(slices.Clone(formats), otlpFormat),
		"formats": append([]string{"all", "none"}, formats...),
		"modes":   compare.AllModes,
	}
}

// listFlags are the flags whose value is a comma-separated list.
var listFlags = map[string]bool{"formats": true, "modes": true}

// argExtensions are the file extensions of each command's arguments.
var argExtensions = map[string][]string{
	"report": {"giltrace"}, "export": {"giltrace"}, "view": {"giltrace"}, "validate": {"giltrace"},
	"record": {"yaml", "yml"}, "check": {"yaml", "yml"}, "compare": {"yaml", "yml"},
}

// addCompletions registers the completion of flag values and of file
// arguments by extension on every subcommand of root.
func addCompletions(root *cobra.Command) {
	values := flagValues()
	for _, c := range root.Commands() {
		if exts, ok := argExtensions[c.Name()]; ok && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
				return exts, cobra.ShellCompDirectiveFilterFileExt
			}
		}
		c.Flags().VisitAll(func(f *pflag.Flag) {
			vals, ok := values[f.Name]
			if !ok {
				return
			}
			list := listFlags[f.Name]
			c.RegisterFlagCompletionFunc(f.Name, func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				return completeValue(vals, toComplete, list)
			})
		})
	}
}

// soloValues are the list values that stand alone (--formats all, none):
// not offered after another item (QA: "pprof-wait,all" was offered, and
// refused).
var soloValues = map[string]bool{"all": true, "none": true}

// completeValue returns the values starting with what is typed; for a
// list, of its last item, after the items already typed.
func completeValue(vals []string, typed string, list bool) ([]cobra.Completion, cobra.ShellCompDirective) {
	prefix := ""
	if i := strings.LastIndex(typed, ","); list && i >= 0 {
		prefix, typed = typed[:i+1], typed[i+1:]
	}
	done := strings.Split(strings.TrimSuffix(prefix, ","), ",")
	var out []cobra.Completion
	for _, v := range vals {
		if strings.HasPrefix(v, typed) && !slices.Contains(done, v) && !(prefix != "" && soloValues[v]) {
			out = append(out, prefix+v)
		}
	}
	dir := cobra.ShellCompDirectiveNoFileComp
	if list {
		dir |= cobra.ShellCompDirectiveNoSpace
	}
	return out, dir
}

// synonyms are words people type for a value, by the flag's name.
var synonyms = map[string]map[string]string{
	"gil": {"nogil": "none", "no-gil": "none", "off": "none", "free-threaded": "none", "freethreaded": "none",
		"python2": "legacy", "py2": "legacy", "old": "legacy", "python3": "cpython", "default": "cpython", "new": "cpython"},
	"modes": {"thread": "threads", "process": "processes", "multiprocessing": "processes", "none": "free-threaded",
		"nogil": "free-threaded", "no-gil": "free-threaded", "free": "free-threaded", "freethreaded": "free-threaded"},
}

// didYouMean is ` (did you mean "X"?)` for the value of flag name closest
// to what was typed, or "" when nothing is close.
func didYouMean(flag, typed string) string {
	if s := suggest(flag, typed); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// suggest is the value of flag closest to typed: a synonym, or a value at
// most a third of its length away in edits.
func suggest(flag, typed string) string {
	t := strings.ToLower(strings.TrimSpace(typed))
	if s, ok := synonyms[flag][t]; ok {
		return s
	}
	return closest(t, flagValues()[flag])
}

// closest is the candidate nearest to s in edit distance, if it is at most
// max(2, len/3) edits away.
func closest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > max(2, len(best)/3) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// flagHints answer a flag one command has and another has not, by what
// the other takes instead (QA: "compare FIXTURE --gil none" said only
// "unknown flag").
var flagHints = map[string]string{
	"compare --gil": "compare runs the workload in every mode: --modes threads,processes,free-threaded chooses them; free-threaded is the run without a GIL",
}

// flagError rewrites a flag parsing error for people: an unknown flag
// with the nearest one, a number or duration that does not parse in plain
// words instead of strconv's. It is a usage error.
func flagError(c *cobra.Command, err error) error {
	var notExist *pflag.NotExistError
	var invalid *pflag.InvalidValueError
	switch {
	case errors.As(err, &notExist) && notExist.GetSpecifiedName() != "":
		var names []string
		c.Flags().VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
		c.InheritedFlags().VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
		if hint := flagHints[c.Name()+" --"+notExist.GetSpecifiedName()]; hint != "" {
			err = fmt.Errorf("%w (%s)", err, hint)
		} else if s := closest(notExist.GetSpecifiedName(), names); s != "" {
			err = fmt.Errorf("%w (did you mean --%s?)", err, s)
		}
	case errors.As(err, &invalid):
		f := invalid.GetFlag()
		switch f.Value.Type() {
		case "int", "int64", "uint":
			if errors.Is(err, strconv.ErrRange) {
				// A whole number, too large (QA: "--seed 99999999999999999999:
				// expected a whole number such as 4").
				lim := "-9223372036854775808 to 9223372036854775807"
				if f.Value.Type() == "uint" {
					lim = "0 to 18446744073709551615"
				}
				err = fmt.Errorf("--%s %q: out of range: expected %s", f.Name, invalid.GetValue(), lim)
				break
			}
			err = fmt.Errorf("--%s %q: expected a whole number such as 4", f.Name, invalid.GetValue())
		case "intSlice":
			err = fmt.Errorf("--%s %q: expected whole numbers separated by commas, such as 1,2,4", f.Name, invalid.GetValue())
		case "duration", "durationSlice":
			err = fmt.Errorf("--%s %q: expected a duration such as 5ms or 1.5s", f.Name, invalid.GetValue())
		case "float64":
			err = fmt.Errorf("--%s %q: expected a number such as 0.5", f.Name, invalid.GetValue())
		}
	}
	return &usageError{err}
}
