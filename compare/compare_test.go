package compare

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"image"
	"image/draw"
	"image/png"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/chart"
	"github.com/giltrace/giltrace/internal/golden"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

const ms = int64(time.Millisecond)

// fakeRun stands in for the VM with built traces of a CPU-bound workload:
// n threads under the GIL take n times as long as one; n processes or n
// free-threaded threads take as long as one.
func fakeRun(_ context.Context, v Variant) (*tracer.Trace, error) {
	const one = 52 * ms // testkit.CPUThreads' wall per thread for 10 rounds
	switch {
	case v.Threads == 1:
		return testkit.Serial(one), nil
	case v.Mode == Threads:
		return testkit.CPUThreads(v.Threads, 10*v.Threads), nil
	case v.Mode == Processes:
		return testkit.Processes(v.Threads, one), nil
	}
	return testkit.FreeThreaded(v.Threads, one), nil
}

func TestVariants(t *testing.T) {
	o := Options{Threads: []int{4, 2}, Modes: []string{FreeThreaded, Threads}, SwitchIntervals: []time.Duration{5 * time.Millisecond, time.Millisecond}}
	vs, err := o.Variants()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range vs {
		names = append(names, v.Name())
	}
	want := []string{"threads-1-si5ms", "threads-2-si5ms", "threads-4-si5ms", "threads-1-si1ms", "threads-2-si1ms", "threads-4-si1ms",
		"free-threaded-1", "free-threaded-2", "free-threaded-4"}
	if !slices.Equal(names, want) {
		t.Errorf("variants = %v, want %v", names, want)
	}
	for _, bad := range []Options{{Modes: []string{"green-threads"}}, {Threads: []int{0}}, {SwitchIntervals: []time.Duration{-1}}} {
		if _, err := bad.Variants(); err == nil {
			t.Errorf("Variants(%+v) = nil error", bad)
		}
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	var progress bytes.Buffer
	res, err := Run(context.Background(), Options{Workload: "countdown", CallsPerThread: 1, Threads: []int{1, 2, 4}, Dir: dir, Progress: &progress}, fakeRun)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 9 || res.Cores != 2 {
		t.Fatalf("%d rows on %d cores, want 9 on 2", len(res.Rows), res.Cores)
	}
	if n := strings.Count(progress.String(), "\n"); n != 9 || !strings.Contains(progress.String(), "[9/9] free-threaded-4 (0 left") {
		t.Errorf("progress:\n%s", progress.String())
	}
	for _, row := range res.Rows {
		want := 1.0 // threads stay flat
		if row.Mode != Threads {
			want = float64(row.Threads) // the fake has no core limit
		}
		if row.Speedup < 0.9*want || row.Speedup > 1.1*want {
			t.Errorf("%s-%d: speedup %.2f, want about %.2f", row.Mode, row.Threads, row.Speedup, want)
		}
		if row.Mode == Threads && row.Threads > 1 && !slices.Contains(row.Verdicts, "gil-bound") {
			t.Errorf("%s-%d: verdicts %v, want gil-bound", row.Mode, row.Threads, row.Verdicts)
		}
		kept, err := tracer.ReadFile(row.Trace)
		if err != nil {
			t.Errorf("%s-%d: kept trace: %v", row.Mode, row.Threads, err)
			continue
		}
		// N threads do N times the one-thread run's work: N times its wall
		// is the same work on one thread, measured, for the report.
		if _, ok := kept.Meta.Extra["serial_wall_ns"]; ok != (row.Threads > 1) {
			t.Errorf("%s-%d: serial_wall_ns recorded %v", row.Mode, row.Threads, ok)
		}
	}

	var text, js, svg, pngb bytes.Buffer
	for _, f := range []func() error{
		func() error { return res.WriteText(&text) },
		func() error { return res.WriteJSON(&js) },
		func() error { return res.WriteSVG(&svg, Speedup) },
		func() error { return res.WritePNG(&pngb, Speedup) },
	} {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	checkGolden(t, "countdown.txt", text.Bytes())
	checkGolden(t, "countdown.svg", svg.Bytes())
	d := xml.NewDecoder(bytes.NewReader(svg.Bytes()))
	for {
		if _, err := d.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Errorf("svg is not well-formed XML: %v", err)
			}
			break
		}
	}
	img, err := png.Decode(&pngb)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != chart.Width || b.Dy() != chart.Height {
		t.Errorf("png is %v, want %dx%d", b, chart.Width, chart.Height)
	}
	// Every mode's colour is drawn.
	rgba := image.NewRGBA(img.Bounds())
	draw.Draw(rgba, rgba.Bounds(), img, image.Point{}, draw.Src)
	for mode, c := range modeColors {
		found := false
		for i := 0; i+3 < len(rgba.Pix) && !found; i += 4 {
			found = rgba.Pix[i] == c.R && rgba.Pix[i+1] == c.G && rgba.Pix[i+2] == c.B
		}
		if !found {
			t.Errorf("png has no pixel of %s's colour", mode)
		}
	}
}

