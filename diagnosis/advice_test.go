package diagnosis

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/internal/textfmt"
	"github.com/giltrace/giltrace/tracer"
)

// TestWebAppAdvice is issue 14's web app: 8 handlers, each 50 x [2 ms
// network I/O, 1 ms compute]. The GIL waiters are not CPU demand, so the
// run is not cpu-saturated; it is gil-bound, and the advice names
// processes with their estimate, which the report's own numbers favour.
func TestWebAppAdvice(t *testing.T) {
	tr := testkit.WebApp(8, 50)
	if err := tr.CheckValid(); err != nil {
		t.Fatalf("built trace is invalid: %v", err)
	}
	r := Analyze(tracer.Derive(tr))
	for _, v := range r.Verdicts {
		t.Logf("%s: %s\n  advice: %s", v.Code, v.Text, v.Advice)
	}
	t.Logf("speedup %+v", r.Speedup)
	if hasCode(r.Verdicts, CPUSaturated) {
		t.Errorf("web app is cpu-saturated; its runnable CPU demand is one core")
	}
	if !hasCode(r.Verdicts, GILBound) {
		t.Errorf("web app is not gil-bound: %s", r.VerdictCodes())
	}
	if r.Speedup.AsProcesses <= r.Speedup.Achieved {
		t.Errorf("as processes %v <= achieved %v", r.Speedup.AsProcesses, r.Speedup.Achieved)
	}
	for _, v := range r.Verdicts {
		if strings.Contains(v.Advice, "Size CPU-bound pools") {
			t.Errorf("%s advises fewer workers: %s", v.Code, v.Advice)
		}
	}
}

// verdictOf is r's verdict of the given code, or nil.
func verdictOf(r *Report, code string) *Verdict {
	for i := range r.Verdicts {
		if r.Verdicts[i].Code == code {
			return &r.Verdicts[i]
		}
	}
	return nil
}

// TestAdviceAgainstEstimates checks every verdict's advice on every built
// trace against the report's own estimates: an option recommended for
// speed is estimated faster than what the run achieved, and its estimate
// is quoted.
func TestAdviceAgainstEstimates(t *testing.T) {
	cases := append(verdictCases[:len(verdictCases):len(verdictCases)], struct {
		name  string
		trace func() *tracer.Trace
		want  []string
	}{"web-app", func() *tracer.Trace { return testkit.WebApp(8, 50) }, nil})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Analyze(tracer.Derive(tc.trace()))
			sp := r.Speedup
			for _, v := range r.Verdicts {
				if strings.Contains(v.Advice, "Move the compute to processes") || strings.Contains(v.Advice, "As processes") || strings.Contains(v.Advice, "moved to processes") {
					if sp.AsProcesses <= sp.Achieved {
						t.Errorf("%s recommends processes, estimated %v <= achieved %v", v.Code, sp.AsProcesses, sp.Achieved)
					}
					if !strings.Contains(v.Advice, textfmt.X(sp.AsProcesses)) {
						t.Errorf("%s recommends processes without their estimate %s: %s", v.Code, textfmt.X(sp.AsProcesses), v.Advice)
					}
				}
				if strings.Contains(v.Advice, "Run a free-threaded Python") && sp.WithoutGIL <= sp.Achieved {
					t.Errorf("%s recommends a free-threaded Python, estimated %v <= achieved %v", v.Code, sp.WithoutGIL, sp.Achieved)
				}
				if v.Code == CPUSaturated && sp.AsProcesses > AdviceMinGain*sp.Achieved*float64(sp.Cores) {
					t.Errorf("cpu-saturated while processes are estimated at %v, achieved %v", sp.AsProcesses, sp.Achieved)
				}
			}
			// Every printed ceiling is a true bound.
			if sp.Overlap > sp.GILCeiling+0.001 {
				t.Errorf("overlap %v above the GIL ceiling %v", sp.Overlap, sp.GILCeiling)
			}
		})
	}
}

