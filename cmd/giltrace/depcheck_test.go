package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// layerRules is what each package of the module may import of the module
// (docs/architecture.md draws them): dependencies point one way, from the
// CLI down to the tracer, which is a standard-library leaf. Each rule
// applies to a package and everything under it, unless a more specific rule
// names the package; every package of the module must fall under a rule.
var layerRules = []struct {
	pkg     string   // a package path relative to the module, "" for none
	allowed []string // what it may import of the module (with everything under each)
}{
	{"tracer", nil},
	{"vm/workload", []string{"tracer"}},
	{"vm", []string{"tracer", "vm/workload", "internal/cpus"}},
	{"source", []string{"tracer", "source", "internal/cpus"}}, // and its own helpers under source/
	{"diagnosis", []string{"tracer", "internal/textfmt"}},
	{"exporters/report", []string{"tracer", "diagnosis", "internal/textfmt"}},
	{"exporters", []string{"tracer"}},
	{"model", []string{"tracer"}},
	{"chart", nil},
	{"compare", []string{"tracer", "vm", "diagnosis", "chart", "model", "internal/textfmt", "internal/cpus"}},
	{"view", []string{"tracer", "diagnosis", "exporters", "internal/textfmt"}},
	{"internal/textfmt", nil},
	{"internal/cpus", nil},
	{"internal/golden", nil},
	{"internal/browser", nil},
	{"internal/chrometest", nil},
	{"internal/jaegertest", nil},
	{"internal/testkit", []string{"tracer"}},
	{"scripts", []string{"tracer"}}, // the measuring scripts' helpers (scripts/partialloss)
	{"cmd", []string{"tracer", "vm", "source", "diagnosis", "exporters", "chart", "compare", "model", "view", "internal/textfmt", "internal/cpus"}},
}

// TestDependencyDirection checks every package's imports of the module
// against layerRules (STYLE.md, section 1), and that tracer uses the
// standard library only.
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
	out, err = exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", mod+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	under := func(path, pkg string) bool { return path == pkg || strings.HasPrefix(path, pkg+"/") }
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], mod)
		rule := -1
		for i, r := range layerRules {
			if under(pkg, r.pkg) && (rule < 0 || len(r.pkg) > len(layerRules[rule].pkg)) {
				rule = i
			}
		}
		if rule < 0 {
			t.Errorf("package %s falls under no rule of layerRules: add one (and to docs/architecture.md)", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			dep, ok := strings.CutPrefix(imp, mod)
			if !ok {
				continue
			}
			allowed := false
			for _, a := range layerRules[rule].allowed {
				allowed = allowed || under(dep, a)
			}
			if !allowed {
				t.Errorf("%s imports %s; its rule (%s) allows only %v", pkg, dep, layerRules[rule].pkg, layerRules[rule].allowed)
			}
		}
	}
}

// TestGlobalFlagsDocumented: every global flag (in every command's --help)
// is documented in README.md or docs/*.md, by its name as typed.
func TestGlobalFlagsDocumented(t *testing.T) {
	var docs strings.Builder
	files, _ := filepath.Glob("../../docs/*.md")
	for _, f := range append(files, "../../README.md") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs.Write(b)
	}
	n := 0
	newRootCmd().PersistentFlags().VisitAll(func(f *pflag.Flag) {
		n++
		if !strings.Contains(docs.String(), "`--"+f.Name) {
			t.Errorf("the global flag --%s (%s) is documented nowhere in README.md or docs/", f.Name, f.Usage)
		}
	})
	if n == 0 {
		t.Fatal("no global flags")
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
	// The same root run again (review: the second run wrapped the
	// first's wrapper, stopped its profiler again and hung).
	done := make(chan error, 1)
	go func() {
		file := filepath.Join(t.TempDir(), "again.pb.gz")
		cmd.SetArgs([]string{"--self-profile", file, "version"})
		err := cmd.Execute()
		if _, serr := os.Stat(file); err == nil && serr != nil {
			err = serr
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the same root again: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the same root run again with --self-profile did not return within a minute")
	}
	// Written by cobra's own commands too; never by a command that fails
	// (TestSelfProfileNotOnFailure).
	file = filepath.Join(t.TempDir(), "self.pb.gz")
	cmd = newRootCmd()
	cmd.SetArgs([]string{"--self-profile", file, "help"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	if err := cmd.Execute(); err != nil {
		t.Errorf("help: %v", err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Size() == 0 {
		t.Errorf("help: no profile written: %v", err)
	}
}