func TestRunKeepsFastest(t *testing.T) {
	walls := []int64{90 * ms, 50 * ms, 70 * ms}
	calls := 0
	run := func(context.Context, Variant) (*tracer.Trace, error) {
		calls++
		return testkit.Serial(walls[(calls-1)%3]), nil
	}
	res, err := Run(context.Background(), Options{Workload: "w", CallsPerThread: 1, Threads: []int{1}, Modes: []string{Threads}, Runs: 3}, run)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 3 || len(res.Rows) != 1 || res.Rows[0].WallNS != 50*ms+20 {
		t.Fatalf("%d runs, rows %+v; want 3 runs and the 50 ms one kept", calls, res.Rows)
	}
}

func TestRunStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	run := func(ctx context.Context, v Variant) (*tracer.Trace, error) {
		calls++
		if calls == 3 {
			cancel()
			return nil, ctx.Err()
		}
		return fakeRun(ctx, v)
	}
	res, err := Run(ctx, Options{Workload: "w", CallsPerThread: 1, Threads: []int{1, 2}}, run)
	if !errors.Is(err, context.Canceled) || res == nil || len(res.Rows) != 2 {
		t.Fatalf("Run = %v rows, %v; want 2 rows and context.Canceled", res, err)
	}
}

// TestRunStopsKeepsTheVariant: the variant a stop interrupted keeps what
// it had run, its trace, and the error says where (QA: only the finished
// variants were kept).
func TestRunStopsKeepsTheVariant(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	run := func(ctx context.Context, v Variant) (*tracer.Trace, error) {
		calls++
		tr, err := fakeRun(ctx, v)
		if calls == 2 {
			cancel()
			return tr, errors.Join(err, ctx.Err())
		}
		return tr, err
	}
	dir := t.TempDir()
	res, err := Run(ctx, Options{Workload: "w", CallsPerThread: 1, Threads: []int{1, 2}, Dir: dir}, run)
	kept := filepath.Join(dir, "threads-2.giltrace")
	if !errors.Is(err, context.Canceled) || res == nil || len(res.Rows) != 1 || !strings.Contains(err.Error(), "stopped at threads-2 (what it had run is kept: "+kept+")") {
		t.Fatalf("Run = %v, %v; want 1 row and the stopped variant's trace kept", res, err)
	}
	if _, err := tracer.ReadFile(kept); err != nil {
		t.Errorf("the stopped variant's trace: %v", err)
	}
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", name), got)
}

