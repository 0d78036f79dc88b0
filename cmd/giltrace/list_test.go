package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/exporters/pprof"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm"
	"github.com/giltrace/giltrace/vm/workload"
)

// listWorkload: a handler whose three operations are on lines 9, 10, 11.
const listWorkload = `name: lines
threads:
  - name: h
    count: 2
    run: handle
    repeat: 10
functions:
  handle:
    - compute: 2ms
    - io: {duration: 3ms, kind: network}
    - compute: 1ms
`

var listLine = regexp.MustCompile(`^\s*(\S+?)(?:ns)?\s+\S+\s+(\d+):`)

// list runs `go tool pprof -list handle` on file (with extra flags) and
// returns the flat nanoseconds per workload line.
func list(t *testing.T, file string, flags ...string) map[int]int64 {
	t.Helper()
	args := append([]string{"tool", "pprof", "-list", "^handle$", "-unit=ns"}, flags...)
	out, err := exec.Command("go", append(args, file)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof %v: %v\n%s", args, err, out)
	}
	got := map[int]int64{}
	for line := range strings.Lines(string(out)) {
		m := listLine.FindStringSubmatch(line)
		if m == nil || m[1] == "." {
			continue
		}
		ns, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		got[n] += ns
	}
	return got
}

// TestPprofListPerOperation: `go tool pprof -list` on the wall profile of
// a VM run puts each operation's time on the operation's own line: the
// I/O on the io line, the compute after it on its compute line, nothing
// on the definition line; and it agrees exactly with the derived spans.
func TestPprofListPerOperation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the VM and go tool pprof")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	yaml := filepath.Join(dir, "lines.yaml")
	if err := os.WriteFile(yaml, []byte(listWorkload), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := workload.Load(yaml)
	if err != nil {
		t.Fatal(err)
	}
	// In virtual time: exact, whatever the machine's load (a real-time run
	// on a loaded machine skewed the two computes' ratio to 0.24).
	tr, err := vm.Run(context.Background(), w, vm.Options{ClockMode: workload.ClockVirtual})
	if err != nil {
		t.Fatal(err)
	}
	s := tracer.Derive(tr)
	// What the spans say, per line of the innermost frame and state.
	want := map[int]int64{}
	byState := map[tracer.State]map[int]int64{}
	for _, sp := range s.States {
		if sp.Stack == tracer.NoStack {
			continue
		}
		line := tr.Frames[tr.Stacks[sp.Stack].Frame].Line
		want[line] += sp.End - sp.Start
		if byState[sp.State] == nil {
			byState[sp.State] = map[int]int64{}
		}
		byState[sp.State][line] += sp.End - sp.Start
	}
	prof := filepath.Join(dir, "wall.pb.gz")
	f, err := os.Create(prof)
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.NewWall(f).Export(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	f.Close()

	got := list(t, prof)
	for line, ns := range want {
		if got[line] != ns {
			t.Errorf("-list: line %d has %d ns, the spans %d", line, got[line], ns)
		}
	}
	const ms = int64(1e6)
	io := list(t, prof, "-tagfocus=state=io")
	if len(io) != 1 || io[10] != byState[tracer.StateIO][10] || io[10] < 20*3*ms {
		t.Errorf("I/O per line %v: want all of the 20 x 3 ms on line 10 (the io)", io)
	}
	run := list(t, prof, "-tagfocus=state=running")
	// Line 9 computes twice as long as line 11 (20 x 2 ms and 20 x 1 ms);
	// the io line runs only to block; the definition line, never.
	ratio := float64(run[11]) / float64(max(run[9], 1))
	if run[9] == 0 || ratio < 0.3 || ratio > 0.8 || run[10] > (run[9]+run[11])/20 || run[8] != 0 {
		t.Errorf("running per line %v: want line 11 about half of line 9, line 10 (the io) under 5 %%, none on line 8 (the def)", run)
	}
}

// TestOutputsDocPprofList: the `go tool pprof -list=serve` example of
// docs/outputs.md is what the command it names prints, run from the
// repository's root on a virtual-time record of fixtures/convoy.yaml
// (exact: the same figures on every machine).
func TestOutputsDocPprofList(t *testing.T) {
	if testing.Short() {
		t.Skip("runs giltrace record and go tool pprof")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	doc, err := os.ReadFile("../../docs/outputs.md")
	if err != nil {
		t.Fatal(err)
	}
	const record = "`giltrace record fixtures/convoy.yaml --clock virtual -o /tmp/convoy`"
	const prompt = "$ go tool pprof -list=serve /tmp/convoy/wall.pb.gz\n"
	text := string(doc)
	i := strings.Index(text, prompt)
	if i < 0 || !strings.Contains(strings.Join(strings.Fields(text), " "), record) {
		t.Fatalf("docs/outputs.md lacks the example's commands %s and %q", record, prompt)
	}
	want, _, _ := strings.Cut(text[i+len(prompt):], "```")

	root, bin := "../..", giltraceBinary(t)
	dir := t.TempDir()
	rec := exec.Command(bin, "record", "fixtures/convoy.yaml", "--clock", "virtual", "-o", dir, "--formats", "pprof-wall")
	rec.Dir = root
	if out, err := rec.CombinedOutput(); err != nil {
		t.Fatalf("giltrace record: %v\n%s", err, out)
	}
	pp := exec.Command("go", "tool", "pprof", "-list=serve", filepath.Join(dir, "wall.pb.gz"))
	pp.Dir = root
	got, err := pp.Output()
	if err != nil {
		t.Fatalf("go tool pprof: %v", err)
	}
	if string(got) != want {
		t.Errorf("docs/outputs.md shows\n%s\ngo tool pprof -list=serve prints\n%s", want, got)
	}
}
