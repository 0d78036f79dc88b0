package cpython

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
)

// reading is a reading of a thread's scheduler state at off microseconds
// into a call (after its release), found asleep or running; window is how
// long the read took, in microseconds (the read began window before off).
type reading struct {
	off    int64
	asleep bool
	window int64
}

// siteCall is a GIL-releasing call of _hashlib (an extension module: native
// work by classify) made from Python function fn, its release at at
// microseconds, lasting dur microseconds, with its thread's readings.
type siteCall struct {
	fn       string
	at, dur  int64
	readings []reading
	cut      bool // the last call, cut by the recording's end at dur
}

// runCalls feeds thread testThread's calls, in order, into a machine with a
// live recording, and returns the final trace, the live one and the
// machine.
func runCalls(t *testing.T, calls []siteCall) (*tracer.Trace, *tracer.Trace, *machine) {
	t.Helper()
	rec, live := tracer.NewRecorder(tracer.Config{}), tracer.NewRecorder(tracer.Config{})
	m := testMachine(rec)
	m.live = live
	st := func(e rawEvent, us int64) {
		m.step(&e, us*1000)
		m.publishLive()
	}
	hit := func(us int64, event string, args ...arg) {
		st(rawEvent{tid: testThread, tgid: testThread, event: event, args: args}, us)
	}
	codes := map[string]*code{}
	hit(0, evTakeGIL, arg{name: "ts", vals: []uint64{1}})
	hit(1, evTakeGILRet)
	for _, c := range calls {
		if codes[c.fn] == nil {
			codes[c.fn] = &code{name: c.fn, file: "/app/calls.py", first: 10 + len(codes)}
		}
		hit(c.at-1, evSave, arg{name: "ra", vals: []uint64{raHashlib}})
		st(rawEvent{tid: testThread, tgid: testThread, event: evDropGIL, resolved: true,
			args:   []arg{{name: "ts", vals: []uint64{1}}},
			frames: []rawFrame{{code: 0x50}}, codes: []*code{codes[c.fn]}}, c.at)
		for _, r := range c.readings {
			var v uint64
			if r.asleep {
				v = 1
			}
			w := r.window
			if w == 0 {
				w = 5
			}
			hit(c.at+r.off, evTaskState, arg{name: "asleep", vals: []uint64{v}}, arg{name: "window", vals: []uint64{uint64(w * 1000)}})
		}
		if c.cut {
			continue
		}
		hit(c.at+c.dur, evTakeGIL, arg{name: "ts", vals: []uint64{1}})
		hit(c.at+c.dur+1, evTakeGILRet)
	}
	last := calls[len(calls)-1]
	end := last.at + last.dur + 1000
	if last.cut {
		end = last.at + last.dur
	}
	m.finish(end*1000, tracer.ReleaseThreadEnd)
	m.publishLive()
	tr, lt := rec.Finish(tracer.Meta{}), live.Finish(tracer.Meta{})
	for name, x := range map[string]*tracer.Trace{"trace": tr, "live recording": lt} {
		if err := x.CheckValid(); err != nil {
			t.Fatalf("the %s is invalid: %v\n%s", name, err, dump(x))
		}
	}
	return tr, lt, m
}

// kinds is how each call of tr (by its release's time, microseconds) is
// shown: "wait" (I/O native-wait) or "native" (native work releasing the
// GIL), with the GIL release after its begin checked to match.
func kinds(t *testing.T, tr *tracer.Trace) map[int64]string {
	t.Helper()
	out := map[int64]string{}
	for i, e := range tr.Events {
		var k string
		switch {
		case e.Kind == tracer.KindIOBegin && tr.Str(e.IOKind()) == ioNativeWait:
			k = "wait"
		case e.Kind == tracer.KindNativeBegin && e.ReleasesGIL():
			k = "native"
		default:
			continue
		}
		out[e.Time/1000] = k
		// The GIL's release that follows says the same.
		for _, r := range tr.Events[i+1:] {
			if r.Thread != e.Thread || r.Kind != tracer.KindLockRelease {
				continue
			}
			want := tracer.ReleaseNative
			if k == "wait" {
				want = tracer.ReleaseIO
			}
			if r.Release() != want {
				t.Errorf("the call at %d us is %s, its GIL release %v", e.Time/1000, k, r.Release())
			}
			break
		}
	}
	return out
}

