package workload

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// opYAML is a valid workload whose function f is the one operation op, on
// line 5 at column 7.
func opYAML(op string) string {
	return "name: t\nthreads: [{run: f}]\nfunctions:\n  f:\n    - " + op + "\n"
}

// threadYAML is a valid workload whose only thread group, from line 4, is
// the given lines (indented by 4 spaces after the first).
func threadYAML(group string) string {
	return "name: t\nfunctions: {f: [{sleep: 1ms}], g: [{sleep: 1ms}]}\nthreads:\n  - " + group + "\n"
}

// gilYAML is a valid workload with the given gil: section from line 2.
func gilYAML(gil string) string {
	return "name: t\ngil: " + gil + "\nthreads: [{run: f}]\nfunctions: {f: [{sleep: 1ms}]}\n"
}

// topYAML is a valid workload with extra top-level lines first.
func topYAML(lines string) string {
	return lines + "\nthreads: [{run: f}]\nfunctions: {f: [{sleep: 1ms}]}\n"
}

// chainYAML is a workload whose thread runs f0, calling f1 ... f(n-1).
func chainYAML(n int) string {
	var b strings.Builder
	b.WriteString("name: t\nthreads: [{run: f0}]\nfunctions:\n")
	for i := 0; i < n-1; i++ {
		fmt.Fprintf(&b, "  f%d: [{call: f%d}]\n", i, i+1)
	}
	fmt.Fprintf(&b, "  f%d: [{sleep: 1ms}]\n", n-1)
	return b.String()
}

// nestedYAML is a workload whose function nests repeat bodies depth deep.
func nestedYAML(depth int) string {
	op := "{sleep: 1ms}"
	for i := 1; i < depth; i++ {
		op = "{repeat: {times: 1, body: [" + op + "]}}"
	}
	return "name: t\nthreads: [{run: f}]\nfunctions:\n  f: [" + op + "]\n"
}

// parseErrorCase is a workload text and substrings of the error it must give.
type parseErrorCase struct {
	name string
	src  string
	want []string // substrings of the error message
}

