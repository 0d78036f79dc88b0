package cpython

import (
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"slices"
	"strconv"
	"testing"
)

// TestLineTables decodes the line table of a sample function with each
// interpreter's format and compares every instruction's line with what the
// interpreter itself says (testdata/linetable.py).
func TestLineTables(t *testing.T) {
	for _, v := range pyenvVersions {
		t.Run(v, func(t *testing.T) {
			pyenvInterp(t, v)
			out, err := exec.Command(pyenv(v), "testdata/linetable.py").Output()
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				First int
				Minor int
				Table string
				Lines map[string]int
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			tab, _ := hex.DecodeString(got.Table)
			if len(got.Lines) < 20 {
				t.Fatalf("only %d offsets", len(got.Lines))
			}
			for k, want := range got.Lines {
				off, _ := strconv.Atoi(k)
				var line int
				switch got.Minor {
				case 9:
					line = lineLnotab(tab, got.First, off)
				case 10:
					line = lineTable310(tab, got.First, off)
				default:
					line = lineTable311(tab, got.First, off/2)
				}
				if line != want {
					t.Errorf("offset %d: line %d, want %d", off, line, want)
				}
			}
			if got.Minor < 11 {
				return
			}
			// lineNear311: an instruction without a line has the last
			// line before it (sample's loop ends in such a jump on 3.11).
			offs := make([]int, 0, len(got.Lines))
			for k := range got.Lines {
				off, _ := strconv.Atoi(k)
				offs = append(offs, off)
			}
			slices.Sort(offs)
			last, unlocated := 0, 0
			for _, off := range offs {
				want := got.Lines[strconv.Itoa(off)]
				if want == 0 {
					want = last
					unlocated++
				}
				last = want
				if line := lineNear311(tab, got.First, off/2); line != want {
					t.Errorf("offset %d: near line %d, want %d", off, line, want)
				}
			}
			t.Logf("%d instructions without a line", unlocated)
		})
	}
}

func TestLineTableCorrupt(t *testing.T) {
	for _, tab := range [][]byte{nil, {0x01}, {0xff, 0xff, 0xff}, {0xf0}} {
		_ = lineTable311(tab, 10, 3)
		_ = lineTable310(tab, 10, 3)
		_ = lineLnotab(tab, 10, 3)
	}
}
