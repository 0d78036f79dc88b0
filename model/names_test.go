package model

import "testing"

// TestFuncNameRefusesGarbledText: a recorded function name with a control
// or invalid character (read from memory that changed under the recorder)
// is written "?"; a real one as it is.
func TestFuncNameRefusesGarbledText(t *testing.T) {
	for in, want := range map[string]string{
		"Pool._handle_tasks":        "Pool._handle_tasks",
		"<module>":                  "<module>",
		"café":                      "café",
		"\x90\x80fC\xff":            "?",
		"????????`?fC\x01??__build": "?",
		"name\u0085":                "?",
	} {
		if got := funcName(in); got != want {
			t.Errorf("funcName(%q) = %q, want %q", in, got, want)
		}
	}
}