// TestMachineNativeWaitSites: a GIL-releasing call of an extension module
// without evidence of its own (no reading fell in it, or one that found
// its thread running, as a thread waking from a wait is) is judged by the
// read calls of its site (the C function and the Python line making it):
// native-wait when at least 3 of them waited and 4 times as many as did
// not, and the call lasted at least half as long as the shortest of them;
// else native work. A call judged before its site's evidence came (the
// first calls of a thread) is judged again at the end. Each case fails
// without the site's judgement (QA: 70 % of 4000 usleep(1 ms) calls
// unread, 3 % read once running, shown as CPU work).
func TestMachineNativeWaitSites(t *testing.T) {
	asleep := []reading{{off: 500, asleep: true}}
	// waits: n calls of site fn, each with one reading asleep, from at,
	// lasting dur, 2 ms apart from their starts.
	waits := func(fn string, n int, at, dur int64) []siteCall {
		var out []siteCall
		for i := range n {
			out = append(out, siteCall{fn: fn, at: at + int64(i)*max(2000, dur+100), dur: dur, readings: asleep})
		}
		return out
	}
	join := func(parts ...[]siteCall) []siteCall {
		var out []siteCall
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	for _, c := range []struct {
		name  string
		calls []siteCall
		want  map[int64]string // by release time, us
		// inferred is how many calls without evidence of their own are
		// shown native-wait.
		inferred int
	}{
		{
			name: "unread calls before and after the site's read calls",
			calls: join(
				[]siteCall{{fn: "wait", at: 1000, dur: 1000}, {fn: "wait", at: 3000, dur: 1000}},
				waits("wait", 4, 5000, 1000),
				[]siteCall{{fn: "wait", at: 20000, dur: 1000}}),
			want:     map[int64]string{1000: "wait", 3000: "wait", 5000: "wait", 7000: "wait", 9000: "wait", 11000: "wait", 20000: "wait"},
			inferred: 3,
		},
		{
			// A reading running in a call's last quarter, with none asleep
			// after it, does not count; each read call that did not wait
			// counts against the site: 12 waited, 3 did not.
			name: "one reading running is no evidence, two are",
			calls: join(waits("wait", 12, 1000, 1000),
				[]siteCall{
					{fn: "wait", at: 30000, dur: 1200, readings: []reading{{off: 600}}},                                          // judged by the site; did not wait
					{fn: "wait", at: 32000, dur: 1200, readings: []reading{{off: 1100}}},                                         // at its end: as unread
					{fn: "wait", at: 34000, dur: 1200, readings: []reading{{off: 300, asleep: true}, {off: 1100}}},               // waited
					{fn: "wait", at: 36000, dur: 4000, readings: []reading{{off: 1000}, {off: 2000}}},                            // ran
					{fn: "wait", at: 41000, dur: 4000, readings: []reading{{off: 1000}, {off: 2000, asleep: true}, {off: 3500}}}, // a tie: judged by the site
				}),
			want: map[int64]string{1000: "wait", 3000: "wait", 5000: "wait", 7000: "wait", 9000: "wait", 11000: "wait", 13000: "wait",
				15000: "wait", 17000: "wait", 19000: "wait", 21000: "wait", 23000: "wait", 30000: "wait", 32000: "wait", 34000: "wait", 36000: "native", 41000: "wait"},
			inferred: 3,
		},
		{
			// Readings running as the calls ended do not count against
			// the site (without that rule it is mixed: 4 waited, 2 not).
			name: "readings at the calls' ends",
			calls: join(waits("wait", 4, 1000, 1000),
				[]siteCall{
					{fn: "wait", at: 10000, dur: 1200, readings: []reading{{off: 1000}}},
					{fn: "wait", at: 12000, dur: 1200, readings: []reading{{off: 1100}}},
					{fn: "wait", at: 14000, dur: 1000},
				}),
			want:     map[int64]string{1000: "wait", 3000: "wait", 5000: "wait", 7000: "wait", 10000: "wait", 12000: "wait", 14000: "wait"},
			inferred: 3,
		},
		{
			name:  "another line's unread calls",
			calls: join(waits("wait", 4, 1000, 1000), []siteCall{{fn: "work", at: 10000, dur: 1000}, {fn: "work", at: 12000, dur: 1000}}),
			want:  map[int64]string{1000: "wait", 3000: "wait", 5000: "wait", 7000: "wait", 10000: "native", 12000: "native"},
		},
		{
			name: "mixed evidence: 4 read calls waited, 2 ran",
			calls: join(waits("mixed", 4, 1000, 1000),
				[]siteCall{
					{fn: "mixed", at: 10000, dur: 4000, readings: []reading{{off: 1000}, {off: 3000}}},
					{fn: "mixed", at: 15000, dur: 4000, readings: []reading{{off: 1000}, {off: 3000}}},
					{fn: "mixed", at: 20000, dur: 1000},
				}),
			want: map[int64]string{1000: "wait", 3000: "wait", 5000: "wait", 7000: "wait", 10000: "native", 15000: "native", 20000: "native"},
		},
		{
			name:  "too few read calls waited",
			calls: join(waits("few", 2, 1000, 1000), []siteCall{{fn: "few", at: 10000, dur: 1000}}),
			want:  map[int64]string{1000: "wait", 3000: "wait", 10000: "native"},
		},
		{
			name: "an unread call shorter than half the site's shortest wait",
			calls: join(waits("long", 3, 1000, 20000),
				[]siteCall{{fn: "long", at: 70000, dur: 9000}, {fn: "long", at: 80000, dur: 11000}}),
			want:     map[int64]string{1000: "wait", 21100: "wait", 41200: "wait", 70000: "native", 80000: "wait"},
			inferred: 1,
		},
		{
			// The read began before the release: it may have found the
			// thread as it was before the call (asleep waiting for the
			// GIL): not counted, and a call of a site with no other
			// evidence stays native work.
			name:  "a reading begun before the call",
			calls: []siteCall{{fn: "work", at: 1000, dur: 1000, readings: []reading{{off: 3, asleep: true, window: 10}}}},
			want:  map[int64]string{1000: "native"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr, lt, m := runCalls(t, c.calls)
			got := kinds(t, tr)
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("calls by release (us): %v\nwant %v\n%s", got, c.want, dump(tr))
			}
			waits := 0
			for _, k := range got {
				if k == "wait" {
					waits++
				}
			}
			if m.nativeWaits != waits || m.inferredWaits != c.inferred {
				t.Errorf("native_waits %d, inferred %d; want %d, %d", m.nativeWaits, m.inferredWaits, waits, c.inferred)
			}
			// The live recording has every call, each as it was published
			// when it ended (judged by the evidence so far).
			if n := len(kinds(t, lt)); n != len(c.want) {
				t.Errorf("the live recording shows %d calls, want %d\n%s", n, len(c.want), dump(lt))
			}
		})
	}
}