// TestSingleThreadedBound: a lone thread's advice bounds what splitting
// its work could give: 60 ms of work with 50 ms of compute on 2 cores is
// at most 60 / 25 = 2.40x.
func TestSingleThreadedBound(t *testing.T) {
	tr := testkit.SingleThread()
	tr.Meta.Cores, tr.Meta.GOMAXPROCS = 2, 0
	r := Analyze(tracer.Derive(tr))
	if len(r.Verdicts) != 1 || !strings.Contains(r.Verdicts[0].Advice, "Split over 2 cores, the same work could run at most 2.40x as fast") {
		t.Errorf("verdicts %+v", r.Verdicts)
	}
}

// TestSingleThreadedBoundLongestCall: splitting cannot make a lone
// thread's run shorter than its longest blocking call: 60 ms of compute
// and one 1 s sleep get no bound (1.06x at most), the same sleep in ten
// calls of 100 ms is at most 1060 / 100 = 10.60x (QA: a time.sleep(1)
// was told "at most 25.70x as fast" on 2 cores).
func TestSingleThreadedBoundLongestCall(t *testing.T) {
	const ms = int64(time.Millisecond)
	for _, calls := range []int64{1, 10} {
		b := testkit.New("sleeper")
		p := b.Process("python", 1)
		main := b.Func("main", 1)
		gil := tracer.LockID(0)
		th := b.Thread(p, "MainThread").Start(0).Acquire(10, gil, tracer.AcquireUncontended).Call(20, main)
		at := int64(20 * ms)
		for range calls {
			th.IOBegin(at, "sleep").Release(at+10, gil, tracer.ReleaseIO).IOEnd(at+1000*ms/calls).Acquire(at+1000*ms/calls+10, gil, tracer.AcquireUncontended)
			at += 1000*ms/calls + 20
		}
		at += 40 * ms
		th.Return(at).Release(at+10, gil, tracer.ReleaseThreadEnd).End(at + 20)
		tr := b.Trace()
		tr.Meta.Cores, tr.Meta.GOMAXPROCS = 2, 0
		r := Analyze(tracer.Derive(tr))
		if len(r.Verdicts) != 1 || r.Verdicts[0].Code != SingleThreaded {
			t.Fatalf("%d calls: verdicts %+v", calls, r.Verdicts)
		}
		advice := r.Verdicts[0].Advice
		if split := strings.Contains(advice, "Split over"); split != (calls == 10) || calls == 10 && !strings.Contains(advice, "at most 10.60x as fast") {
			t.Errorf("%d calls of sleep: advice %q", calls, advice)
		}
	}
}

// TestSingleThreadedAttachNoStartUp: a real program whose work ran
// little of its own code is "mostly start-up" when record started it,
// never when giltrace attached to it, whose start-up it did not see
// (QA: an attach to a sleeping python3 -c was told to import less).
func TestSingleThreadedAttachNoStartUp(t *testing.T) {
	for _, attached := range []bool{false, true} {
		b := testkit.New("python3")
		p := b.Process("python3", 1)
		lib := b.Frame(tracer.Frame{Func: "sleep_loop", File: "/usr/lib/python3.12/sched.py", Line: 1})
		gil := tracer.LockID(0)
		b.Thread(p, "MainThread").Start(0).Acquire(10, gil, tracer.AcquireUncontended).Call(20, lib).
			IOBegin(30*int64(time.Millisecond), "sleep").Release(30*int64(time.Millisecond)+10, gil, tracer.ReleaseIO).IOEnd(int64(time.Second)).
			Acquire(int64(time.Second)+10, gil, tracer.AcquireUncontended).Return(int64(time.Second)+20).Release(int64(time.Second)+30, gil, tracer.ReleaseThreadEnd).End(int64(time.Second) + 40)
		tr := b.Trace()
		tr.Meta.Extra = map[string]string{"source": "cpython"}
		if attached {
			tr.Meta.Extra["pid"] = "4242"
		} else {
			tr.Meta.Extra["command"] = "python3 app.py"
			tr.Meta.WorkloadFile = "app.py"
		}
		r := Analyze(tracer.Derive(tr))
		if len(r.Verdicts) != 1 || r.Verdicts[0].Code != SingleThreaded {
			t.Fatalf("attached %v: verdicts %+v", attached, r.Verdicts)
		}
		if startUp := strings.Contains(r.Verdicts[0].Text, "start-up"); startUp == attached {
			t.Errorf("attached %v: %q", attached, r.Verdicts[0].Text)
		}
	}
}

