package chrometest_test

import (
	"strings"
	"testing"

	"github.com/giltrace/giltrace/internal/chrometest"
)

// Events of a small valid trace: a process and thread named, slice a
// [0, 10) µs with b [1, 6) inside it, a flow from b to a later thread's
// slice, and a counter.
const (
	procName   = `{"ph":"M","name":"process_name","pid":1,"tid":2,"args":{"name":"p"}}`
	threadName = `{"ph":"M","name":"thread_name","pid":1,"tid":2,"args":{"name":"t"}}`
	sliceA     = `{"ph":"X","name":"a","pid":1,"tid":2,"ts":0,"dur":10}`
	sliceB     = `{"ph":"X","name":"b","pid":1,"tid":2,"ts":1.5,"dur":4.5}`
	sliceC     = `{"ph":"X","name":"c","pid":1,"tid":3,"ts":7,"dur":2}`
	flowS      = `{"ph":"s","id":1,"cat":"k","name":"f","pid":1,"tid":2,"ts":3}`
	flowF      = `{"ph":"f","bp":"e","id":1,"cat":"k","name":"f","pid":1,"tid":3,"ts":7}`
	counter    = `{"ph":"C","name":"n","pid":1,"tid":2,"ts":0,"args":{"v":1}}`
)

func doc(events ...string) string {
	return `{"metadata":{"workload":"w"},"traceEvents":[` + strings.Join(events, ",\n") + "]}"
}

var good = []string{procName, threadName, sliceA, sliceB, sliceC, flowS, flowF, counter}

// with returns the good events with event old replaced by new ("" drops
// it), plus any extra events.
func with(old, new string, extra ...string) string {
	var evs []string
	for _, e := range good {
		switch {
		case e != old:
			evs = append(evs, e)
		case new != "":
			evs = append(evs, new)
		}
	}
	return doc(append(evs, extra...)...)
}

func TestValidateGood(t *testing.T) {
	sum, err := chrometest.Validate(strings.NewReader(doc(good...)))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Processes[1] != "p" || sum.TID(1, "t") != 2 {
		t.Errorf("processes %v, threads %v", sum.Processes, sum.Threads)
	}
	a := sum.Slices[chrometest.Track{PID: 1, TID: 2}]
	if len(a) != 2 || a[1].Name != "b" || a[1].Depth != 1 || a[1].Start != 1500 || a[1].Dur != 4500 {
		t.Errorf("slices = %+v, want a then b nested inside at 1500 ns for 4500 ns", a)
	}
	if len(sum.Flows) != 1 || sum.Flows[0].FromSlice != "b" || sum.Flows[0].ToSlice != "c" {
		t.Errorf("flows = %+v, want b -> c", sum.Flows)
	}
	if v := sum.Counters["1/n/v"]; len(v) != 1 || v[0] != 1 {
		t.Errorf("counters = %v", sum.Counters)
	}
	if sum.Metadata["workload"] != "w" {
		t.Errorf("metadata = %v", sum.Metadata)
	}
}