// TestMachineWording: the table and the charts name the cores in the
// singular for one (QA: "on 1 simulated cores"), and the charts' titles
// nest no parentheses (QA: "(2 simulated cores (virtual time))").
func TestMachineWording(t *testing.T) {
	for _, tc := range []struct {
		cores              int
		clock              string
		text, speed, overl string
	}{
		{1, "virtual", "w on 1 simulated core (virtual time). speedup:", "w: speedup over one thread, simulated (1 simulated core, virtual time)", "w: overlap from the traces (1 simulated core, virtual time)"},
		{2, "virtual", "w on 2 simulated cores (virtual time). speedup:", "w: speedup over one thread, simulated (2 simulated cores, virtual time)", "w: overlap from the traces (2 simulated cores, virtual time)"},
		{1, "", "w on 1 core. speedup:", "w: speedup over one thread, measured (1 core)", "w: overlap from the traces (1 core)"},
		{8, "", "w on 8 cores. speedup:", "w: speedup over one thread, measured (8 cores)", "w: overlap from the traces (8 cores)"},
	} {
		r := &Result{Workload: "w", Cores: tc.cores, Clock: tc.clock, Rows: []Row{{Mode: Threads, Threads: 1, WallNS: 1e9, SwitchIntervalNS: 5e6}}}
		var b strings.Builder
		if err := r.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(b.String(), tc.text) {
			t.Errorf("%d cores, clock %q: table starts %q, want %q", tc.cores, tc.clock, strings.SplitN(b.String(), "\n", 2)[0], tc.text)
		}
		if got := r.Chart(Speedup).Title; got != tc.speed {
			t.Errorf("%d cores, clock %q: speedup chart %q, want %q", tc.cores, tc.clock, got, tc.speed)
		}
		if got := r.Chart(Overlap).Title; got != tc.overl {
			t.Errorf("%d cores, clock %q: overlap chart %q, want %q", tc.cores, tc.clock, got, tc.overl)
		}
	}
}

// TestTableWallAsRecord: the table's wall is textfmt.Dur's, as record's
// report prints it (QA: compare "1s", record "1.00s").
func TestTableWallAsRecord(t *testing.T) {
	r := &Result{Workload: "w", Cores: 2, Rows: []Row{{Mode: Threads, Threads: 1, WallNS: 1e9, SwitchIntervalNS: 5e6}, {Mode: Threads, Threads: 2, WallNS: 2_004_000_000, SwitchIntervalNS: 5e6}}}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"threads  1        5ms              1.00s  ", "threads  2        5ms              2.00s  "} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

// TestTableNotesDifferentBaselines: when the modes' one-thread runs differ
// in throughput by more than 10 %, the table says each speedup starts from
// its own mode's (QA: processes 4 and free-threaded 4 at the same
// throughput printed 4.00x and 2.90x, unexplained); not when they agree.
func TestTableNotesDifferentBaselines(t *testing.T) {
	rows := func(free float64) []Row {
		return []Row{
			{Mode: Threads, Threads: 1, Throughput: 9.0, Speedup: 1},
			{Mode: Processes, Threads: 1, Throughput: 9.0, Speedup: 1},
			{Mode: Processes, Threads: 4, Throughput: 36.1, Speedup: 4.01},
			{Mode: FreeThreaded, Threads: 1, Throughput: free, Speedup: 1},
			{Mode: FreeThreaded, Threads: 4, Throughput: 36.0, Speedup: 36.0 / free},
		}
	}
	for _, tc := range []struct {
		free float64
		want string
	}{
		{12.4, "The modes' one-thread runs differ: with one thread, free-threaded does 12.4 calls/s and threads 9.0 (1.38x). Each speedup is over its own mode's, so compare the modes by throughput."},
		{9.5, ""},
	} {
		var b strings.Builder
		if err := (&Result{Workload: "w", Cores: 4, Rows: rows(tc.free)}).WriteText(&b); err != nil {
			t.Fatal(err)
		}
		got := strings.Contains(b.String(), "one-thread runs differ")
		if tc.want == "" && got || tc.want != "" && !strings.Contains(b.String(), tc.want) {
			t.Errorf("free-threaded at %.1f calls/s alone:\n%s", tc.free, b.String())
		}
	}
}