// TestConvoyAdviceSwitchInterval: the convoy advice offers a switch
// interval shorter than the one in use, with its value, and at or below
// 1 ms says that shortening it further costs throughput and names the
// other options instead.
func TestConvoyAdviceSwitchInterval(t *testing.T) {
	for _, c := range []struct {
		interval time.Duration
		want     string
		not      string
	}{
		{5 * time.Millisecond, "shorten the switch interval from 5ms to 1ms (sys.setswitchinterval(0.001))", "already"},
		{8 * time.Millisecond, "shorten the switch interval from 8ms to 1.6ms (sys.setswitchinterval(0.0016))", "already"},
		{2 * time.Millisecond, "shorten the switch interval from 2ms to 1ms (sys.setswitchinterval(0.001))", "already"},
		{time.Millisecond, "the switch interval is already 1ms (sys.setswitchinterval(0.001)): shortening it further costs", "setswitchinterval(0.0002)"},
		{500 * time.Microsecond, "the switch interval is already 500µs (sys.setswitchinterval(0.0005)): shortening it further costs", "shorten the switch interval from"},
	} {
		t.Run(c.interval.String(), func(t *testing.T) {
			tr := testkit.Convoy(20)
			tr.Meta.SwitchInterval = c.interval
			advice := convoyAdvice(t, tr)
			if !strings.Contains(advice, c.want) || strings.Contains(advice, c.not) {
				t.Errorf("advice lacks %q or has %q: %s", c.want, c.not, advice)
			}
		})
	}
}

// convoyAdvice is the advice of tr's convoy verdict; the test fails
// without one.
func convoyAdvice(t *testing.T, tr *tracer.Trace) string {
	t.Helper()
	r := Analyze(tracer.Derive(tr))
	for _, v := range r.Verdicts {
		if v.Code == Convoy {
			return v.Advice
		}
	}
	t.Fatalf("no convoy verdict: %s", r.VerdictCodes())
	return ""
}

// TestConvoyAdviceLegacy: a convoy under the legacy GIL, which has no
// switch interval, is told of its check interval, not of
// sys.setswitchinterval (QA).
func TestConvoyAdviceLegacy(t *testing.T) {
	tr := testkit.Convoy(20)
	tr.Meta.GILMode, tr.Meta.SwitchInterval, tr.Meta.CheckInterval = tracer.GILLegacy, 0, 1000
	for _, cores := range []int{2, 1} {
		// "Straight back" only with more than one core (review).
		tr.Meta.Cores = cores
		advice := convoyAdvice(t, tr)
		if !strings.Contains(advice, "every 1000 instructions (sys.setcheckinterval(1000)") || strings.Contains(advice, "setswitchinterval") || strings.Contains(advice, "straight back") != (cores > 1) {
			t.Errorf("legacy convoy advice on %d cores: %s", cores, advice)
		}
	}
}

// TestConvoyNamesEveryHolder: an I/O thread behind two CPU-bound threads
// that take turns holding the GIL (QA: "run cpu-a's compute in a process"
// where cpu-b held it as long): the verdict and the advice name both.
func TestConvoyNamesEveryHolder(t *testing.T) {
	tr := testkit.ConvoyTakingTurns(20)
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	r := Analyze(tracer.Derive(tr))
	v := verdictOf(r, Convoy)
	if v == nil {
		t.Fatalf("no convoy verdict: %s", r.VerdictCodes())
	}
	if !strings.Contains(v.Text, "while cpu-a and cpu-b held it") {
		t.Errorf("verdict names one holder: %s", v.Text)
	}
	if !strings.Contains(v.Advice, "run the compute of cpu-a and cpu-b in processes") {
		t.Errorf("advice names one holder: %s", v.Advice)
	}
}