func TestValidateGoodVariants(t *testing.T) {
	for name, in := range map[string]string{
		"array format": `[` + sliceA + `]`,
		"B/E nested":   doc(`{"ph":"B","name":"x","pid":1,"tid":2,"ts":0}`, `{"ph":"B","name":"y","pid":1,"tid":2,"ts":1}`, `{"ph":"E","pid":1,"tid":2,"ts":2}`, `{"ph":"E","name":"x","pid":1,"tid":2,"ts":3}`),
		// Half-open slices: b ends where c starts on one track.
		"adjacent": doc(`{"ph":"X","name":"b","pid":1,"tid":2,"ts":0,"dur":1}`, `{"ph":"X","name":"c","pid":1,"tid":2,"ts":1,"dur":1}`),
		// Equal ts: the longer slice is the parent whatever the file order.
		"same start": doc(`{"ph":"X","name":"in","pid":1,"tid":2,"ts":0,"dur":1}`, `{"ph":"X","name":"out","pid":1,"tid":2,"ts":0,"dur":2}`),
		"instants":   doc(sliceA, `{"ph":"i","s":"t","name":"i","pid":1,"tid":2,"ts":10}`, `{"ph":"i","s":"t","name":"j","pid":1,"tid":2,"ts":10}`, `{"ph":"i","s":"g","name":"g","pid":1,"ts":3}`),
		"string id":  doc(sliceA, sliceC, strings.Replace(flowS, `"id":1`, `"id":"a"`, 1), strings.Replace(flowF, `"id":1`, `"id":"a"`, 1)),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := chrometest.Validate(strings.NewReader(in)); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestValidateBad breaks each rule once.
func TestValidateBad(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
	}{
		{"not JSON", `{"traceEvents":[` + sliceA, "not valid JSON"},
		{"sniffer", `  "traceEvents"`, "does not start with"},
		{"no traceEvents", `{"metadata":{}}`, `no "traceEvents"`},
		{"traceEvents not array", `{"traceEvents":{}}`, "not an array"},
		{"no events", doc(), "no events other than metadata"},
		{"only metadata", doc(procName, threadName), "no events other than metadata"},
		{"metadata not object", `{"metadata":[1],"traceEvents":[` + sliceA + `]}`, `"metadata" is not an object`},
		{"displayTimeUnit", `{"displayTimeUnit":"s","traceEvents":[` + sliceA + `]}`, "displayTimeUnit"},
		{"no phase", with(sliceC, `{"name":"c","pid":1,"tid":3,"ts":7,"dur":2}`), "ph missing"},
		{"unknown phase", with(sliceC, `{"ph":"Q","name":"c","pid":1,"tid":3,"ts":7}`), "unknown phase"},
		{"pid 0", with(sliceC, `{"ph":"X","name":"c","pid":0,"tid":3,"ts":7,"dur":2}`), "pid must be an integer >= 1"},
		{"pid missing", with(sliceC, `{"ph":"X","name":"c","tid":3,"ts":7,"dur":2}`), "pid must be"},
		{"pid string", with(sliceC, `{"ph":"X","name":"c","pid":"1","tid":3,"ts":7,"dur":2}`), "pid must be"},
		{"tid 0", with(sliceC, `{"ph":"X","name":"c","pid":1,"tid":0,"ts":7,"dur":2}`), "tid must be an integer >= 1"},
		{"tid missing", with(sliceC, `{"ph":"X","name":"c","pid":1,"ts":7,"dur":2}`), "no tid"},
		{"tid in two processes", with("", "", `{"ph":"X","name":"d","pid":5,"tid":3,"ts":0,"dur":1}`), "tid 3 is used in processes 1 and 5"},
		{"tid is another pid", with("", "", `{"ph":"X","name":"d","pid":2,"tid":9,"ts":0,"dur":1}`), "tid 2 of process 1 is also the pid"},
		{"negative ts", with("", "", `{"ph":"X","name":"d","pid":1,"tid":3,"ts":-1,"dur":1}`), "negative ts"},
		{"absolute ts", doc(`{"ph":"X","name":"d","pid":1,"tid":3,"ts":1700000000000000,"dur":1}`), "relative"},
		{"ts string", with(sliceC, `{"ph":"X","name":"c","pid":1,"tid":3,"ts":"7","dur":2}`), "ts missing or not a number"},
		{"X without dur", with(sliceC, `{"ph":"X","name":"c","pid":1,"tid":3,"ts":7}`), "numeric dur"},
		{"X negative dur", with(sliceC, `{"ph":"X","name":"c","pid":1,"tid":3,"ts":7,"dur":-2}`), "numeric dur >= 0"},
		{"args not object", with(sliceC, `{"ph":"X","name":"c","pid":1,"tid":3,"ts":7,"dur":2,"args":[1]}`), "args is not an object"},
		{"partial overlap", with("", "", `{"ph":"X","name":"d","pid":1,"tid":2,"ts":5,"dur":10}`), `partially overlaps "b"`},
		{"partial overlap of parent", with("", "", `{"ph":"X","name":"d","pid":1,"tid":2,"ts":8,"dur":10}`), `partially overlaps "a"`},
		{"E name", doc(`{"ph":"B","name":"x","pid":1,"tid":2,"ts":0}`, `{"ph":"E","name":"y","pid":1,"tid":2,"ts":1}`), `E named "y" closes B named "x"`},
		{"E without B", doc(sliceA, `{"ph":"E","name":"x","pid":1,"tid":2,"ts":11}`), "no open B"},
		{"B never ended", doc(`{"ph":"B","name":"x","pid":1,"tid":2,"ts":0}`), "never ended"},
		{"E inside X", doc(`{"ph":"B","name":"x","pid":1,"tid":2,"ts":0}`, `{"ph":"X","name":"in","pid":1,"tid":2,"ts":1,"dur":20}`, `{"ph":"E","name":"x","pid":1,"tid":2,"ts":10}`), "still open"},
		{"flow id twice", with("", "", strings.Replace(flowS, `"ts":3`, `"ts":4`, 1)), "starts twice"},
		{"flow without end", with(flowF, ""), "has no end"},
		{"flow without start", with(flowS, ""), "ends before (or without) its start"},
		{"flow ends before start", with(flowF, strings.Replace(flowF, `"ts":7`, `"ts":2`, 1)), "ends before"},
		{"flow ends twice", with("", "", flowF), "ends twice"},
		{"flow cat", with(flowF, strings.Replace(flowF, `"cat":"k"`, `"cat":"z"`, 1)), "cat/name"},
		{"flow id missing", with(flowF, strings.Replace(flowF, `"id":1,`, ``, 1)), "needs a numeric or string id"},
		// At 8 µs b [1.5, 6) has ended but is still on top of the stack:
		// Perfetto would bind the arrow to b.
		{"flow binds to stale slice", with(flowS, strings.Replace(flowS, `"ts":3`, `"ts":8`, 1)), `binds to "b"`},
		{"flow on empty track", with(flowF, strings.Replace(flowF, `"tid":3`, `"tid":4`, 1)), "no slice to bind to"},
		{"flow end unbound", with(flowF, strings.Replace(flowF, `"bp":"e",`, ``, 1)), "no later slice"},
		{"counter string", with(counter, `{"ph":"C","name":"n","pid":1,"tid":2,"ts":0,"args":{"v":"1"}}`), "not a number"},
		{"counter no args", with(counter, `{"ph":"C","name":"n","pid":1,"tid":2,"ts":0}`), "no values"},
		{"counter no name", with(counter, `{"ph":"C","pid":1,"tid":2,"ts":0,"args":{"v":1}}`), "no name"},
		{"metadata unknown", with(procName, `{"ph":"M","name":"process_color","pid":1,"args":{"name":"p"}}`), "unknown metadata"},
		{"metadata empty name", with(threadName, `{"ph":"M","name":"thread_name","pid":1,"tid":2,"args":{"name":""}}`), "non-empty string args.name"},
		{"metadata sort index", with("", "", `{"ph":"M","name":"thread_sort_index","pid":1,"tid":2,"args":{"sort_index":1.5}}`), "not an integer"},
		{"thread named twice", with("", "", `{"ph":"M","name":"thread_name","pid":1,"tid":2,"args":{"name":"u"}}`), `named "t" and "u"`},
		{"instant scope", with("", "", `{"ph":"i","s":"x","name":"i","pid":1,"tid":2,"ts":1}`), "instant scope"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := chrometest.Validate(strings.NewReader(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v\nwant one containing %q", err, c.want)
			}
		})
	}
}

// FuzzValidate checks that no input makes the validator panic.
func FuzzValidate(f *testing.F) {
	f.Add(doc(good...))
	f.Add(`[` + sliceA + `]`)
	f.Add(doc(`{"ph":"B","name":"x","pid":1,"tid":2,"ts":0}`, `{"ph":"E","pid":1,"tid":2,"ts":1}`))
	f.Add(`{"traceEvents":[{"ph":"X"}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		chrometest.Validate(strings.NewReader(in))
	})
}