// TestMachineNativeWaitSitesLive: the first calls of a site, unread and
// ended before its read calls, are published in the live recording as
// native work (the evidence then) and in the trace as native-wait (the
// evidence of the whole run); the live recording stays valid.
func TestMachineNativeWaitSitesLive(t *testing.T) {
	calls := []siteCall{{fn: "wait", at: 1000, dur: 1000}}
	for i := range 3 {
		calls = append(calls, siteCall{fn: "wait", at: int64(3000 + 2000*i), dur: 1000, readings: []reading{{off: 500, asleep: true}}})
	}
	tr, lt, _ := runCalls(t, calls)
	if got := kinds(t, tr)[1000]; got != "wait" {
		t.Errorf("the first call in the trace: %q, want wait\n%s", got, dump(tr))
	}
	if got := kinds(t, lt)[1000]; got != "native" {
		t.Errorf("the first call in the live recording: %q, want native (as published)\n%s", got, dump(lt))
	}
}

// TestSitesText: the trace's note of the sites' evidence names the C
// function, the Python line (0 here: the test's code objects have no line
// table) and what the calls without evidence of their own were judged,
// and says why when they were left native work.
func TestSitesText(t *testing.T) {
	calls := []siteCall{{fn: "wait", at: 1000, dur: 1000}}
	for i := range 4 {
		calls = append(calls, siteCall{fn: "wait", at: int64(3000 + 2000*i), dur: 1000, readings: []reading{{off: 500, asleep: true}}})
	}
	calls = append(calls, siteCall{fn: "few", at: 20000, dur: 1000, readings: []reading{{off: 500, asleep: true}}}, siteCall{fn: "few", at: 22000, dur: 1000})
	_, _, m := runCalls(t, calls)
	got := m.sitesText()
	for _, want := range []string{
		"_hashlib:EVP_hash from wait (calls.py:0): 5 calls, 4 read (4 waited, 0 did not; 4 readings asleep, 0 running, 0 of them as a call ended), 1 without evidence of their own (1 unread): 1 judged native-wait as the site's read calls",
		"; _hashlib:EVP_hash from few (calls.py:0): 2 calls, 1 read (1 waited, 0 did not; 1 readings asleep, 0 running, 0 of them as a call ended), 1 without evidence of their own (1 unread): native work (fewer than 3 read calls waited)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("sitesText:\n%s\nwant it to contain\n%s", got, want)
		}
	}
}