// TestSaturatedNativePoolAdvice: cpu-saturated on threads whose CPU work is
// mostly native code that releases the GIL advises a thread pool sized to
// the cores, not a process pool (QA: ml-preprocessing's loaders, 90 % in
// GIL-releasing calls, got "ProcessPoolExecutor(max_workers=...)" beside
// scales' "Threads are the right tool for this work"). Four threads each
// in one 100 ms native call on 2 cores, with 5 ms of Python before it.
func TestSaturatedNativePoolAdvice(t *testing.T) {
	b := testkit.New("native")
	b.Meta().Cores = 2
	p := b.Process("python", 1)
	const ms = int64(time.Millisecond)
	for i := range 4 {
		th := b.Thread(p, "loader-"+string(rune('0'+i)))
		at := int64(i) * 5 * ms
		th.Start(at).Acquire(at+1, 0, tracer.AcquireUncontended).NativeBegin(at+5*ms, true).Release(at+5*ms+1, 0, tracer.ReleaseNative)
		th.NativeEnd(at+5*ms+100*ms).Acquire(at+5*ms+100*ms+1, 0, tracer.AcquireUncontended).Release(at+5*ms+100*ms+2, 0, tracer.ReleaseThreadEnd).End(at + 5*ms + 100*ms + 3)
	}
	_, v := cpuSaturatedOf(t, b)
	if !strings.Contains(v.Advice, "ThreadPoolExecutor(max_workers=os.cpu_count()) will do") || strings.Contains(v.Advice, "ProcessPoolExecutor") {
		t.Errorf("advice: %s", v.Advice)
	}
}

// TestSaturatedIOPoolAdvice: cpu-saturated on threads that spend half
// their work in I/O does not tell the user to shrink the pool to the cores
// (QA: 8 threads, each 20 x [4 ms GIL-releasing native call, 4 ms I/O], on
// 2 cores, were told "Size CPU-bound pools to the cores (2 here)", and
// `compare` measured 2 threads 47 % slower than the 8). Its advice names a
// floor of the cores ÷ the CPU share, and scales does not say that more
// threads than cores will not help. Eight such threads, 5 rounds each, on 2
// cores; their GIL holds a few ns, staggered so that none overlap.
func TestSaturatedIOPoolAdvice(t *testing.T) {
	b := testkit.New("native-io")
	b.Meta().Cores = 2
	p := b.Process("python", 1)
	const ms = int64(time.Millisecond)
	for i := range 8 {
		th := b.Thread(p, "worker-"+string(rune('0'+i)))
		at := int64(i) * 10
		th.Start(at).Acquire(at+1, 0, tracer.AcquireUncontended)
		for range 5 {
			th.NativeBegin(at+2, true).Release(at+3, 0, tracer.ReleaseNative).NativeEnd(at+4*ms).Acquire(at+4*ms+1, 0, tracer.AcquireUncontended)
			th.IOBegin(at+4*ms+2, "network").Release(at+4*ms+3, 0, tracer.ReleaseIO).IOEnd(at+8*ms).Acquire(at+8*ms+1, 0, tracer.AcquireUncontended)
			at += 8 * ms
		}
		th.Release(at+2, 0, tracer.ReleaseThreadEnd).End(at + 3)
	}
	r, v := cpuSaturatedOf(t, b)
	t.Logf("advice: %s", v.Advice)
	if strings.Contains(v.Advice, "Size CPU-bound pools") || !strings.Contains(v.Advice, "at least 4 threads (2 cores ÷ the 50 % of their work that is CPU)") {
		t.Errorf("cpu-saturated advice: %s", v.Advice)
	}
	if s := verdictOf(r, Scales); s != nil && strings.Contains(s.Advice, "will not go faster") {
		t.Errorf("scales advice: %s", s.Advice)
	}
}