// TestTableNotesAboveCores: a measured speedup above what the cores allow
// the CPU work of its one-thread run is said to come from a slow
// one-thread run (QA: "processes 2: 2.11x" on 2 cores, --clock real);
// within 5 % of that bound, in virtual time, or without the traces' CPU
// work, nothing.
func TestTableNotesAboveCores(t *testing.T) {
	// CPU-bound: each one-thread run computes 110 ms in a wall of 110 ms,
	// so 2 workers on 2 cores take 110 ms at the least: 2.00x at most.
	one := func(mode string) Row {
		return Row{Mode: mode, Threads: 1, WallNS: 110 * ms, Throughput: 9.0, Speedup: 1, work: &runWork{cpuNS: 110 * ms, threads: []int64{110 * ms}, cores: 2}}
	}
	two := func(mode string, speedup float64) Row {
		return Row{Mode: mode, Threads: 2, WallNS: int64(220 * float64(ms) / speedup), Throughput: 9 * speedup, Speedup: speedup,
			work: &runWork{cpuNS: 220 * ms, threads: []int64{110 * ms, 110 * ms}, cores: 2}}
	}
	rows := []Row{
		one(Threads), two(Threads, 1.01),
		one(Processes), two(Processes, 2.11),
		one(FreeThreaded), two(FreeThreaded, 2.02),
	}
	bare := slices.Clone(rows)
	for i := range bare {
		bare[i].work = nil
	}
	for _, tc := range []struct {
		clock string
		rows  []Row
		want  bool
	}{{"", rows, true}, {"virtual", rows, false}, {"", bare, false}} {
		var b strings.Builder
		r := &Result{Workload: "w", Cores: 2, Clock: tc.clock, Rows: slices.Clone(tc.rows)}
		r.finish() // the bounds (Row.SpeedupBound); no calls: the speedups stay as given
		if err := r.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		const note = "Above what the 2 cores allow: processes 2: 2.11x (at most 2.00x). No run goes faster than its cores allow"
		if strings.Contains(b.String(), note) != tc.want || strings.Contains(b.String(), "free-threaded 2:") {
			t.Errorf("clock %q, CPU work known %v:\n%s", tc.clock, tc.rows[0].work != nil, b.String())
		}
	}
}

// TestSpeedupOfLongRuns: the speedups come from the calls and walls, not
// from throughputs rounded to 0.001 a second (QA: runs of hours, 0.0
// calls a second, gave 0.00x, the one-thread row included).
func TestSpeedupOfLongRuns(t *testing.T) {
	const hour = int64(3600e9)
	r := &Result{Rows: []Row{
		{Mode: Threads, Threads: 1, WallNS: 21 * hour, Calls: 1, Throughput: round3(1 / (21 * 3600.0))},
		{Mode: Threads, Threads: 2, WallNS: 21 * hour, Calls: 2, Throughput: round3(2 / (21 * 3600.0))},
	}}
	r.finish()
	if r.Rows[0].Speedup != 1 || r.Rows[1].Speedup != 2 {
		t.Errorf("speedups %v and %v, want 1 and 2", r.Rows[0].Speedup, r.Rows[1].Speedup)
	}
}

// TestRunPastAFailedVariant: a variant whose run fails (not a stop) gets
// a row saying why, the others still run, the charts leave it out, the
// table says "failed" and gives no speedup to rows without their
// one-thread run, and the error names the variants that failed (QA: the
// one-thread run of a pool deadlocked, and compare printed nothing).
func TestRunPastAFailedVariant(t *testing.T) {
	deadlock := errors.New("running workload pool: run interrupted: deadlock: every thread left waits")
	run := func(ctx context.Context, v Variant) (*tracer.Trace, error) {
		if v.Mode == Threads && v.Threads == 1 {
			return nil, deadlock
		}
		return fakeRun(ctx, v)
	}
	res, err := Run(context.Background(), Options{Workload: "pool", CallsPerThread: 1, Threads: []int{1, 2}, Modes: []string{Threads, Processes}}, run)
	if !errors.Is(err, deadlock) || !strings.Contains(err.Error(), "1 of 4 variants failed (threads-1; each row says why)") {
		t.Errorf("err = %v", err)
	}
	if res == nil || len(res.Rows) != 4 {
		t.Fatalf("rows: %+v", res)
	}
	if r := res.Rows[0]; r.Error == "" || r.WallNS != 0 {
		t.Errorf("the failed row: %+v", r)
	}
	if r := res.Rows[1]; r.Error != "" || r.Speedup != 0 || r.WallNS == 0 {
		t.Errorf("threads-2, without its baseline: %+v", r)
	}
	if r := res.Rows[3]; r.Speedup < 1.8 {
		t.Errorf("processes-2: speedup %v", r.Speedup)
	}
	var b bytes.Buffer
	if err := res.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "failed: deadlock") {
		t.Errorf("table:\n%s", b.String())
	}
	for _, s := range res.Chart(Speedup).Series {
		for _, p := range s.Points {
			if s.Name == Threads && p[0] == 1 {
				t.Errorf("the failed run charted: %v", s.Points)
			}
		}
	}
}

