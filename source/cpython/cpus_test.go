package cpython

import (
	"slices"
	"strings"
	"testing"
)

// TestParseCPUs: lists as taskset -c takes them, and the errors that name
// what is wrong; FormatCPUs writes them back with ranges joined.
func TestParseCPUs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		fmt  string
	}{
		{"0", []int{0}, "0"},
		{"1,0", []int{0, 1}, "0-1"},
		{"0-3,2,7", []int{0, 1, 2, 3, 7}, "0-3,7"},
		{" 4 , 6-6 ", []int{4, 6}, "4,6"},
		{"1023", []int{1023}, "1023"},
	} {
		got, err := ParseCPUs(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseCPUs(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if f := FormatCPUs(got); f != tc.fmt {
			t.Errorf("FormatCPUs(%v) = %q, want %q", got, f, tc.fmt)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", "expected CPU numbers"},
		{"a", `"a" is not a CPU number`},
		{"-1", `"-1" is not a CPU number`},
		{"0,,1", `"" is not a CPU number`},
		{"3-1", "ends before it begins"},
		{"0-5000", "CPU 5000 is past the last"},
		{"99999999999999999999", "is not a CPU number"},
	} {
		if got, err := ParseCPUs(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseCPUs(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.want)
		}
	}
}