// TestSaturatedPoolAdviceIgnoresAnIdleMonitor: a CPU-bound pool beside a
// thread asleep for the whole run (a monitor, no CPU work) is told to size
// its pool to the cores: the I/O share weighs each thread by its CPU time
// (review: the monitor made the pool "33 % in I/O", "at least 3 threads").
func TestSaturatedPoolAdviceIgnoresAnIdleMonitor(t *testing.T) {
	b := testkit.New("native-monitor")
	b.Meta().Cores = 2
	p := b.Process("python", 1)
	const ms = int64(time.Millisecond)
	for i := range 8 {
		th := b.Thread(p, "worker-"+string(rune('0'+i)))
		at := int64(i) * 10
		th.Start(at).Acquire(at+1, 0, tracer.AcquireUncontended).NativeBegin(at+2, true).Release(at+3, 0, tracer.ReleaseNative)
		th.NativeEnd(at+400*ms).Acquire(at+400*ms+1, 0, tracer.AcquireUncontended).Release(at+400*ms+2, 0, tracer.ReleaseThreadEnd).End(at + 400*ms + 3)
	}
	mon := b.Thread(p, "monitor")
	mon.Start(100).Acquire(101, 0, tracer.AcquireUncontended).IOBegin(102, "sleep").Release(103, 0, tracer.ReleaseIO).IOEnd(400*ms + 200)
	mon.Acquire(400*ms+201, 0, tracer.AcquireUncontended).Release(400*ms+202, 0, tracer.ReleaseThreadEnd).End(400*ms + 203)
	_, v := cpuSaturatedOf(t, b)
	if !strings.Contains(v.Advice, "Size CPU-bound pools to the cores") || strings.Contains(v.Advice, "Do not size") {
		t.Errorf("advice: %s", v.Advice)
	}
}

// cpuSaturatedOf analyses the trace b built, valid, and returns its report
// and its cpu-saturated verdict, failing the test without one.
func cpuSaturatedOf(t *testing.T, b *testkit.Builder) (*Report, *Verdict) {
	t.Helper()
	tr := b.Trace()
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	r := Analyze(tracer.Derive(tr))
	v := verdictOf(r, CPUSaturated)
	if v == nil {
		t.Fatalf("not cpu-saturated: %s", r.VerdictCodes())
	}
	return r, v
}

// TestScalesIOCaveat: a real program's scales verdict on I/O says that
// its overlap takes each I/O call to last as long alone, which a server
// answering one request at a time breaks (QA: 8 threads fetching from
// one overlapped "7.23x" and ran no faster than one thread); a VM run,
// whose I/O lasts what the workload says, has no such caveat.
func TestScalesIOCaveat(t *testing.T) {
	for _, c := range []struct {
		fixture string
		caveat  bool
	}{{"python-web-scraping", true}, {"web-scraping", false}} {
		tr, err := tracer.ReadFile(filepath.Join("..", "fixtures", "traces", c.fixture+".giltrace"))
		if err != nil {
			t.Fatal(err)
		}
		r := Analyze(tracer.Derive(tr))
		found := false
		for _, v := range r.Verdicts {
			if v.Code == Scales {
				found = true
				if got := strings.Contains(v.Advice, "one request at a time"); got != c.caveat {
					t.Errorf("%s: scales advice %q; the caveat %v, want %v", c.fixture, v.Advice, got, c.caveat)
				}
			}
		}
		if !found {
			t.Errorf("%s: no scales verdict: %s", c.fixture, r.VerdictCodes())
		}
	}
}