// TestReadingsWaitThenCompute: a call that waits and then computes keeps
// its running readings at its end, but for the last one (the thread's
// waking up): review, a call waiting 16 ms then computing 24 ms, read
// every 2 ms (8 asleep, 12 running), was judged a wait when every running
// reading of its last quarter was left out.
func TestReadingsWaitThenCompute(t *testing.T) {
	const ms = int64(time.Millisecond)
	s := &section{drop: 0, asleep: 8, awake: 12}
	for r := int64(0); r < 12; r++ {
		s.woke = append(s.woke, 18*ms+r*2*ms) // 18 ms to 40 ms
	}
	if asleep, awake := s.readings(40 * ms); asleep != 8 || awake != 11 {
		t.Errorf("readings %d asleep, %d running; want 8, 11", asleep, awake)
	}
	if wait, known := s.ownVerdict(40 * ms); wait || !known {
		t.Errorf("wait %v, known %v: want known work", wait, known)
	}
	// A call that waited and woke: one running reading at its end.
	w := &section{drop: 0, asleep: 3, awake: 1, woke: []int64{39 * ms}}
	if wait, _ := w.ownVerdict(40 * ms); !wait {
		t.Error("a waiting call's waking reading: want a wait")
	}
}

// TestSiteCutCall: a call cut by the recording's end while it waited does
// not set its site's shortest wait: a 1 ms unread call of a site whose
// read calls waited 10 ms each stays native work (review: an attach stopped
// 100 us into a wait made that the site's shortest, and every short call
// of the site a wait).
func TestSiteCutCall(t *testing.T) {
	var calls []siteCall
	for i := range 3 {
		calls = append(calls, siteCall{fn: "query", at: 100 + int64(i)*20_000, dur: 10_000, readings: []reading{{off: 3_000, asleep: true}, {off: 6_000, asleep: true}}})
	}
	calls = append(calls, siteCall{fn: "query", at: 70_000, dur: 1_000}, // unread, short
		siteCall{fn: "query", at: 80_000, dur: 100, readings: []reading{{off: 50, asleep: true}}, cut: true})
	tr, _, _ := runCalls(t, calls)
	if k := kinds(t, tr)[70_000]; k != "native" {
		t.Errorf("the short unread call: %q, want native (shorter than half the site's shortest wait, 10ms)\n%s", k, dump(tr))
	}
}