// TestBusyRowsMarked: a measured run during which the machine was busy
// (its trace's CPU time obtained well below what its threads wanted) is
// marked in the table, with a note naming it and the share it obtained;
// the same run with its CPU time is not. QA: with --clock real on a busy
// machine, "free-threaded 2 ... 1.67x scales" was printed with no word,
// where its own report warned.
func TestBusyRowsMarked(t *testing.T) {
	tr, err := tracer.ReadFile(filepath.Join(testkit.FixtureDir(), "free-threaded.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	o := &Options{Workload: "w", CallsPerThread: 1}
	v := Variant{Mode: FreeThreaded, Threads: 2}
	for _, busy := range []bool{false, true} {
		if busy {
			tr.Meta.Extra["cpu_ns"] = "300000000" // 0.3 s of about 1.1 s wanted
		}
		row, err := o.row(v, tr)
		if err != nil {
			t.Fatal(err)
		}
		if row.BusyMachine != busy || busy && (row.ObtainedShare <= 0 || row.ObtainedShare >= 0.8) {
			t.Errorf("busy %v: row %+v", busy, row)
		}
		var b strings.Builder
		if err := (&Result{Workload: "w", Cores: 2, Rows: []Row{row}}).WriteText(&b); err != nil {
			t.Fatal(err)
		}
		marked := strings.Contains(b.String(), "(busy machine*)") && strings.Contains(b.String(), "* Busy machine: free-threaded 2 (2") && strings.Contains(b.String(), "%) obtained less than 80 % of the CPU time")
		if marked != busy {
			t.Errorf("busy %v, marked %v:\n%s", busy, marked, b.String())
		}
	}
}

// TestSpeedupBoundInJSON: a measured run's bound (the note's "at most")
// is in the JSON as speedup_bound; in virtual time, and for the
// one-thread rows, it is not.
func TestSpeedupBoundInJSON(t *testing.T) {
	rows := func() []Row {
		return []Row{
			{Mode: Processes, Threads: 1, WallNS: 110 * ms, Calls: 1, work: &runWork{cpuNS: 110 * ms, threads: []int64{110 * ms}, cores: 2}},
			{Mode: Processes, Threads: 2, WallNS: 104 * ms, Calls: 2, work: &runWork{cpuNS: 220 * ms, threads: []int64{110 * ms, 110 * ms}, cores: 2}},
		}
	}
	for _, clock := range []string{"", "virtual"} {
		r := &Result{Workload: "w", Cores: 2, Clock: clock, Rows: rows()}
		r.finish()
		var b strings.Builder
		if err := r.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		got := strings.Count(b.String(), `"speedup_bound": 2`)
		if want := map[string]int{"": 1, "virtual": 0}[clock]; got != want || strings.Count(b.String(), "speedup_bound") != want {
			t.Errorf("clock %q: speedup_bound 2 %d times, want %d:\n%s", clock, got, want, b.String())
		}
		if clock == "" && r.Rows[1].Speedup != 2.115 {
			t.Errorf("speedup %v, want 2.115", r.Rows[1].Speedup)
		}
	}
}