// TestConvoyPartOfTheRun: an I/O thread in a convoy behind a CPU-bound
// thread for part of its run, alone for the rest, gets the convoy
// verdict, its median taken over the I/Os that ended while the CPU-bound
// thread ran (QA: beside a CPU thread for 0.3 s of its 0.4 s, slowed
// 2.4x, 54 % of its wall waiting for the GIL: the median of all its
// re-acquires was below the threshold, and no verdict was given). Here 40
// convoy rounds, then 120 I/Os of 1 ms with the GIL free.
func TestConvoyPartOfTheRun(t *testing.T) {
	const us, ms = int64(1_000), int64(1_000_000)
	gil := tracer.LockID(0)
	b := testkit.New("partial-convoy")
	p := b.Process("python", 1)
	crunch, serve := b.Func("crunch", 17), b.Func("serve", 19)
	cpu, io := b.Thread(p, "cpu"), b.Thread(p, "io")
	cpu.Start(0).Acquire(10, gil, tracer.AcquireUncontended).Call(20, crunch)
	io.Start(100).Wait(200, gil)
	tm := int64(200)
	for r := range 40 {
		tm += 5 * ms
		io.DropRequest(tm, gil, cpu.ID())
		cpu.Release(tm+50*us, gil, tracer.ReleaseDropRequest).Wait(tm+50*us+10, gil)
		io.Acquire(tm+100*us, gil, tracer.AcquireForced)
		if r == 0 {
			io.Call(tm+100*us+10, serve)
		}
		io.IOBegin(tm+150*us, "network").Release(tm+150*us+10, gil, tracer.ReleaseIO)
		cpu.Acquire(tm+160*us, gil, tracer.AcquireAfterWait)
		io.IOEnd(tm+1150*us).Wait(tm+1150*us+10, gil)
		tm += 1150*us + 10
	}
	tm += ms
	cpu.Return(tm).Release(tm+10, gil, tracer.ReleaseThreadEnd).End(tm + 20)
	io.Acquire(tm+30, gil, tracer.AcquireAfterWait)
	tm += 30
	for range 120 {
		io.IOBegin(tm+50*us, "network").Release(tm+50*us+10, gil, tracer.ReleaseIO)
		io.IOEnd(tm+1050*us).Acquire(tm+1050*us+10, gil, tracer.AcquireUncontended)
		tm += 1050*us + 10
	}
	io.Return(tm+10).Release(tm+20, gil, tracer.ReleaseThreadEnd).End(tm + 30)
	tr := b.Trace()
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	r := Analyze(tracer.Derive(tr))
	var text string
	for _, v := range r.Verdicts {
		if v.Code == Convoy {
			text = v.Text
		}
	}
	if !strings.Contains(text, "I/O operations that ended while CPU-bound threads ran") {
		t.Errorf("verdicts %s, convoy %q; want the convoy of the I/Os beside the CPU-bound thread", r.VerdictCodes(), text)
	}
}

