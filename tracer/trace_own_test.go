package tracer

import "testing"

// TestOwnFile: a program run as a module (python3 -m pkg.mod) owns its
// package's files wherever they are installed (QA: a virtualenv's
// site-packages package run with -m was "0 % own code"); a script's
// program owns only what ProgramFile says.
func TestOwnFile(t *testing.T) {
	for _, tc := range []struct{ command, pkg string }{
		{"/v/bin/python -m solo", "solo"},
		{"python3 -X dev -W error -m pkg.sub.mod --flag", "pkg"},
		{"python3 -mpkg.mod", "pkg"},
		{"python3 -u -m pkg", "pkg"},
		{"python3 app.py -m other", ""},
		{"python3 -c import x -m y", ""},
		{"python3", ""},
		{"python3 -m", ""},
		{"python3 -um pkg.x", "pkg"},
		{"python3 -OOm pkg", "pkg"},
		{"python3 -Xdev -m pkg", "pkg"},
		{"python3 -Im", ""},
		{"python3 -uc code", ""},
		{"python3 - -m x", ""},
	} {
		if got := MainPackage(tc.command); got != tc.pkg {
			t.Errorf("MainPackage(%q) = %q, want %q", tc.command, got, tc.pkg)
		}
	}
	tr := &Trace{Meta: Meta{Extra: map[string]string{"command": "/v/bin/python -m solo.main"}}}
	for file, want := range map[string]bool{
		"/v/lib/python3.11/site-packages/solo/main.py":  true,
		"/v/lib/python3.11/site-packages/solo.py":       true,
		"/v/lib/python3.11/site-packages/solon/x.py":    false,
		"/v/lib/python3.11/site-packages/numpy/core.py": false,
		"/usr/lib/python3.11/threading.py":              false,
		"<frozen importlib._bootstrap>":                 false,
		"/home/me/app.py":                               true,
	} {
		if got := tr.OwnFile(file); got != want {
			t.Errorf("OwnFile(%q) = %v, want %v", file, got, want)
		}
	}
	script := &Trace{Meta: Meta{Extra: map[string]string{"command": "python3 app.py"}}}
	if script.OwnFile("/v/lib/python3.11/site-packages/solo/main.py") {
		t.Error("a script's program owns an installed package")
	}
}
