package tracer_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/giltrace/giltrace/internal/golden"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

func encode(t testing.TB, tr *tracer.Trace) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := tracer.Write(&buf, tr); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestUpdateFuzzSeeds writes the seed corpus of FuzzRead with -update: the
// files of the testkit scenarios, whole and cut off.
func TestUpdateFuzzSeeds(t *testing.T) {
	if !golden.Updating() {
		t.Skip("run with -update to rewrite testdata/fuzz/FuzzRead")
	}
	seeds := map[string][]byte{}
	for name, tr := range map[string]*tracer.Trace{"countdown": testkit.Countdown(3), "mixed": testkit.Mixed(), "lines": linesTrace()} {
		b := encode(t, tr)
		seeds[name] = b
		seeds[name+"-cut"] = b[:len(b)*2/3]
		// Version 2, as a Stream writes it while recording.
		v2 := tracer.StreamTrace(t, tr)
		seeds[name+"-v2"] = v2
		seeds[name+"-v2-cut"] = v2[:len(v2)*2/3]
	}
	for _, name := range []string{"free-threaded", "multiprocessing"} {
		b, err := os.ReadFile(filepath.Join("..", "fixtures", "traces", name+".giltrace"))
		if err != nil {
			t.Fatal(err)
		}
		seeds["recorded-"+name] = b
	}
	writeSeeds(t, "FuzzRead", seeds)
	writeSeeds(t, "FuzzParseText", map[string][]byte{
		"countdown": text(t, testkit.Countdown(2)),
		"mixed":     text(t, testkit.Mixed()),
		"odd-names": text(t, oddNames()),
		"lines":     text(t, linesTrace()),
	})
}

func writeSeeds(t *testing.T, target string, seeds map[string][]byte) {
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range seeds {
		data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzRead: Read never panics; what it accepts is valid and survives a
// round trip through Write unchanged.
func FuzzRead(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		// Salvaging never panics either, and keeps only valid traces.
		if st, err := (tracer.ReadOptions{Salvage: true}).Read(bytes.NewReader(b)); st != nil {
			if verr := st.CheckValid(); verr != nil {
				t.Fatalf("a salvaging Read (%v) returned an invalid trace: %v", err, verr)
			}
		}
		tr, err := tracer.Read(bytes.NewReader(b))
		var te *tracer.TruncatedError
		if err != nil && !errors.As(err, &te) {
			if tr != nil {
				t.Fatalf("Read returned a trace with error %v", err)
			}
			return
		}
		if tr == nil {
			return
		}
		if err := tr.CheckValid(); err != nil {
			t.Fatalf("Read accepted an invalid trace: %v", err)
		}
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := tracer.Write(&buf, tr); err != nil {
			t.Fatalf("Write of a trace Read accepted: %v", err)
		}
		first := bytes.Clone(buf.Bytes())
		back, err := tracer.Read(&buf)
		if err != nil {
			t.Fatalf("reading back: %v", err)
		}
		// Compare the encodings rather than the traces: a NaN calibration
		// is never DeepEqual to itself.
		if again := encode(t, back); !bytes.Equal(again, first) {
			t.Fatalf("round trip differs")
		}
	})
}

// FuzzParseText: ParseText never panics; what it accepts survives a round
// trip through WriteText unchanged.
func FuzzParseText(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := tracer.ParseText(bytes.NewReader(b))
		if err != nil {
			if tr != nil {
				t.Fatalf("ParseText returned a trace with error %v", err)
			}
			return
		}
		first := text(t, tr)
		back, err := tracer.ParseText(bytes.NewReader(first))
		if err != nil {
			t.Fatalf("parsing back: %v\n%s", err, first)
		}
		if again := text(t, back); !bytes.Equal(again, first) {
			t.Fatalf("round trip differs:\n%s\n%s", first, again)
		}
		// The binary form holds the same trace.
		if _, err := tracer.Read(bytes.NewReader(encode(t, tr))); err != nil {
			t.Fatalf("binary round trip: %v", err)
		}
	})
}
