package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/tracer"
)

func seedOf(s int64) *int64 { return &s }

func TestRecordClockArgs(t *testing.T) {
	testArgs(t, recordCmd, []argsCase[recordOptions]{
		{[]string{"w.yaml", "--clock", "virtual", "--cores", "8", "--seed", "3"}, &recordOptions{Workload: "w.yaml", Clock: "virtual", Cores: 8, Seed: seedOf(3)}, false, ""},
		{[]string{"w.yaml", "--seed", "0"}, &recordOptions{Workload: "w.yaml", Seed: seedOf(0)}, false, ""},
		{[]string{"w.yaml", "--cores", "4"}, &recordOptions{Workload: "w.yaml", Cores: 4}, false, ""}, // the workload may say clock: virtual
		{[]string{"w.yaml", "--clock", "simulated"}, nil, true, "--clock"},
		{[]string{"w.yaml", "--clock", "real", "--cores", "4"}, nil, true, "virtual"},
		{[]string{"w.yaml", "--clock", "virtual", "--cores", "-1"}, nil, true, "--cores"},
	})
}

func TestCompareClockArgs(t *testing.T) {
	all := []string{"threads", "processes", "free-threaded"}
	testArgs(t, compareCmd, []argsCase[compareOptions]{
		{[]string{"w.yaml", "--clock", "real"}, &compareOptions{File: "w.yaml", Threads: []int{1, 2, 4, 8}, Modes: all, Runs: 1, Clock: "real"}, false, ""},
		{[]string{"w.yaml", "--cores", "64", "--seed", "7"}, &compareOptions{File: "w.yaml", Threads: []int{1, 2, 4, 8}, Modes: all, Runs: 1, Cores: 64, Seed: seedOf(7)}, false, ""},
		{[]string{"w.yaml", "--clock", "real", "--cores", "2"}, nil, true, "virtual"},
		{[]string{"w.yaml", "--clock", "wall"}, nil, true, "--clock"},
	})
}

// TestRecordVirtualIsByteIdentical: the same workload, flags and seed give
// the same run.giltrace and the same report, byte for byte.
func TestRecordVirtualIsByteIdentical(t *testing.T) {
	w := writeWorkload(t, small)
	var files [][]byte
	var outs []string
	for i := range 2 {
		dir := filepath.Join(t.TempDir(), "out")
		out, err := runRoot("record", w, "-o", dir, "--clock", "virtual", "--cores", "2", "--seed", "5", "--formats", "none")
		if err != nil {
			t.Fatalf("record %d: %v\n%s", i, err, out)
		}
		b, err := os.ReadFile(filepath.Join(dir, "run.giltrace"))
		if err != nil {
			t.Fatal(err)
		}
		files, outs = append(files, b), append(outs, strings.ReplaceAll(out, dir, "DIR"))
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Errorf("two virtual records gave different run.giltrace files")
	}
	if outs[0] != outs[1] {
		t.Errorf("two virtual records printed different reports:\n%s\n---\n%s", outs[0], outs[1])
	}
	tr, err := tracer.Read(bytes.NewReader(files[0]))
	if err != nil {
		t.Fatal(err)
	}
	if m := tr.Meta; m.Extra["clock"] != "virtual" || m.Extra["cores"] != "2" || m.Extra["seed"] != "5" || m.Cores != 2 {
		t.Errorf("meta %+v: expected clock virtual, 2 cores, seed 5", m)
	}
}
