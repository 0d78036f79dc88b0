package chrome

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestAppendMicros(t *testing.T) {
	for ns, want := range map[int64]string{
		0:             "0.000",
		1:             "0.001",
		999:           "0.999",
		1000:          "1.000",
		1234567:       "1234.567",
		-1500:         "-1.500",
		5_000_000_010: "5000000.010",
	} {
		if got := string(appendMicros(nil, ns)); got != want {
			t.Errorf("appendMicros(%d) = %s, want %s", ns, got, want)
		}
	}
}

// TestAppendMicrosAsBefore: the digits made in place are the bytes of
// the strconv form it replaced, for any int64.
func TestAppendMicrosAsBefore(t *testing.T) {
	before := func(b []byte, ns int64) []byte {
		if ns < 0 {
			b = append(b, '-')
			ns = -ns
		}
		b = strconv.AppendInt(b, ns/1000, 10)
		f := ns % 1000
		return append(b, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
	}
	r := rand.New(rand.NewPCG(3, 4))
	values := []int64{0, 1, -1, 999, -999, 1000, -1000, math.MaxInt64, math.MinInt64, math.MinInt64 + 1}
	for range 100000 {
		values = append(values, r.Int64()>>r.IntN(64), -(r.Int64() >> r.IntN(64)))
	}
	for _, ns := range values {
		if got, want := appendMicros([]byte("x"), ns), before([]byte("x"), ns); string(got) != string(want) {
			t.Fatalf("appendMicros(%d) = %q, want %q", ns, got, want)
		}
	}
}

func TestAppendString(t *testing.T) {
	for in, want := range map[string]string{
		"plain":           "plain",
		`q"b\s`:           `q"b\s`,
		"nl\ncr\rtab\t":   "nl\ncr\rtab\t",
		"ctl\x01\x1f":     "ctl\x01\x1f",
		"ünï€😀":           "ünï€😀",
		"bad\xffutf8\xc3": "bad\ufffdutf8\ufffd",
	} {
		b := appendString(nil, in)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("appendString(%q) = %s: not a JSON string: %v", in, b, err)
			continue
		}
		if got != want {
			t.Errorf("appendString(%q) decodes to %q, want %q", in, got, want)
		}
		for _, c := range b {
			if c < 0x20 {
				t.Errorf("appendString(%q) = %q has a raw control character", in, b)
			}
		}
	}
}

func TestAppendFloat(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{{50000, "50000"}, {0.5, "0.5"}, {1e21, "1e+21"}} {
		if got := string(appendFloat(nil, c.in)); got != c.want {
			t.Errorf("appendFloat(%v) = %s, want %s", c.in, got, c.want)
		}
	}
}
