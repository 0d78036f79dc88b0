package workload

import (
	"strings"
	"testing"
	"time"
)

// TestThreadGroupProcess: process: K gives a group to one process; names
// are unique within a process; joins and starts act within a process.
func TestThreadGroupProcess(t *testing.T) {
	const pool = `name: pool
processes: 3
threads:
  - {name: MainThread, run: parent, process: 1}
  - {name: helper, run: h, process: 1}
  - {name: MainThread, run: w, process: 2}
  - {name: MainThread, run: w, process: 3}
  - {name: everywhere, run: h}
functions:
  parent: [{start: helper}, {compute: 1ms}, {join: helper}]
  h: [{sleep: 1ms}]
  w: [{compute: 2ms}]
`
	w, err := Parse("pool.yaml", []byte(pool))
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, g := range w.Threads {
		got = append(got, g.Process)
	}
	if want := []int{1, 1, 2, 3, 0}; !equalInts(got, want) {
		t.Errorf("processes %v, want %v", got, want)
	}
	if !w.Threads[4].InProcess(2) || w.Threads[2].InProcess(3) || !w.Threads[2].InProcess(2) {
		t.Errorf("InProcess wrong: %+v", w.Threads)
	}
	for _, tc := range []struct{ name, src, want string }{
		{"beyond the processes", strings.Replace(pool, "process: 3}", "process: 4}", 1),
			"pool.yaml:7:5: threads[3].process: process 4, but the workload runs 3 processes (processes: 3)"},
		{"one process", "name: t\nthreads: [{run: f, process: 2}]\nfunctions: {f: [{sleep: 1ms}]}\n",
			"process 2, but the workload runs 1 process (processes: 1)"},
		{"zero", strings.Replace(pool, "process: 3}", "process: 0}", 1), "threads[3].process: expected a positive integer, got 0"},
		{"a name twice in one process", strings.Replace(pool, "w, process: 3}", "w, process: 2}", 1),
			`thread name "MainThread" is also given by threads[2]`},
		{"a name in every process and in one", strings.Replace(pool, "{name: everywhere, run: h}", "{name: helper, run: h}", 1),
			`thread name "helper" is also given by threads[1]`},
		{"a start made in another process", strings.Replace(pool, "run: parent, process: 1}", "run: parent, process: 2}", 1),
			`thread group "helper" is started only in function parent, which no thread runs`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("pool.yaml", []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
			if tc.name == "beyond the processes" && strings.Contains(err.Error(), "is also given by") {
				// QA: the group was named again in every process.
				t.Errorf("a second error follows from the first: %v", err)
			}
		})
	}
	// Each process starts its own group of one name: not a double start.
	own := `name: own
processes: 2
threads:
  - {name: main, run: m, process: 1}
  - {name: main, run: m, process: 2}
  - {name: worker, run: h, process: 1}
  - {name: worker, run: h, process: 2}
functions:
  m: [{start: worker}, {join: worker}]
  h: [{sleep: 1ms}]
`
	if _, err := Parse("own.yaml", []byte(own)); err != nil {
		t.Errorf("each process starting its own worker: %v", err)
	}
	// ... but two starters in one process are.
	two := strings.Replace(own, "{name: main, run: m, process: 2}", "{name: main2, run: m, process: 1}", 1)
	if _, err := Parse("two.yaml", []byte(two)); err == nil || !strings.Contains(err.Error(), "would be started more than once") {
		t.Errorf("two starters in one process: %v", err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestThreadTotalWithProcesses: a group of one process counts once.
func TestThreadTotalWithProcesses(t *testing.T) {
	src := "name: t\nprocesses: 64\nthreads:\n  - {run: f, count: 16}\n  - {run: f, name: one, count: 1000, process: 1}\nfunctions: {f: [{sleep: 1ms}]}\n"
	_, err := Parse("t.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "16 threads in every process x 64 processes + 1000 threads of one process = 2024 threads exceed the limit of 1024") {
		t.Errorf("error %v", err)
	}
	// One of each is singular (QA: "+ 1 threads of one process").
	one := "name: t\nprocesses: 2\nthreads:\n  - {run: f, count: 1}\n  - {run: f, name: one, count: 1023, process: 1}\nfunctions: {f: [{sleep: 1ms}]}\n"
	if _, err := Parse("t.yaml", []byte(one)); err == nil || err.Error() != "t.yaml:4:3: threads: 1 thread in every process x 2 processes + 1023 threads of one process = 1025 threads exceed the limit of 1024" {
		t.Errorf("error %v", err)
	}
	pinned := "name: t\nthreads:\n  - {run: f, name: a, count: 600, process: 1}\n  - {run: f, name: b, count: 600, process: 1}\nfunctions: {f: [{sleep: 1ms}]}\n"
	if _, err := Parse("t.yaml", []byte(pinned)); err == nil || err.Error() != "t.yaml:3:3: threads: 1200 threads of one process exceed the limit of 1024" {
		t.Errorf("error %v", err)
	}
	ok := "name: t\nprocesses: 64\nthreads:\n  - {run: f, count: 8}\n  - {run: f, name: one, count: 512, process: 1}\nfunctions: {f: [{sleep: 1ms}]}\n"
	if _, err := Parse("t.yaml", []byte(ok)); err != nil {
		t.Errorf("8 x 64 + 512 threads: %v", err)
	}
}

// TestWaitOperation: wait: D and {duration, lock}; a wait on a lock held
// around it is refused.
func TestWaitOperation(t *testing.T) {
	w, err := Parse("t.yaml", []byte(opYAML("wait: 5ms")))
	if err != nil {
		t.Fatal(err)
	}
	if op := w.Functions["f"].Ops[0]; op.Kind != OpWait || op.Duration != 5*time.Millisecond || op.Lock != DefaultWaitLock {
		t.Errorf("wait: 5ms gave %+v", op)
	}
	w, err = Parse("t.yaml", []byte(opYAML("wait: {duration: 2ms, lock: queue}")))
	if err != nil {
		t.Fatal(err)
	}
	if op := w.Functions["f"].Ops[0]; op.Kind != OpWait || op.Duration != 2*time.Millisecond || op.Lock != "queue" {
		t.Errorf("wait: {duration: 2ms, lock: queue} gave %+v", op)
	}
	for _, tc := range []struct{ src, want string }{
		{opYAML("wait: {lock: queue}"), "functions.f[0].wait.duration: missing"},
		{opYAML("wait: {duration: 1ms, lock: q, kind: x}"), "unknown key"},
		{opYAML("wait: -1ms"), "functions.f[0].wait"},
		{opYAML("lock: {name: q, body: [{wait: {duration: 1ms, lock: q}}]}"), `waits on lock "q", already held here`},
		// until: notify
		{opYAML("wait: {lock: done, until: notify}"), `functions.f[0].wait: waits until a notify on lock "done", but no operation notifies it (notify: done); it would wait forever`},
		{opYAML("wait: {lock: done, until: notify, duration: -3ms}") + "    - notify: done\n", "functions.f[0].wait.duration"},
		{opYAML("wait: {lock: done, until: later}") + "    - notify: done\n", `functions.f[0].wait.until: expected notify`},
		{opYAML("repeat: {times: 2, body: [{wait: {lock: d, until: notify}}]}") + "    - notify: e\n", `functions.f[0].repeat.body[0].wait: waits until a notify on lock "d"`},
		{opYAML("notify: {lock: x}"), "functions.f[0].notify"},
		// io ended by a notify (until: L)
		{opYAML("io: {duration: 5ms, kind: disk, until: res}"), `functions.f[0].io.until: waits until a notify on lock "res", but no operation notifies it (notify: res)`},
		{opYAML("io: {duration: 5ms, until: [x]}") + "    - notify: x\n", "functions.f[0].io.until"},
		{opYAML("io: {kind: disk, until: res}") + "    - notify: res\n", "functions.f[0].io.duration: missing"},
		// An operation refused keeps its place: the next is f[1].
		{opYAML("compute: 5") + "    - wait: {lock: done, until: notify}\n", `functions.f[1].wait: waits until a notify on lock "done"`},
	} {
		if _, err := Parse("t.yaml", []byte(tc.src)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.src, err, tc.want)
		}
	}
	w, err = Parse("t.yaml", []byte(opYAML("wait: {lock: done, until: notify}")+"    - notify: done\n"))
	if err != nil {
		t.Fatal(err)
	}
	if op := w.Functions["f"].Ops[0]; op.Kind != OpWait || !op.UntilNotify || op.Lock != "done" || op.Duration != 0 {
		t.Errorf("wait: {lock: done, until: notify} gave %+v", op)
	}
	w, err = Parse("t.yaml", []byte(opYAML("wait: {lock: done, until: notify, duration: 3ms}")+"    - notify: done\n"))
	if err != nil {
		t.Fatal(err)
	}
	if op := w.Functions["f"].Ops[0]; !op.UntilNotify || op.Duration != 3*time.Millisecond {
		t.Errorf("wait: {lock: done, until: notify, duration: 3ms} gave %+v", op)
	}
	if op := w.Functions["f"].Ops[1]; op.Kind != OpNotify || op.Lock != "done" {
		t.Errorf("notify: done gave %+v", op)
	}
	w, err = Parse("t.yaml", []byte(opYAML("io: {duration: 5ms, kind: disk, until: res}")+"    - notify: res\n"))
	if err != nil {
		t.Fatal(err)
	}
	if op := w.Functions["f"].Ops[0]; op.Kind != OpIO || !op.UntilNotify || op.Lock != "res" || op.IOKind != "disk" || op.Duration != 5*time.Millisecond {
		t.Errorf("io: {duration: 5ms, kind: disk, until: res} gave %+v", op)
	}
}

// TestJoinBeforeStart: a thread that joins a group before it starts it
// would wait forever; joining it after the start, or a group another
// thread starts, is fine.
func TestJoinBeforeStart(t *testing.T) {
	const src = `name: t
threads:
  - {name: main, run: main}
  - {name: w, run: work}
functions:
  main: [{compute: 1ms}, {call: finish}, {start: w}]
  finish: [{join: w}]
  work: [{compute: 1ms}]
`
	_, err := Parse("t.yaml", []byte(src))
	want := `t.yaml:7:13: functions.finish[0].join: thread group "main" joins thread group "w" before it starts it (at 6:43, in main); the join would wait forever`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %q", err, want)
	}
	for name, ok := range map[string]string{
		"join after the start":                    strings.Replace(src, "[{compute: 1ms}, {call: finish}, {start: w}]", "[{compute: 1ms}, {start: w}, {call: finish}]", 1),
		"start and join in a lock body, in order": strings.Replace(src, "[{compute: 1ms}, {call: finish}, {start: w}]", "[{lock: {name: l, body: [{start: w}, {call: finish}]}}]", 1),
		"a joiner that does not start":            strings.Replace(src, "  - {name: w, run: work}\n", "  - {name: w, run: work}\n  - {name: other, run: finish}\n", 1) + "",
	} {
		if name == "a joiner that does not start" {
			ok = strings.Replace(ok, "[{compute: 1ms}, {call: finish}, {start: w}]", "[{compute: 1ms}, {start: w}]", 1)
		}
		if _, err := Parse("t.yaml", []byte(ok)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestStartTwiceByOneThread: a function holding a start, called twice by
// its one thread, loads (the second start does nothing, docs/workloads.md).
func TestStartTwiceByOneThread(t *testing.T) {
	src := `name: st2
threads:
  - {name: m, run: f}
  - {name: w, run: g}
functions:
  f: [{call: s}, {compute: 1ms}, {call: s}]
  s: [{start: w}]
  g: [{compute: 1ms}]
`
	if _, err := Parse("st2.yaml", []byte(src)); err != nil {
		t.Errorf("a start called twice by one thread: %v", err)
	}
}
