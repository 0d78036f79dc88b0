package workload

import (
	"regexp"
	"strings"
	"testing"
)

// TestComputeSuggestionsValid: the {loops: N} that an integer compute
// suggests is itself accepted, and a value that no loop count fits gets no
// such suggestion.
func TestComputeSuggestionsValid(t *testing.T) {
	const tmpl = "name: x\nthreads:\n  - name: t\n    run: f\nfunctions:\n  f:\n    - compute: VALUE\n"
	suggestion := regexp.MustCompile(`\{loops: [^}]*\}`)
	for _, v := range []string{"0", "-1", "5", "1000", "100000000001", "0x10"} {
		_, err := Parse("w.yaml", []byte(strings.Replace(tmpl, "VALUE", v, 1)))
		if err == nil {
			t.Fatalf("compute: %s accepted", v)
		}
		s := suggestion.FindString(err.Error())
		if s == "" {
			t.Fatalf("compute: %s: no suggestion in %v", v, err)
		}
		if s == "{loops: N}" {
			continue // the general form, with its range
		}
		if _, err := Parse("w.yaml", []byte(strings.Replace(tmpl, "VALUE", s, 1))); err != nil {
			t.Errorf("compute: %s suggests %s, which is refused: %v", v, s, err)
		}
	}
}

// TestNonUTF8Located: a byte that is not UTF-8 is named with its offset,
// line and column.
func TestNonUTF8Located(t *testing.T) {
	_, err := Parse("w.yaml", []byte("name: x\ndescription: \"caf\xe9\"\n"))
	if err == nil || !strings.Contains(err.Error(), "w.yaml:2:18: invalid UTF-8 at byte 25 (0xE9)") {
		t.Fatalf("got %v", err)
	}
}