// parseErrorCases are the error paths of the loader, one case or more each;
// FuzzParse uses them as seeds too.
func parseErrorCases() []parseErrorCase {
	manyGroups := "name: t\nfunctions: {f: [{sleep: 1ms}]}\nthreads:\n" + strings.Repeat("  - {run: f, name: x}\n", MaxThreads+1)
	var manyFuncs strings.Builder
	manyFuncs.WriteString("name: t\nthreads: [{run: f0}]\nfunctions:\n")
	for i := 0; i <= MaxFunctions; i++ {
		fmt.Fprintf(&manyFuncs, "  f%d: [{sleep: 1ms}]\n", i)
	}
	// MaxOps+ operations through an alias: 1000 ops written once, used 101 times.
	var manyOps strings.Builder
	manyOps.WriteString("name: t\nthreads: [{run: f0}]\nfunctions:\n  f0: &ops [" + strings.Repeat("{sleep: 1ms}, ", 999) + "{sleep: 1ms}]\n")
	for i := 1; i <= MaxOps/1000; i++ {
		fmt.Fprintf(&manyOps, "  f%d: *ops\n", i)
	}
	var locks []string
	for i := 0; i <= MaxLocks; i++ {
		locks = append(locks, fmt.Sprintf("{lock: {name: l%d, body: [{sleep: 1ms}]}}", i))
	}
	manyLocks := strings.Join(locks, ", ")
	// Errors are reported in file order even though functions are checked
	// before threads: the count error of line 2 comes first.
	var manyErrs strings.Builder
	manyErrs.WriteString("name: t\nthreads: [{run: f, count: x}]\nfunctions:\n  f:\n")
	for i := 0; i < maxLoadErrors+5; i++ {
		manyErrs.WriteString("    - io: 20\n")
	}

	return []parseErrorCase{
		// The file as a whole.
		{"empty", "", []string{"t.yaml: empty workload; expected a mapping with name, threads and functions"}},
		{"comments only", "# nothing\n", []string{"t.yaml: empty workload"}},
		{"yaml syntax", "name: t\nthreads: [\n", []string{"t.yaml:", "invalid YAML:"}},
		{"yaml colon in text", "name: t\ndescription: a: b\n", []string{"t.yaml:2: invalid YAML: mapping values are not allowed", `quote a text that contains ": "`}},
		{"yaml tab", "name: t\nthreads:\n\t- {name: a, run: f}\n", []string{"t.yaml:3: invalid YAML: found character that cannot start any token (a tab in the indentation: YAML indents with spaces)"}},
		{"yaml tab", "name: t\n\tthreads: []\n", []string{"t.yaml:2: invalid YAML: found a tab character"}},
		{"switch interval with mode none", "name: t\ngil: {mode: none, switch_interval: 1ms}\nthreads: [{run: f}]\nfunctions:\n  f: [{io: 1ms}]\n", []string{"gil.switch_interval: applies only to mode cpython, but mode is none; remove it (mode none has no GIL to switch)"}},
		{"yaml control character", "name: t\nthreads: [{run: f}]\nfunctions:\n  f: [{io: 1ms\x07}]\n", []string{"t.yaml:4:15: invalid YAML: control characters are not allowed"}},
		{"yaml unknown anchor", "name: t\nthreads: [{run: f}]\nfunctions: {f: [{compute: 1ms}]}\nfoo: *x\n", []string{"t.yaml:4:6: invalid YAML: unknown anchor 'x' referenced"}},
		{"yaml unknown anchor in a flow", "name: t\nthreads: [{run: f}]\nfunctions:\n  f:\n    - {compute: *dur}\n", []string{"t.yaml:5:17: invalid YAML: unknown anchor 'dur' referenced"}},
		// The line of the mistake, not of the list it broke (the YAML
		// library names line 2 for both).
		{"yaml indent under threads", "name: bad1\nthreads:\n  - name: a\n    run: f\n    count: 2\n  functions:\n  f:\n    - compute: {loops: 1000}\n",
			[]string{"t.yaml:6: invalid YAML: did not find expected '-' indicator (check this line's indentation)"}},
		{"yaml indent in thread", "name: t\nthreads:\n  - name: a\n    run: f\n   count: 3\nfunctions:\n  f:\n    - compute: {loops: 1000}\n",
			[]string{"t.yaml:5: invalid YAML: did not find expected '-' indicator"}},
		// A multi-line flow mapping: its shorter prefixes fail otherwise, so
		// the library's line stays.
		{"yaml flow mapping", "name: t\nthreads:\n  - name: a\n    run: f\nfunctions:\n  f:\n    - compute: {loops: 1000,\n       x: 2\n    - io: {duration: 1ms}\n",
			[]string{"t.yaml:6: invalid YAML: did not find expected ',' or '}'"}},
		{"two documents", topYAML("name: t") + "---\nname: u\n", []string{"t.yaml:4:1: a second YAML document"}},
		{"root is a list", "- a\n- b\n", []string{"t.yaml:1:1: expected the workload (a mapping of version, name", "got a list"}},
		{"root is a scalar", "hello\n", []string{`t.yaml:1:1: expected the workload`, `got "hello"`}},
		{"unknown top key", topYAML("name: t\ntreads: 1"), []string{`t.yaml:2:1: unknown key "treads" (did you mean "threads"?); expected one of version, name`}},
		{"unknown key no suggestion", topYAML("name: t\nzzzzzz: 1"), []string{`t.yaml:2:1: unknown key "zzzzzz"; expected one of`}},
		{"duplicate key", topYAML("name: t\nname: u"), []string{"t.yaml:2:1: name: given twice (first at line 1)"}},
		{"merge key", topYAML("name: t\n<<: {seed: 1}"), []string{"t.yaml:2:1: merge keys (<<) are not supported"}},
		// Not 'unknown operation "<<"' (QA), nor one key too many.
		{"merge key as an operation", opYAML("<<: {compute: 1ms}"), []string{"t.yaml:5:7: functions.f[0]: merge keys (<<) are not supported; repeat the keys or use an alias (*name) for the whole value"}},
		{"merge key beside an operation", opYAML("<<: {sleep: 1ms}\n      compute: 1ms"), []string{"t.yaml:5:7: functions.f[0]: merge keys (<<) are not supported"}},
		{"merge key among functions", "name: t\nthreads: [{run: f}]\nfunctions:\n  f: [{sleep: 1ms}]\n  <<: {g: [{sleep: 1ms}]}\n", []string{"t.yaml:5:3: functions: merge keys (<<) are not supported"}},
		{"non-scalar key", topYAML("name: t\n? [a]\n: 1"), []string{"t.yaml:2:3: expected a key name, got a list"}},

		// clock, cores.
		{"clock unknown", topYAML("name: t\nclock: wall"), []string{`t.yaml:2:8: clock: unknown clock "wall"; expected one of real, virtual`}},
		{"clock typo", topYAML("name: t\nclock: virtal"), []string{`t.yaml:2:8: clock: unknown clock "virtal" (did you mean "virtual"?)`}},
		{"clock simulated", topYAML("name: t\nclock: simulated"), []string{`(did you mean "virtual"? it simulates the run)`}},
		{"clock list", topYAML("name: t\nclock: [virtual]"), []string{"t.yaml:2:8: clock: expected one of real, virtual, got a list"}},
		{"cores zero", topYAML("name: t\nclock: virtual\ncores: 0"), []string{"t.yaml:3:8: cores: expected a positive integer, got 0"}},
		{"cores over limit", topYAML("name: t\nclock: virtual\ncores: 5000"), []string{"t.yaml:3:8: cores: 5000 exceeds the limit of 4096"}},

		// version, name, description, processes, seed.
		{"version 2", topYAML("version: 2\nname: t"), []string{"t.yaml:1:10: version: unsupported format version 2; this giltrace reads version 1"}},
		{"version 0", topYAML("version: 0\nname: t"), []string{"t.yaml:1:10: version: expected a positive integer, got 0"}},
		{"version text", topYAML("version: v1\nname: t"), []string{`t.yaml:1:10: version: expected a positive integer, got "v1"`}},
		{"name missing", topYAML("seed: 1"), []string{"t.yaml:1:1: name: missing; expected a workload name"}},
		{"name path", topYAML("name: ../etc"), []string{`t.yaml:1:7: name: expected a name of letters, digits, '.', '_' and '-'`, `got "../etc"`}},
		{"name spaces", topYAML(`name: " t"`), []string{`t.yaml:1:7: name: expected a name without leading or trailing spaces, got " t"`}},
		{"name empty", topYAML(`name: ""`), []string{`t.yaml:1:7: name: expected a name without leading or trailing spaces, got ""`}},
		{"name too long", topYAML("name: " + strings.Repeat("a", MaxNameLen+1)), []string{"t.yaml:1:7: name: name is 129 bytes long; the limit is 128"}},
		{"name control", topYAML(`name: "a\tb"`), []string{`t.yaml:1:7: name: expected a name of printable characters`}},
		{"name bool", topYAML("name: true"), []string{"t.yaml:1:7: name: expected a name, got true"}},
		{"name null", topYAML("name:"), []string{"t.yaml:1:6: name: expected a name, got nothing"}},
		{"description list", topYAML("name: t\ndescription: [a]"), []string{"t.yaml:2:14: description: expected a text, got a list"}},
		{"processes zero", topYAML("name: t\nprocesses: 0"), []string{"t.yaml:2:12: processes: expected a positive integer, got 0"}},
		{"processes negative", topYAML("name: t\nprocesses: -3"), []string{"t.yaml:2:12: processes: expected a positive integer, got -3"}},
		{"processes over limit", topYAML("name: t\nprocesses: 65"), []string{"t.yaml:2:12: processes: 65 exceeds the limit of 64"}},
		{"processes text", topYAML("name: t\nprocesses: two"), []string{`t.yaml:2:12: processes: expected a positive integer, got "two"`}},
		{"processes fraction", topYAML("name: t\nprocesses: 1.5"), []string{"t.yaml:2:12: processes: expected a positive integer, got 1.5"}},
		{"processes huge float", topYAML("name: t\nprocesses: 1e300"), []string{"t.yaml:2:12: processes: 1e300 exceeds the limit of 64"}},
		{"processes huge int", topYAML("name: t\nprocesses: 99999999999999999999"), []string{"t.yaml:2:12: processes: 99999999999999999999 exceeds the limit of 64"}},
		{"processes huge uint", topYAML("name: t\nprocesses: 18446744073709551615"), []string{"t.yaml:2:12: processes: 18446744073709551615 is out of range; expected a positive integer of at most 64"}},
		{"processes bool", topYAML("name: t\nprocesses: true"), []string{"t.yaml:2:12: processes: expected a positive integer, got true"}},
		{"processes mapping", topYAML("name: t\nprocesses: {a: 1}"), []string{"t.yaml:2:12: processes: expected a positive integer, got a mapping"}},
		{"seed float past int64", topYAML("name: t\nseed: 9223372036854775807.0"), []string{"t.yaml:2:7: seed: 9223372036854775807.0 exceeds the limit of 9223372036854775807"}},
		{"seed text", topYAML("name: t\nseed: abc"), []string{`t.yaml:2:7: seed: expected an integer, got "abc"`}},
		{"functions missing", "name: t\nthreads: [{run: f}]\n", []string{"t.yaml:1:1: functions: missing; expected a mapping of function names"}},
		{"threads missing", "name: t\nfunctions: {f: [{sleep: 1ms}]}\n", []string{"t.yaml:1:1: threads: missing; expected a list of thread groups"}},

		// gil.
		{"gil scalar", gilYAML("cpython"), []string{`t.yaml:2:6: gil: expected the GIL settings (a mapping of mode, switch_interval, check_interval), got "cpython"`}},
		{"gil unknown key", gilYAML("{mdoe: none}"), []string{`t.yaml:2:7: gil: unknown key "mdoe" (did you mean "mode"?)`}},
		{"gil mode typo", gilYAML("{mode: cpyton}"), []string{`t.yaml:2:13: gil.mode: unknown mode "cpyton" (did you mean "cpython"?); expected one of cpython, legacy, none`}},
		{"gil mode nogil", gilYAML("{mode: nogil}"), []string{`t.yaml:2:13: gil.mode: unknown mode "nogil" (did you mean "none"?`}},
		{"gil mode number", gilYAML("{mode: [1]}"), []string{`t.yaml:2:13: gil.mode: expected one of cpython, legacy, none, got a list`}},
		{"switch interval for legacy", gilYAML("{mode: legacy, switch_interval: 5ms}"), []string{"t.yaml:2:21: gil.switch_interval: applies only to mode cpython, but mode is legacy"}},
		{"check interval for cpython", gilYAML("{check_interval: 100}"), []string{"t.yaml:2:7: gil.check_interval: applies only to mode legacy, but mode is cpython"}},
		{"check interval for none", gilYAML("{mode: none, check_interval: 100}"), []string{"gil.check_interval: applies only to mode legacy, but mode is none"}},
		{"switch interval too small", gilYAML("{switch_interval: 100ns}"), []string{"t.yaml:2:24: gil.switch_interval: expected a duration of at least 1µs, got 100ns"}},
		{"switch interval zero", gilYAML("{switch_interval: 0s}"), []string{"gil.switch_interval: expected a duration of at least 1µs, got 0s"}},
		{"switch interval not whole microseconds", gilYAML("{switch_interval: 1500ns}"), []string{"gil.switch_interval: 1.5µs is not a whole number of microseconds, in which CPython keeps the switch interval (sys.setswitchinterval); use 1µs or 2µs"}},
		{"switch interval too large", gilYAML("{switch_interval: 2h}"), []string{"t.yaml:2:24: gil.switch_interval: 2h exceeds the limit of 1h"}},
		{"check interval zero", gilYAML("{mode: legacy, check_interval: 0}"), []string{"t.yaml:2:37: gil.check_interval: expected a positive integer, got 0"}},
		{"check interval too large", gilYAML("{mode: legacy, check_interval: 2e6}"), []string{"gil.check_interval: 2e6 exceeds the limit of 1000000"}},

		// threads.
		{"threads not a list", "name: t\nfunctions: {f: [{sleep: 1ms}]}\nthreads: {run: f}\n", []string{"t.yaml:3:10: threads: expected a list of thread groups, got a mapping"}},
		{"threads empty", "name: t\nfunctions: {f: [{sleep: 1ms}]}\nthreads: []\n", []string{"t.yaml:3:10: threads: expected at least one thread group, got an empty list"}},
		{"too many thread groups", manyGroups, []string{"t.yaml:4:3: threads: 1025 thread groups exceed the limit of 1024 threads"}},
		{"group not a mapping", threadYAML("f"), []string{`t.yaml:4:5: threads[0]: expected a thread group (a mapping of name, count, run, repeat, start_after, process, daemon), got "f"`}},
		{"group unknown key", threadYAML("run: f\n    cuont: 2"), []string{`t.yaml:5:5: threads[0]: unknown key "cuont" (did you mean "count"?)`}},
		{"run missing", threadYAML("name: a"), []string{"t.yaml:4:5: threads[0].run: missing; expected the name of a function"}},
		{"run unknown", threadYAML("run: h"), []string{`t.yaml:4:10: threads[0].run: unknown function "h"`}},
		{"run typo", threadYAML("run: ff"), []string{`t.yaml:4:10: threads[0].run: unknown function "ff" (did you mean "f"?)`}},
		{"run list", threadYAML("run: [f]"), []string{"t.yaml:4:10: threads[0].run: expected the name of a function, got a list"}},
		{"count text", threadYAML("run: f\n    count: eight"), []string{`t.yaml:5:12: threads[0].count: expected a positive integer, got "eight"`}},
		{"count zero", threadYAML("run: f\n    count: 0"), []string{"t.yaml:5:12: threads[0].count: expected a positive integer, got 0"}},
		{"count over limit", threadYAML("run: f\n    count: 2000"), []string{"t.yaml:5:12: threads[0].count: 2000 exceeds the limit of 1024"}},
		{"repeat zero", threadYAML("run: f\n    repeat: 0"), []string{"t.yaml:5:13: threads[0].repeat: expected a positive integer, got 0"}},
		{"repeat over limit", threadYAML("run: f\n    repeat: 1_000_001"), []string{"t.yaml:5:13: threads[0].repeat: 1000001 exceeds the limit of 1000000"}},
		{"start_after negative", threadYAML("run: f\n    start_after: -1ms"), []string{"t.yaml:5:18: threads[0].start_after: expected a duration of 0 or more, got -1ms"}},
		{"start_after text", threadYAML("run: f\n    start_after: soon"), []string{`t.yaml:5:18: threads[0].start_after: expected a duration like 200us, 5ms or 1.5s, got "soon"`}},
		{"thread name bad", threadYAML("run: f\n    name: \"\""), []string{"t.yaml:5:11: threads[0].name: expected a name without leading or trailing spaces"}},
		{"thread names collide", threadYAML("run: f\n    name: w\n    count: 2\n  - {run: g, name: w-2}"), []string{`t.yaml:7:5: threads[1].name: thread name "w-2" is also given by threads[0]`}},
		{"thread default names collide", threadYAML("run: f\n  - run: f"), []string{`t.yaml:5:5: threads[1].name: thread name "f" is also given by threads[0]`}},
		{"threads over limit", threadYAML("{run: f, count: 600}\n  - {run: g, count: 600}"), []string{"t.yaml:4:3: threads: 1200 threads in total exceed the limit of 1024"}},
		{"threads times processes over limit", "name: t\nprocesses: 2\nfunctions: {f: [{sleep: 1ms}]}\nthreads: [{run: f, count: 600}]\n", []string{"t.yaml:2:12: processes: 600 threads per process x 2 processes = 1200 threads exceed the limit of 1024"}},

		// functions.
		{"functions list", "name: t\nthreads: [{run: f}]\nfunctions: [f]\n", []string{"t.yaml:3:12: functions: expected a mapping of function names to lists of operations, got a list"}},
		{"functions empty", "name: t\nthreads: [{run: f}]\nfunctions: {}\n", []string{"t.yaml:3:12: functions: expected at least one function, got an empty mapping"}},
		{"too many functions", manyFuncs.String(), []string{"t.yaml:4:3: functions: 4097 functions exceed the limit of 4096"}},
		{"function key list", "name: t\nthreads: [{run: f}]\nfunctions:\n  f: [{sleep: 1ms}]\n  ? [g]\n  : [{sleep: 1ms}]\n", []string{"t.yaml:5:5: functions: expected a function name, got a list"}},
		{"function twice", "name: t\nthreads: [{run: f}]\nfunctions:\n  f: [{sleep: 1ms}]\n  f: [{sleep: 2ms}]\n", []string{"t.yaml:5:3: functions.f: function defined twice (first at line 4)"}},
		{"function name bad", "name: t\nthreads: [{run: f}]\nfunctions:\n  f: [{sleep: 1ms}]\n  \" g\": [{sleep: 2ms}]\n", []string{`t.yaml:5:3: functions. g: expected a name without leading or trailing spaces`}},
		{"function not a list", "name: t\nthreads: [{run: f}]\nfunctions:\n  f: {sleep: 1ms}\n", []string{"t.yaml:4:6: functions.f: expected a list of operations (each item like - compute: 2ms), got a mapping"}},
		{"function empty", "name: t\nthreads: [{run: f}]\nfunctions:\n  f: []\n", []string{"t.yaml:4:6: functions.f: expected at least one operation, got an empty list"}},
		{"function null", "name: t\nthreads: [{run: f}]\nfunctions:\n  f:\n", []string{"t.yaml:4:5: functions.f: expected a list of operations (each item like - compute: 2ms), got nothing"}},
		{"too many operations", manyOps.String(), []string{"functions.f100[", "more than 100000 operations in the workload; that is the limit"}},
		{"nesting too deep", nestedYAML(MaxDepth + 1), []string{"t.yaml:4:", ".repeat.body: operations nest 33 deep, beyond the limit of 32"}},
		{"call chain too deep", chainYAML(MaxDepth + 1), []string{"t.yaml:2:17: threads[0].run: calls nest 33 frames deep (f0 -> f1 -> f2 -> ... -> f31 -> f32), beyond the limit of 32"}},

		// operations.
		{"op scalar", opYAML("sleep"), []string{`t.yaml:5:7: functions.f[0]: expected an operation (one of call, compute, io, sleep, native, lock, repeat, join, start, wait, notify), got "sleep" (sleep needs a value: - sleep: ...)`}},
		{"op without space", opYAML("compute:2ms"), []string{`t.yaml:5:7: functions.f[0]: expected an operation (one of call, compute, io, sleep, native, lock, repeat, join, start, wait, notify), got "compute:2ms" (put a space after the colon: - compute: 2ms)`}},
		{"op number", opYAML("3"), []string{"t.yaml:5:7: functions.f[0]: expected an operation (one of call, compute, io, sleep, native, lock, repeat, join, start, wait, notify), got 3"}},
		{"op empty mapping", opYAML("{}"), []string{"t.yaml:5:7: functions.f[0]: expected an operation (one of call", "got an empty mapping"}},
		{"op two keys", opYAML("call: g\n      io: 1ms"), []string{"t.yaml:6:7: functions.f[0]: an operation has exactly one key, got call and io; start each operation with its own -"}},
		{"op unknown", opYAML("computee: 1ms"), []string{`t.yaml:5:7: functions.f[0]: unknown operation "computee" (did you mean "compute"?); expected one of call, compute, io, sleep, native, lock, repeat`}},
		{"op unknown far", opYAML("print: hello"), []string{`t.yaml:5:7: functions.f[0]: unknown operation "print"; expected one of`}},
		{"op key list", opYAML("? [a]\n      : 1"), []string{"t.yaml:5:9: functions.f[0]: expected an operation name, got a list"}},
		{"call unknown", opYAML("call: g"), []string{`t.yaml:5:7: functions.f[0].call: unknown function "g"`}},
		{"call typo", "name: t\nthreads: [{run: f}]\nfunctions:\n  f: [{call: rendr}]\n  render: [{sleep: 1ms}]\n", []string{`t.yaml:4:8: functions.f[0].call: unknown function "rendr" (did you mean "render"?)`}},
		{"call in body unknown", opYAML("repeat: {times: 2, body: [{call: g}]}"), []string{`t.yaml:5:34: functions.f[0].repeat.body[0].call: unknown function "g"`}},
		{"call in lock unknown", opYAML("lock: {name: l, body: [{call: g}]}"), []string{`t.yaml:5:31: functions.f[0].lock.body[0].call: unknown function "g"`}},
		{"call list", opYAML("call: [g]"), []string{"t.yaml:5:13: functions.f[0].call: expected a name, got a list"}},
		{"call self", opYAML("call: f"), []string{"t.yaml:5:7: functions.f[0].call: calls recurse: f -> f; recursion is not supported"}},
		{"call cycle", "name: t\nthreads: [{run: a}]\nfunctions:\n  a: [{call: b}]\n  b: [{sleep: 1ms}, {call: c}]\n  c: [{repeat: {times: 2, body: [{call: a}]}}]\n", []string{"t.yaml:6:35: functions.c[0].repeat.body[0].call: calls recurse: a -> b -> c -> a"}},
		{"compute int", opYAML("compute: 2000"), []string{"t.yaml:5:16: functions.f[0].compute: expected a duration like 2ms, or {loops: 2000} for an exact count of loop iterations; got 2000"}},
		{"compute zero", opYAML("compute: 0s"), []string{"t.yaml:5:16: functions.f[0].compute: expected a duration greater than 0, got 0s"}},
		{"compute too long", opYAML("compute: 61m"), []string{"t.yaml:5:16: functions.f[0].compute: 61m exceeds the limit of 1h"}},
		{"compute overflow", opYAML("compute: 9999999999999h"), []string{`functions.f[0].compute: expected a duration like 200us, 5ms or 1.5s, got "9999999999999h"`}},
		{"compute both", opYAML("compute: {duration: 1ms, loops: 10}"), []string{"t.yaml:5:32: functions.f[0].compute: give either duration or loops, not both"}},
		{"compute neither", opYAML("compute: {}"), []string{"t.yaml:5:16: functions.f[0].compute: expected duration or loops, got an empty mapping"}},
		{"compute unknown key", opYAML("compute: {loop: 10}"), []string{`t.yaml:5:17: functions.f[0].compute: unknown key "loop" (did you mean "loops"?)`}},
		{"compute list", opYAML("compute: [1ms]"), []string{"t.yaml:5:16: functions.f[0].compute: expected a duration like 200us, 5ms or 1.5s, got a list"}},
		{"loops zero", opYAML("compute: {loops: 0}"), []string{"t.yaml:5:24: functions.f[0].compute.loops: expected a positive integer, got 0"}},
		{"loops over limit", opYAML("compute: {loops: 2e11}"), []string{"t.yaml:5:24: functions.f[0].compute.loops: 2e11 exceeds the limit of 100000000000"}},
		{"loops duration", opYAML("compute: {loops: 5ms}"), []string{`functions.f[0].compute.loops: expected a positive integer, got "5ms"`}},
		{"compute duration bad", opYAML("compute: {duration: 5}"), []string{"t.yaml:5:27: functions.f[0].compute.duration: expected a duration with a unit (ns, us, ms, s, m, h), like 5ms; got 5"}},
		{"compute duration NaN", opYAML("compute: {duration: NaN}"), []string{"functions.f[0].compute.duration: expected a duration like 200us, 5ms or 1.5s, got"}},
		{"io unit missing", opYAML("io: 20"), []string{"t.yaml:5:11: functions.f[0].io: expected a duration with a unit (ns, us, ms, s, m, h), like 20ms; got 20"}},
		{"io bool", opYAML("io: true"), []string{"t.yaml:5:11: functions.f[0].io: expected a duration like 200us, 5ms or 1.5s, got true"}},
		{"io negative", opYAML("io: -5ms"), []string{"t.yaml:5:11: functions.f[0].io: expected a duration greater than 0, got -5ms"}},
		{"io duration missing", opYAML("io: {kind: db}"), []string{"t.yaml:5:11: functions.f[0].io.duration: missing; expected a duration like 20ms"}},
		{"io unknown key", opYAML("io: {duration: 1ms, jiter: 1ms}"), []string{`t.yaml:5:27: functions.f[0].io: unknown key "jiter" (did you mean "jitter"?)`}},
		{"io jitter too large", opYAML("io: {duration: 5ms, jitter: 6ms}"), []string{"t.yaml:5:35: functions.f[0].io.jitter: jitter 6ms exceeds the duration 5ms"}},
		{"io jitter negative", opYAML("io: {duration: 5ms, jitter: -1ms}"), []string{"t.yaml:5:35: functions.f[0].io.jitter: expected a duration of 0 or more, got -1ms"}},
		{"io kind bad", opYAML("io: {duration: 5ms, kind: Net Work}"), []string{`t.yaml:5:33: functions.f[0].io.kind: expected a lower-case word of at most 32 characters like network, disk or db, got "Net Work"`}},
		{"io kind list", opYAML("io: {duration: 5ms, kind: [db]}"), []string{"t.yaml:5:33: functions.f[0].io.kind: expected an I/O kind like network, disk or db, got a list"}},
		{"sleep zero", opYAML("sleep: 0"), []string{"t.yaml:5:14: functions.f[0].sleep: expected a duration greater than 0, got 0"}},
		{"native short bad", opYAML("native: fast"), []string{`t.yaml:5:15: functions.f[0].native: expected a duration like 200us, 5ms or 1.5s, got "fast"`}},
		{"native duration missing", opYAML("native: {releases_gil: true}"), []string{"t.yaml:5:15: functions.f[0].native.duration: missing; expected a duration like 1ms"}},
		{"native releases yes", opYAML("native: {duration: 1ms, releases_gil: yes}"), []string{`t.yaml:5:45: functions.f[0].native.releases_gil: expected true or false, got "yes"`}},
		{"native name bad", opYAML("native: {duration: 1ms, name: [x]}"), []string{"t.yaml:5:37: functions.f[0].native.name: expected a name, got a list"}},
		{"native unknown key", opYAML("native: {duration: 1ms, release_gil: true}"), []string{`t.yaml:5:31: functions.f[0].native: unknown key "release_gil" (did you mean "releases_gil"?)`}},
		{"lock scalar", opYAML("lock: cache"), []string{`t.yaml:5:13: functions.f[0].lock: expected a lock (a mapping of name, body), got "cache"`}},
		{"lock name missing", opYAML("lock: {body: [{sleep: 1ms}]}"), []string{"t.yaml:5:13: functions.f[0].lock.name: missing; expected the lock's name"}},
		{"too many locks", opYAML("repeat: {times: 1, body: [" + manyLocks + "]}"), []string{"functions.f[0].repeat.body[256].lock.name: more than 256 distinct lock names; that is the limit"}},
		{"lock body missing", opYAML("lock: {name: cache}"), []string{"t.yaml:5:13: functions.f[0].lock.body: missing; expected a list of operations run while holding the lock"}},
		{"lock body empty", opYAML("lock: {name: cache, body: []}"), []string{"t.yaml:5:33: functions.f[0].lock.body: expected at least one operation, got an empty list"}},
		{"lock body bad op", opYAML("lock: {name: cache, body: [{io: x}]}"), []string{`t.yaml:5:39: functions.f[0].lock.body[0].io: expected a duration like 200us, 5ms or 1.5s, got "x"`}},
		{"repeat times missing", opYAML("repeat: {body: [{sleep: 1ms}]}"), []string{"t.yaml:5:15: functions.f[0].repeat.times: missing; expected a positive integer"}},
		{"repeat times zero", opYAML("repeat: {times: 0, body: [{sleep: 1ms}]}"), []string{"t.yaml:5:23: functions.f[0].repeat.times: expected a positive integer, got 0"}},
		{"repeat times over limit", opYAML("repeat: {times: 1e7, body: [{sleep: 1ms}]}"), []string{"t.yaml:5:23: functions.f[0].repeat.times: 1e7 exceeds the limit of 1000000"}},
		{"repeat body missing", opYAML("repeat: {times: 2}"), []string{"t.yaml:5:15: functions.f[0].repeat.body: missing; expected a list of operations to repeat"}},
		{"repeat body scalar", opYAML("repeat: {times: 2, body: sleep}"), []string{`t.yaml:5:32: functions.f[0].repeat.body: expected a list of operations (each item like - compute: 2ms), got "sleep"`}},

		// Guest locks that would deadlock.
		{"lock taken twice", opYAML("lock: {name: a, body: [{repeat: {times: 2, body: [{lock: {name: a, body: [{sleep: 1ms}]}}]}}]}"), []string{`t.yaml:5:58: functions.f[0].lock.body[0].repeat.body[0].lock: lock "a" is already held here (taken at 5:7); a threading.Lock would deadlock`}},
		// Reported beside a recursion too, which stopped the lock checks.
		{"lock taken twice beside recursion", "name: t\nthreads: [{run: f}]\nfunctions:\n  f: [{call: g}, {lock: {name: a, body: [{lock: {name: a, body: [{sleep: 1ms}]}}]}}]\n  g: [{call: g}]\n",
			[]string{`t.yaml:4:43: functions.f[1].lock.body[0].lock: lock "a" is already held here (taken at 4:19); a threading.Lock would deadlock`, "t.yaml:5:8: functions.g[0].call: calls recurse: g -> g"}},
		{"lock taken twice through a call cycle", "name: t\nthreads: [{run: f}]\nfunctions:\n  f: [{lock: {name: a, body: [{call: g}]}}]\n  g: [{call: h}]\n  h: [{call: g}, {lock: {name: a, body: [{sleep: 1ms}]}}]\n",
			[]string{`t.yaml:4:32: functions.f[0].lock.body[0].call: calls g, which takes lock "a", already held here (taken at 4:8)`, "t.yaml:6:8: functions.h[0].call: calls recurse: g -> h -> g"}},
		{"lock taken twice in a refused repeat", opYAML("lock: {name: a, body: [{repeat: {times: 0, body: [{lock: {name: a, body: [{sleep: 1ms}]}}]}}]}"),
			[]string{"t.yaml:5:47: functions.f[0].lock.body[0].repeat.times: expected a positive integer, got 0", `t.yaml:5:58: functions.f[0].lock.body[0].repeat.body[0].lock: lock "a" is already held here (taken at 5:7)`}},
		{"lock taken twice through a call", "name: t\nthreads: [{run: f}]\nfunctions:\n  f: [{lock: {name: a, body: [{call: g}]}}]\n  g: [{call: h}]\n  h: [{lock: {name: a, body: [{sleep: 1ms}]}}]\n", []string{`t.yaml:4:32: functions.f[0].lock.body[0].call: calls g, which takes lock "a", already held here (taken at 4:8)`}},
		{"lock order cycle", "name: t\nthreads: [{run: f}, {run: g}]\nfunctions:\n  f: [{lock: {name: a, body: [{lock: {name: b, body: [{sleep: 1ms}]}}]}}]\n  g: [{lock: {name: b, body: [{call: h}]}}]\n  h: [{lock: {name: a, body: [{sleep: 1ms}]}}]\n", []string{`t.yaml:5:32: functions.g[0].lock.body[0].call: lock order cycle a -> b -> a ("b" inside "a" at line 4, "a" inside "b" at line 5); threads taking these locks in different orders deadlock`}},

		// Joins that name no group or would wait forever.
		{"join unknown group", "name: t\nthreads: [{name: main, run: f}, {name: worker, run: g}]\nfunctions:\n  f: [{join: workr}]\n  g: [{sleep: 1ms}]\n", []string{`t.yaml:4:8: functions.f[0].join: unknown thread group "workr" (did you mean "worker"?); expected the name of a group of threads: main, worker`}},
		{"join not a name", opYAML("join: [a]"), []string{"t.yaml:5:13: functions.f[0].join: expected a name"}},
		{"join own group", "name: t\nthreads: [{name: w, count: 2, run: f}]\nfunctions:\n  f: [{sleep: 1ms}, {call: g}]\n  g: [{join: w}]\n", []string{`t.yaml:5:8: functions.g[0].join: thread group "w" joins itself: its threads run f, which joins "w"; a thread would wait for its own end (deadlock)`}},
		{"join holding a lock through a call", "name: t\nthreads: [{name: m, run: f}, {name: w, run: g}]\nfunctions:\n  f: [{lock: {name: l, body: [{call: h}]}}]\n  h: [{join: w}]\n  g: [{lock: {name: l, body: [{sleep: 1ms}]}}]\n", []string{`t.yaml:4:32: functions.f[0].lock.body[0].call: calls h, which joins thread group "w" while holding lock "l" (taken at 4:8), which its threads, running g, take; the join would wait forever: join after the lock's body`}},
		{"join cycle", "name: t\nthreads: [{name: a, run: f}, {name: b, run: g}]\nfunctions:\n  f: [{join: b}]\n  g: [{join: a}]\n", []string{`t.yaml:5:8: functions.g[0].join: thread groups join each other: a -> b -> a; each would wait for the other to end (deadlock)`}},
		{"start unknown group", "name: t\nthreads: [{name: main, run: f}, {name: worker, run: g}]\nfunctions:\n  f: [{start: workr}]\n  g: [{sleep: 1ms}]\n", []string{`t.yaml:4:8: functions.f[0].start: unknown thread group "workr" (did you mean "worker"?); expected the name of a group of threads: main, worker`}},
		{"start own group", "name: t\nthreads: [{name: m, run: f}, {name: w, run: g}]\nfunctions:\n  f: [{sleep: 1ms}]\n  g: [{sleep: 1ms}, {start: w}]\n", []string{`t.yaml:5:22: functions.g[1].start: thread group "w" starts itself (it runs g); it would never start`}},
		{"start twice", "name: t\nthreads: [{name: m, run: f}, {name: w, run: g}]\nfunctions:\n  f: [{start: w}, {start: w}]\n  g: [{sleep: 1ms}]\n", []string{`t.yaml:4:20: functions.f[1].start: thread group "w" is started twice (first at 4:8, in f); a thread can be started only once`}},
		{"start in a repeat", "name: t\nthreads: [{name: m, run: f}, {name: w, run: g}]\nfunctions:\n  f: [{repeat: {times: 2, body: [{start: w}]}}]\n  g: [{sleep: 1ms}]\n", []string{`t.yaml:4:35: functions.f[0].repeat.body[0].start: thread group "w" is started inside a repeat body; a thread can be started only once: start it outside the repeat`}},
		{"start by two threads", "name: t\nthreads: [{name: m, count: 2, run: f}, {name: w, run: g}]\nfunctions:\n  f: [{start: w}]\n  g: [{sleep: 1ms}]\n", []string{`t.yaml:4:8: functions.f[0].start: thread group "w" would be started more than once: thread group "m" (count 2, repeat 1) runs f, which starts it; a thread can be started only once: start it from one thread`}},
		{"start by two groups", "name: t\nthreads: [{name: m, run: f}, {name: n, run: f}, {name: w, run: g}]\nfunctions:\n  f: [{call: h}]\n  h: [{start: w}]\n  g: [{sleep: 1ms}]\n", []string{`t.yaml:5:8: functions.h[0].start: thread group "w" would be started more than once: thread groups "m" and "n" run f, which starts it; a thread can be started only once: start it from one thread`}},
		{"start cycle", "name: t\nthreads: [{name: a, run: f}, {name: b, run: g}]\nfunctions:\n  f: [{start: b}]\n  g: [{start: a}]\n", []string{`t.yaml:5:8: functions.g[0].start: thread groups start each other: a <- b <- a; none of them would ever start`}},
		{"start never run", "name: t\nthreads: [{name: m, run: f}, {name: w, run: g}]\nfunctions:\n  f: [{sleep: 1ms}]\n  g: [{sleep: 1ms}]\n  h: [{start: w}]\n", []string{`t.yaml:6:8: functions.h[0].start: thread group "w" is started only in function h, which no thread runs; it would never start`}},
		{"join holding a lock", "name: t\nthreads: [{name: main, run: f}, {name: w, run: g}]\nfunctions:\n  f: [{lock: {name: l, body: [{join: w}]}}]\n  g: [{call: h}]\n  h: [{lock: {name: l, body: [{sleep: 1ms}]}}]\n", []string{`t.yaml:4:32: functions.f[0].lock.body[0].join: joins thread group "w" while holding lock "l" (taken at 4:8), which its threads, running g, take; the join would wait forever: join after the lock's body`}},

		// The planned work of a thread.
		{"thread time over limit", "name: t\nthreads: [{run: f, repeat: 100}]\nfunctions:\n  f: [{io: 1h}]\n", []string{"t.yaml:2:17: threads[0]: a thread would run for at least 100h (start_after 0s + repeat 100 x 1h per call of f), beyond the limit of 24h"}},
		{"thread time saturates", "name: t\nthreads: [{run: f, repeat: 1000000}]\nfunctions:\n  f: [{repeat: {times: 1000000, body: [{repeat: {times: 1000000, body: [{io: 1h}]}}]}}]\n", []string{"threads[0]: a thread would run for at least 292 years"}},
		{"thread loops over limit", "name: t\nthreads: [{run: f, repeat: 20}]\nfunctions:\n  f: [{compute: {loops: 1e11}}]\n", []string{"t.yaml:2:17: threads[0]: a thread would run 2000000000000 compute loops (repeat 20 x 100000000000 per call of f), beyond the limit of 1000000000000"}},
		// 10^12 operations of 1 ns: 1000 s planned, days to run (QA pass).
		{"thread operations over limit", "name: t\nthreads: [{run: f, repeat: 1000000}]\nfunctions:\n  f: [{repeat: {times: 1000000, body: [{io: 1ns}]}}]\n", []string{"t.yaml:2:17: threads[0]: a thread would run 1000001000000 operations (repeat 1000000 x 1000001 per call of f), beyond the limit of 1000000000"}},
		// Each thread within MaxThreadOps, all of them together not
		// (QA: 1024 threads x 1e8 operations would have run for hours).
		{"all threads' operations over limit", "name: t\nthreads: [{run: f, count: 1000, repeat: 1000000}]\nfunctions:\n  f: [{io: 1ns}, {io: 1ns}]\n", []string{"t.yaml:2:17: threads: the threads would run 2000000000 operations in all (each group's per thread, times its count and processes), beyond the limit of 1000000000"}},
		{"thread time through calls", "name: t\nthreads: [{run: f, start_after: 1h}]\nfunctions:\n  f: [{repeat: {times: 12, body: [{call: g}, {call: g}]}}]\n  g: [{native: 1h}]\n", []string{"threads[0]: a thread would run for at least 25h (start_after 1h + repeat 1 x 24h per call of f)"}},

		// Many errors at once: sorted, capped, summarised.
		{"many errors", manyErrs.String(), []string{"t.yaml:2:27: threads[0].count: expected a positive integer, got \"x\"\nt.yaml:5:11: functions.f[0].io: expected a duration with a unit", "t.yaml:6:11: functions.f[1].io", "\n(and 6 more errors)"}},
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range parseErrorCases() {
		t.Run(tc.name, func(t *testing.T) {
			w, err := Parse("t.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("Parse succeeded (%+v); want an error containing %q", w, tc.want)
			}
			if w != nil {
				t.Errorf("Parse returned a workload with its error")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error\n\t%s\ndoes not contain\n\t%s", err, want)
				}
			}
			var le *LoadError
			if !errors.As(err, &le) || le.File != "t.yaml" {
				t.Errorf("errors.As(*LoadError) = %v, %+v; want a LoadError of t.yaml", errors.As(err, &le), le)
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	src := []byte(opYAML("sleep: 1ms") + "# " + strings.Repeat("x", MaxFileSize))
	_, err := Parse("big.yaml", src)
	if err == nil || !strings.Contains(err.Error(), "big.yaml: file is larger than the limit of 1048576 bytes (1 MiB)") {
		t.Fatalf("Parse of %d bytes: err = %v; want the size limit", len(src), err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "reading workload") {
		t.Errorf("Load of a missing file: err = %v; want a wrapped os.ErrNotExist", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxFileSize+10), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), big+": file is larger than the limit") {
		t.Errorf("Load of a big file: err = %v; want the size limit with the path", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(threadYAML("run: f\n    count: eight")), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(bad)
	if err == nil || err.Error() != bad+`:5:12: threads[0].count: expected a positive integer, got "eight"` {
		t.Errorf("Load of a bad file: err = %v", err)
	}
}

func TestLoadErrorsUnwrap(t *testing.T) {
	_, err := Parse("t.yaml", []byte(opYAML("io: 20\n    - compute: 3")))
	var list *LoadErrors
	if !errors.As(err, &list) || len(list.Errs) != 2 || list.Omitted != 0 {
		t.Fatalf("err = %v; want a LoadErrors of 2", err)
	}
	if got := list.Errs[1]; got.Line != 6 || got.Col != 16 || got.Field != "functions.f[1].compute" {
		t.Errorf("second error = %+v; want line 6 col 16 field functions.f[1].compute", got)
	}
	var le *LoadError
	if !errors.As(err, &le) || le.Line != 5 {
		t.Errorf("errors.As gives %+v; want the first error", le)
	}
}

func TestParseDefaults(t *testing.T) {
	w, err := Parse("", []byte("name: t\nthreads: [{run: f}]\nfunctions: {f: [{io: 1ms}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Workload{
		Name:      "t",
		GIL:       GILConfig{Mode: "cpython", SwitchInterval: 5 * time.Millisecond, CheckInterval: 100},
		Processes: 1,
		Seed:      DefaultSeed,
		Threads:   []ThreadGroup{{Name: "f", Count: 1, Run: "f", Repeat: 1, Line: 2}},
		Functions: map[string]*Function{"f": {Name: "f", Line: 3, Ops: []Op{{Kind: OpIO, Line: 3, Col: 18, Duration: time.Millisecond, IOKind: "io"}}}},
		File:      "",
		Source:    w.Source,
	}
	if !reflect.DeepEqual(w, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", w, want)
	}
}

func TestParseWithoutName(t *testing.T) {
	_, err := Parse("", []byte("name: t\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "workload:1:1: functions: missing") {
		t.Errorf("err = %v; want errors prefixed with \"workload\"", err)
	}
}

func TestParseForms(t *testing.T) {
	src := `version: 1
name: forms
description: every form of every field
gil: {mode: legacy, check_interval: 1_000}
processes: 2
seed: -7
threads:
  - {name: w, count: 3, run: main, repeat: 1e3, start_after: 1.5s}
functions:
  2to3: &body [{io: 1ms}]
  main:
    - call: "2to3"
    - compute: 2ms
    - compute: {loops: 1e6}
    - compute: {duration: 150us}
    - io: 20ms
    - io: {duration: 20ms, jitter: 0s, kind: db}
    - sleep: 1ms
    - native: 3ms
    - native: {duration: 1ms, releases_gil: true, name: numpy.dot}
    - lock: {name: cache, body: [{compute: 100us}]}
    - repeat: {times: 3, body: *body}
`
	w, err := Parse("forms.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if w.GIL != (GILConfig{Mode: "legacy", SwitchInterval: DefaultSwitchInterval, CheckInterval: 1000}) {
		t.Errorf("GIL = %+v", w.GIL)
	}
	if w.Processes != 2 || w.Seed != -7 || w.Description != "every form of every field" {
		t.Errorf("Processes, Seed, Description = %d, %d, %q", w.Processes, w.Seed, w.Description)
	}
	if want := (ThreadGroup{Name: "w", Count: 3, Run: "main", Repeat: 1000, StartAfter: 1500 * time.Millisecond, Line: 8}); !reflect.DeepEqual(w.Threads, []ThreadGroup{want}) {
		t.Errorf("Threads = %+v; want %+v", w.Threads, want)
	}
	io1 := Op{Kind: OpIO, Line: 10, Col: 17, Duration: time.Millisecond, IOKind: "io"}
	want := []Op{
		{Kind: OpCall, Line: 12, Col: 7, Func: "2to3"},
		{Kind: OpCompute, Line: 13, Col: 7, Duration: 2 * time.Millisecond},
		{Kind: OpCompute, Line: 14, Col: 7, Loops: 1_000_000},
		{Kind: OpCompute, Line: 15, Col: 7, Duration: 150 * time.Microsecond},
		{Kind: OpIO, Line: 16, Col: 7, Duration: 20 * time.Millisecond, IOKind: "io"},
		{Kind: OpIO, Line: 17, Col: 7, Duration: 20 * time.Millisecond, IOKind: "db"},
		{Kind: OpIO, Line: 18, Col: 7, Duration: time.Millisecond, IOKind: "sleep"},
		{Kind: OpNative, Line: 19, Col: 7, Duration: 3 * time.Millisecond},
		{Kind: OpNative, Line: 20, Col: 7, Duration: time.Millisecond, ReleasesGIL: true, NativeName: "numpy.dot"},
		{Kind: OpLock, Line: 21, Col: 7, Lock: "cache", Body: []Op{{Kind: OpCompute, Line: 21, Col: 35, Duration: 100 * time.Microsecond}}},
		{Kind: OpRepeat, Line: 22, Col: 7, Times: 3, Body: []Op{io1}},
	}
	if got := w.Functions["main"].Ops; !reflect.DeepEqual(got, want) {
		t.Errorf("main ops:\n got %+v\nwant %+v", got, want)
	}
	if got := w.Functions["2to3"]; got.Line != 10 || !reflect.DeepEqual(got.Ops, []Op{io1}) {
		t.Errorf("2to3 = %+v", got)
	}
}

func TestParseLimitsInclusive(t *testing.T) {
	// Exactly at each limit loads.
	srcs := map[string]string{
		"depth":    nestedYAML(MaxDepth),
		"chain":    chainYAML(MaxDepth),
		"threads":  "name: t\nprocesses: 2\nthreads: [{run: f, count: 512}]\nfunctions: {f: [{sleep: 1ms}]}\n",
		"duration": opYAML("io: 1h"),
		"loops":    "name: t\nthreads: [{run: f, repeat: 10}]\nfunctions: {f: [{compute: {loops: 1e11}}]}\n",
		"time":     "name: t\nthreads: [{run: f, repeat: 24}]\nfunctions: {f: [{io: 1h}]}\n",
		"switch":   gilYAML("{switch_interval: 1us}"),
	}
	for name, src := range srcs {
		if _, err := Parse(name, []byte(src)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParseLocksWithoutDeadlock(t *testing.T) {
	// The same lock taken one after the other, and locks always taken in one
	// order (c, then a or b; a, then b), cannot deadlock.
	src := `name: t
threads: [{run: f, count: 2}, {run: g}]
functions:
  f:
    - lock: {name: a, body: [{sleep: 1ms}]}
    - lock: {name: c, body: [{call: g}]}
  g:
    - lock: {name: b, body: [{sleep: 1ms}]}
    - call: h
  h:
    - lock: {name: a, body: [{lock: {name: b, body: [{sleep: 1ms}]}}]}
`
	if _, err := Parse("t.yaml", []byte(src)); err != nil {
		t.Fatal(err)
	}
}

func TestParseJoin(t *testing.T) {
	// main joins the workers (started later), holding a lock they never
	// take; two groups of one name are joined together.
	src := `name: t
threads:
  - {name: main, run: main}
  - {name: worker, count: 3, run: work, start_after: 10ms}
  - {name: worker2, run: work}
functions:
  main:
    - lock: {name: log, body: [{join: worker}]}
    - join: worker2
  work:
    - compute: 1ms
`
	w, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	ops := w.Functions["main"].Ops
	if j := ops[0].Body[0]; j.Kind != OpJoin || j.Group != "worker" || j.Line != 8 || j.Col != 33 {
		t.Errorf("join op %+v, expected worker at 8:33", j)
	}
	if j := ops[1]; j.Kind != OpJoin || j.Group != "worker2" {
		t.Errorf("join op %+v, expected worker2", j)
	}
	if err := checkWorkload(w); err != nil {
		t.Error(err)
	}
}

func TestParseSourceIsCopied(t *testing.T) {
	src := []byte(opYAML("sleep: 1ms"))
	w, err := Parse("t.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	src[0] = 'X'
	if w.Source[0] != 'n' {
		t.Error("Workload.Source shares the caller's slice")
	}
}

func TestDidYouMean(t *testing.T) {
	keys := []string{"name", "count", "run", "repeat", "start_after"}
	for word, want := range map[string]string{
		"cuont":      ` (did you mean "count"?)`,
		"Name":       ` (did you mean "name"?)`,
		"startafter": ` (did you mean "start_after"?)`,
		"x":          "",
		"threads":    "",
	} {
		if got := didYouMean(word, keys); got != want {
			t.Errorf("didYouMean(%q) = %q; want %q", word, got, want)
		}
	}
}

func TestLoadFixtures(t *testing.T) {
	paths, err := filepath.Glob("../../fixtures/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no fixtures found in ../fixtures")
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			w, err := Load(p)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if w.File != p || len(w.Source) == 0 {
				t.Errorf("File = %q, len(Source) = %d; want the path and the text", w.File, len(w.Source))
			}
			if want := strings.TrimSuffix(filepath.Base(p), ".yaml"); w.Name != want {
				t.Errorf("name = %q; want the file's name %q", w.Name, want)
			}
			if !strings.HasPrefix(string(w.Source), "# "+w.Name+": ") || !strings.Contains(string(w.Source), "Expect:") {
				t.Errorf("the header comment must start with %q and say what to expect (Expect:)", "# "+w.Name+": ")
			}
		})
	}
}

// TestVMDocOperations keeps docs/vm.md's Operations table in step with the
// operations a workload has: a row for each, and the wait row's notify as
// workloads.md documents it (it said once "what notifies it is not
// modelled").
func TestVMDocOperations(t *testing.T) {
	doc, err := os.ReadFile("../../docs/vm.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## Operations\n")
	if !ok {
		t.Fatal("docs/vm.md has no Operations section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	rows := map[string]string{} // operation: its row
	for line := range strings.Lines(section) {
		cells := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| `") || len(cells) < 3 {
			continue
		}
		for _, name := range opNames {
			if strings.Contains(cells[0], "`"+name+"`") {
				rows[name] += line
			}
		}
	}
	for _, name := range opNames {
		if rows[name] == "" {
			t.Errorf("docs/vm.md's Operations table has no row for %s", name)
		}
	}
	if w := rows["wait"]; !strings.Contains(w, "until: notify") || strings.Contains(w, "not modelled") {
		t.Errorf("docs/vm.md's wait row does not describe wait until: notify:\n%s", w)
	}
}

// TestDocsExamples keeps docs/workloads.md honest: every yaml block is valid
// YAML, and every block that is a whole workload (it has name:) loads.
func TestDocsExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/workloads.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```yaml\n")[1:]
	if len(blocks) < 10 {
		t.Fatalf("found %d yaml blocks in docs/workloads.md; the reference has an example per field", len(blocks))
	}
	whole := 0
	for i, b := range blocks {
		b, _, _ = strings.Cut(b, "```")
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(b), &n); err != nil {
			t.Errorf("block %d is not valid YAML: %v\n%s", i, err, b)
			continue
		}
		if strings.HasPrefix(b, "name:") {
			whole++
			if _, err := Parse(fmt.Sprintf("docs block %d", i), []byte(b)); err != nil {
				t.Errorf("block %d does not load: %v", i, err)
			}
		}
	}
	if whole == 0 {
		t.Error("no whole workload among the docs' examples")
	}
}

// TestDaemonThreads: daemon: true marks a group's threads as daemons; a
// process whose threads are all daemons is refused, naming the process,
// and one with no thread at all is refused as such, not as one of daemons.
func TestDaemonThreads(t *testing.T) {
	w, err := Parse("t.yaml", []byte("name: t\nthreads:\n  - {run: f}\n  - {run: f, name: bg, daemon: true}\nfunctions:\n  f: [{compute: 1ms}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if w.Threads[0].Daemon || !w.Threads[1].Daemon {
		t.Errorf("daemon flags %v %v, want false true", w.Threads[0].Daemon, w.Threads[1].Daemon)
	}
	for _, tc := range []struct{ src, want string }{
		{"name: t\nthreads:\n  - {run: f, daemon: true}\nfunctions:\n  f: [{compute: 1ms}]\n",
			"t.yaml:3:3: threads: every thread of the workload is a daemon"},
		{"name: t\nprocesses: 2\nthreads:\n  - {run: f, process: 1}\n  - {run: f, name: g, process: 2, daemon: true}\nfunctions:\n  f: [{compute: 1ms}]\n",
			"threads: every thread of process 2 is a daemon"},
		{"name: t\nprocesses: 3\nthreads:\n  - {run: f, process: 1}\n  - {run: f, name: g, process: 3}\nfunctions:\n  f: [{compute: 1ms}]\n",
			"threads: process 2 has no thread (no group without process:, and none with process: 2)"},
		{"name: t\nthreads:\n  - {run: f, daemon: yes}\nfunctions:\n  f: [{compute: 1ms}]\n",
			`threads[0].daemon: expected true or false, got "yes"`},
	} {
		_, err := Parse("t.yaml", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.src, err, tc.want)
		}
	}
}

// TestLoadErrorsOmittedOne: one error left out is "1 more error".
func TestLoadErrorsOmittedOne(t *testing.T) {
	e := &LoadErrors{Errs: []*LoadError{{File: "t.yaml", Line: 1, Col: 1, Msg: "x"}, {File: "t.yaml", Line: 2, Col: 1, Msg: "y"}}, Omitted: 1}
	if got, want := e.Error(), "t.yaml:1:1: x\nt.yaml:2:1: y\n(and 1 more error)"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}

// TestParseModelSize: a model giltrace wrote (ModelHeader) may exceed a
// hand-written file's MaxFileSize up to MaxModelSize, and past that the
// error names its size and the bound.
func TestParseModelSize(t *testing.T) {
	body := opYAML("sleep: 1ms")
	src := []byte(ModelHeader + " from x\n" + body + "# " + strings.Repeat("x", MaxFileSize))
	if _, err := Parse("model", src); err != nil {
		t.Fatalf("Parse of a model of %d bytes: %v", len(src), err)
	}
	src = []byte(ModelHeader + " from x\n" + body + "# " + strings.Repeat("x", MaxModelSize))
	_, err := Parse("model", src)
	want := fmt.Sprintf("model: model of %d bytes is larger than the limit of %d bytes (16 MiB)", len(src), MaxModelSize)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Parse of a model of %d bytes: err = %v; want %q", len(src), err, want)
	}
}
