package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection checks that dependencies point one way: tracer is
// a standard-library leaf, the VM does not know the exporters, and no
// exporter knows the VM or the CLI (STYLE.md, section 1).
func TestDependencyDirection(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const mod = "github.com/giltrace/giltrace/"
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", mod+"tracer").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, std, _ := strings.Cut(line, " ")
		if std != "true" && path != mod+"tracer" {
			t.Errorf("tracer depends on %s: it must use the standard library only", path)
		}
	}
	rules := []struct {
		pkgs   string
		banned []string
	}{
		{mod + "tracer/...", []string{mod + "vm", mod + "exporters", mod + "cmd"}},
		{mod + "vm/...", []string{mod + "exporters", mod + "cmd"}},
		{mod + "exporters/...", []string{mod + "vm", mod + "cmd"}},
	}
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", r.pkgs).CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "matched no packages") {
				continue
			}
			t.Fatalf("go list %s: %v\n%s", r.pkgs, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range r.banned {
				if dep == b || strings.HasPrefix(dep, b+"/") {
					t.Errorf("%s depends on %s", r.pkgs, dep)
				}
			}
		}
	}
}

func TestSelfProfile(t *testing.T) {
	file := t.TempDir() + "/self.pb.gz"
	cmd := newRootCmd()
	cmd.SetArgs([]string{"--self-profile", file, "version"})
	var out strings.Builder
	cmd.SetOut(&out)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "giltrace ") {
		t.Errorf("version printed %q", out.String())
	}
	b, err := exec.Command("go", "tool", "pprof", "-raw", file).CombinedOutput()
	if err != nil || !strings.Contains(string(b), "PeriodType") {
		t.Errorf("go tool pprof -raw %s: %v\n%s", file, err, b)
	}
}
