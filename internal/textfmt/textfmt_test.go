package textfmt

import "testing"

func TestDur(t *testing.T) {
	for _, tc := range []struct {
		ns   int64
		want string
	}{
		{0, "0ns"}, {999, "999ns"}, {1000, "1.00us"}, {999_400, "999us"}, {999_600, "1.00ms"},
		{1_234_567, "1.23ms"}, {999_400_000, "999ms"}, {999_960_000, "1.00s"}, {1_500_000_000, "1.50s"},
		{-999_960_000, "-1.00s"}, {99_970_000, "100ms"}, {99_940_000, "99.9ms"}, {9_999_000, "10.0ms"}, {120_000_000_000, "120s"},
	} {
		if got := Dur(tc.ns); got != tc.want {
			t.Errorf("Dur(%d) = %q, want %q", tc.ns, got, tc.want)
		}
	}
}

func TestAnd(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{{nil, ""}, {[]string{"a"}, "a"}, {[]string{"a", "b"}, "a and b"}, {[]string{"a", "b", "c"}, "a, b and c"}} {
		if got := And(c.in); got != c.want {
			t.Errorf("And(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