// convoyAfterSleep is TestConvoyPartOfTheRun's two threads with the
// CPU-bound one asleep first, sleep long, while io makes 120 I/Os of 1 ms
// with the GIL free; then cpu computes through 40 convoy rounds (6.15 ms
// each: 5 ms of compute, io's re-acquire after each I/O).
func convoyAfterSleep(t *testing.T, sleep int64) *tracer.Trace {
	t.Helper()
	const us, ms = int64(1_000), int64(1_000_000)
	gil := tracer.LockID(0)
	b := testkit.New("convoy-after-sleep")
	p := b.Process("python", 1)
	crunch, serve := b.Func("crunch", 17), b.Func("serve", 19)
	cpu, io := b.Thread(p, "cpu"), b.Thread(p, "io")
	cpu.Start(0).Acquire(10, gil, tracer.AcquireUncontended).Call(20, crunch)
	cpu.IOBegin(30, "sleep").Release(40, gil, tracer.ReleaseIO)
	io.Start(100).Acquire(200, gil, tracer.AcquireUncontended).Call(210, serve)
	tm := int64(210)
	for range 120 {
		io.IOBegin(tm+50*us, "network").Release(tm+50*us+10, gil, tracer.ReleaseIO)
		io.IOEnd(tm+1050*us).Acquire(tm+1050*us+10, gil, tracer.AcquireUncontended)
		tm += 1050*us + 10
	}
	io.IOBegin(tm+50*us, "network").Release(tm+50*us+10, gil, tracer.ReleaseIO)
	tm = max(tm+100*us, sleep)
	cpu.IOEnd(tm).Acquire(tm+10, gil, tracer.AcquireUncontended)
	io.IOEnd(tm+20).Wait(tm+30, gil)
	tm += 30
	for range 40 {
		tm += 5 * ms
		io.DropRequest(tm, gil, cpu.ID())
		cpu.Release(tm+50*us, gil, tracer.ReleaseDropRequest).Wait(tm+50*us+10, gil)
		io.Acquire(tm+100*us, gil, tracer.AcquireForced)
		io.IOBegin(tm+150*us, "network").Release(tm+150*us+10, gil, tracer.ReleaseIO)
		cpu.Acquire(tm+160*us, gil, tracer.AcquireAfterWait)
		io.IOEnd(tm+1150*us).Wait(tm+1150*us+10, gil)
		tm += 1150*us + 10
	}
	tm += ms
	cpu.Return(tm).Release(tm+10, gil, tracer.ReleaseThreadEnd).End(tm + 20)
	io.Acquire(tm+30, gil, tracer.AcquireAfterWait)
	io.Return(tm+40).Release(tm+50, gil, tracer.ReleaseThreadEnd).End(tm + 60)
	tr := b.Trace()
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestConvoyAfterASleep: a CPU-bound thread that sleeps before it
// computes is CPU-bound, for the convoy, over the part of its life when it
// computes (ConvoyPhaseIntervals), not over its whole wall: QA's
// convoy.py, whose cpu thread slept 0.7 s and then computed 0.6 s beside
// an I/O thread (45 % running of its wall, not CPU-bound), got no convoy
// verdict ("scales"), where the same threads with the cpu thread started
// 0.7 s later instead did. Here cpu sleeps 400 ms, then computes 200 ms
// (a third of its wall) through io's 40 convoy rounds: the convoy, its
// median over those rounds, cpu named as the holder. A thread whose life
// no long wait split keeps its whole-life classification (groups_test's
// four identical readers).
func TestConvoyAfterASleep(t *testing.T) {
	r := Analyze(tracer.Derive(convoyAfterSleep(t, 400_000_000)))
	th := r.Threads[0]
	if th.Name != "cpu" || 2*threadCPU(&th) >= threadWork(&th) {
		t.Fatalf("cpu %+v: want it under half CPU over its life", th)
	}
	v := verdictOf(r, Convoy)
	if v == nil {
		t.Fatalf("verdicts %s, want convoy", r.VerdictCodes())
	}
	for _, want := range []string{"io is I/O-bound", "after each of the 41 of its 161 I/O operations that ended while CPU-bound threads ran", "while cpu held it"} {
		if !strings.Contains(v.Text, want) {
			t.Errorf("convoy lacks %q: %s", want, v.Text)
		}
	}
	if !strings.Contains(v.Advice, "run cpu's compute in a process") {
		t.Errorf("advice: %s", v.Advice)
	}
}

// TestConvoyMedianOfHeldReacquires: an I/O thread two of whose three I/Os
// a round (a send, a recv already answered) are over before the CPU-bound
// thread takes the GIL, and re-acquire it at once, and whose third (a 1 ms
// sleep) waits 5 ms behind it each time, is in a convoy: its median is of
// the re-acquires that found the GIL held, as the trace records the
// acquire (after a wait or forced), not by a latency of 1 us or more: the
// uncontended ones here take 1.5 us, as on real CPython. QA: convoy.py
// 1.0 and 0.45, recorded here, whose I/O thread's send and recv re-acquired
// at once and only its sleep's waited (5.1 ms, a third of them), had a
// median under a microsecond and no verdict, where another run of the same
// program, its recv waiting too, got the convoy.
func TestConvoyMedianOfHeldReacquires(t *testing.T) {
	const us, ms = int64(1_000), int64(1_000_000)
	gil := tracer.LockID(0)
	b := testkit.New("convoy-at-once")
	p := b.Process("python", 1)
	crunch, serve := b.Func("crunch", 17), b.Func("serve", 19)
	cpu, io := b.Thread(p, "cpu"), b.Thread(p, "io")
	cpu.Start(0).Acquire(10, gil, tracer.AcquireUncontended).Call(20, crunch)
	io.Start(100).Wait(200, gil)
	tm := 5 * ms
	io.DropRequest(tm, gil, cpu.ID())
	cpu.Release(tm+50*us, gil, tracer.ReleaseDropRequest).Wait(tm+50*us+10, gil)
	io.Acquire(tm+100*us, gil, tracer.AcquireForced).Call(tm+100*us+10, serve)
	tm += 100*us + 10
	for range 40 {
		for range 2 { // a send, a recv: over before cpu takes the GIL
			io.IOBegin(tm+10*us, "network").Release(tm+10*us+10, gil, tracer.ReleaseIO)
			// Uncontended, 1.5 us on: on real CPython the gap between the
			// I/O's end and take_gil's return is 1.3-1.9 us.
			io.IOEnd(tm+15*us).Acquire(tm+15*us+1500, gil, tracer.AcquireUncontended)
			tm += 15*us + 1500
		}
		io.IOBegin(tm+10*us, "sleep").Release(tm+10*us+10, gil, tracer.ReleaseIO)
		cpu.Acquire(tm+20*us, gil, tracer.AcquireAfterWait)
		io.IOEnd(tm+1010*us).Wait(tm+1010*us+10, gil)
		tm += 1010*us + 10 + 5*ms
		io.DropRequest(tm, gil, cpu.ID())
		cpu.Release(tm+50*us, gil, tracer.ReleaseDropRequest).Wait(tm+50*us+10, gil)
		io.Acquire(tm+100*us, gil, tracer.AcquireForced)
		tm += 100*us + 10
	}
	io.Return(tm).Release(tm+10, gil, tracer.ReleaseThreadEnd).End(tm + 20)
	cpu.Acquire(tm+30, gil, tracer.AcquireAfterWait)
	tm += 10 * ms
	cpu.Return(tm).Release(tm+10, gil, tracer.ReleaseThreadEnd).End(tm + 20)
	tr := b.Trace()
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	r := Analyze(tracer.Derive(tr))
	v := verdictOf(r, Convoy)
	if v == nil {
		t.Fatalf("verdicts %s, want convoy", r.VerdictCodes())
	}
	for _, want := range []string{"io is I/O-bound", "waited a median 5.10ms", "after each of the 40 of its 120 I/O operations that ended with the GIL held by another thread", "while cpu held it"} {
		if !strings.Contains(v.Text, want) {
			t.Errorf("convoy lacks %q: %s", want, v.Text)
		}
	}
}

// TestConvoyBehindPoolMachinery: a convoy whose holder held the GIL in a
// thread pool's own machinery (its stack's innermost frame in threading
// or concurrent.futures) is not told to move that "compute" to a process
// (QA: a pool of 200 sleeping workers fed 2000 tasks, 120x faster than
// one untraced, was told to "run MainThread's compute in a process").
func TestConvoyBehindPoolMachinery(t *testing.T) {
	tr := convoyAfterSleep(t, 400_000_000)
	for i := range tr.Frames {
		if tr.Frames[i].Func == "crunch" {
			tr.Frames[i] = tracer.Frame{Func: "Thread.start", File: "/usr/lib/python3.11/threading.py", Line: 964}
		}
	}
	v := verdictOf(Analyze(tracer.Derive(tr)), Convoy)
	if v == nil {
		t.Fatal("no convoy")
	}
	if strings.Contains(v.Advice, "compute in a process") || !strings.Contains(v.Advice, "the thread pool's own machinery") || !strings.Contains(v.Advice, "submit fewer, larger tasks") {
		t.Errorf("advice: %s", v.Advice)
	}
}

// TestSaturatedFreeThreadedPoolAdvice: cpu-saturated in a run without a
// GIL advises a thread pool sized to the cores, not a process pool (QA:
// `record fixtures/countdown.yaml --gil none --threads 4 --clock virtual
// --cores 2` was told "ProcessPoolExecutor(max_workers=os.cpu_count())").
// Four threads computing 100 ms each in a free-threaded process on 2 cores.
func TestSaturatedFreeThreadedPoolAdvice(t *testing.T) {
	b := testkit.New("free")
	b.Meta().Cores = 2
	p := b.FreeThreadedProcess("python", 1)
	const ms = int64(time.Millisecond)
	fn := b.Func("count", 3)
	for i := range 4 {
		b.Thread(p, "counter-"+string(rune('0'+i))).Start(0).Call(1, fn).Return(200 * ms).End(200*ms + 1)
	}
	_, v := cpuSaturatedOf(t, b)
	if !strings.Contains(v.Advice, "ThreadPoolExecutor(max_workers=os.cpu_count()) will do: without a GIL") || strings.Contains(v.Advice, "ProcessPoolExecutor") {
		t.Errorf("advice: %s", v.Advice)
	}
}
