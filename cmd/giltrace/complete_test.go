package main

import (
	"strings"
	"testing"
)

// complete runs `giltrace __complete ARGS...` (what the shell completion
// scripts call) and returns the candidates and the directive line.
func complete(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	out, err := runRoot(append([]string{"__complete"}, args...)...)
	if err != nil {
		t.Fatalf("__complete %q: %v", args, err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var cands []string
	directive := ""
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, ":"):
			directive = l
		case strings.HasPrefix(l, "Completion ended"):
		default:
			cands = append(cands, l)
		}
	}
	return cands, directive
}

func TestCompletion(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		want      string // the candidates, comma-joined
		directive string
	}{
		{[]string{"record", "w.yaml", "--gil", ""}, "cpython,legacy,none", ":4"},
		{[]string{"record", "w.yaml", "--gil", "l"}, "legacy", ":4"},
		{[]string{"record", "w.yaml", "--formats", "chrome,pprof-w"}, "chrome,pprof-wait,chrome,pprof-wall", ":6"},
		{[]string{"record", "w.yaml", "--formats", "n"}, "none", ":6"},
		// all and none stand alone (QA: "pprof-wait,all" was offered).
		{[]string{"record", "w.yaml", "--formats", "pprof-wait,a"}, "", ":6"},
		{[]string{"record", "w.yaml", "--formats", "pprof-wait,n"}, "", ":6"},
		{[]string{"export", "r.giltrace", "--format", "fl"}, "flamegraph", ":4"},
		{[]string{"export", "r.giltrace", "--format", "o"}, "otlp", ":4"},
		{[]string{"compare", "w.yaml", "--modes", "threads,"}, "threads,processes,threads,free-threaded", ":6"},
		{[]string{"view", ""}, "giltrace", ":8"},
		{[]string{"report", ""}, "giltrace", ":8"},
		{[]string{"export", ""}, "giltrace", ":8"},
		{[]string{"validate", ""}, "giltrace", ":8"},
		{[]string{"record", ""}, "yaml,yml", ":8"},
		{[]string{"check", ""}, "yaml,yml", ":8"},
		{[]string{"compare", ""}, "yaml,yml", ":8"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got, dir := complete(t, tc.args...)
			if strings.Join(got, ",") != tc.want || dir != tc.directive {
				t.Errorf("candidates %q %s, want %q %s", got, dir, tc.want, tc.directive)
			}
		})
	}
}

func TestFlagSuggestions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"record", "w.yaml", "--gil", "nogil"}, `--gil "nogil": expected cpython, legacy or none (did you mean "none"?)`},
		{[]string{"record", "w.yaml", "--gil", "cpyton"}, `(did you mean "cpython"?)`},
		{[]string{"record", "w.yaml", "--threads", "four"}, `--threads "four": expected a whole number such as 4`},
		{[]string{"record", "w.yaml", "--switch-interval", "fast"}, `--switch-interval "fast": expected a duration such as 5ms`},
		{[]string{"record", "w.yaml", "--formt", "all"}, "unknown flag: --formt (did you mean --formats?)"},
		{[]string{"record", "w.yaml", "--formats", "chrom"}, `(did you mean "chrome"?)`},
		{[]string{"record", "w.yaml", "--quite"}, "(did you mean --quiet?)"},
		{[]string{"export", "r.giltrace", "--format", "flamegraf"}, `(did you mean "flamegraph"?)`},
		{[]string{"compare", "w.yaml", "--modes", "thread"}, `(did you mean "threads"?)`},
		{[]string{"compare", "w.yaml", "--modes", "nogil"}, `(did you mean "free-threaded"?)`},
		{[]string{"compare", "w.yaml", "--threads", "1,two"}, `--threads "1,two": expected whole numbers separated by commas`},
		{[]string{"compare", "w.yaml", "--runz", "2"}, "(did you mean --runs?)"},
		// QA: a number too large was "expected a whole number such as 4";
		// compare has --modes where record has --gil.
		{[]string{"record", "w.yaml", "--seed", "99999999999999999999"}, `--seed "99999999999999999999": out of range: expected -9223372036854775808 to 9223372036854775807`},
		{[]string{"compare", "w.yaml", "--gil", "none"}, "unknown flag: --gil (compare runs the workload in every mode: --modes threads,processes,free-threaded chooses them"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := runRoot(tc.args...)
			if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want a usage error with %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "strconv") {
				t.Errorf("err = %v mentions strconv", err)
			}
		})
	}
	if _, err := runRoot("record", "w.yaml", "--zzzzzz"); err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("a flag like no other: %v, want no suggestion", err)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"abc", "", 3}, {"nogil", "none", 3}, {"chrom", "chrome", 1}, {"kitten", "sitting", 3}} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
