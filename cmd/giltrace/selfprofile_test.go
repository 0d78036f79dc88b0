package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// selfProfileWorkload copies fixtures/convoy.yaml into a temporary
// directory: the commands below are told to profile into their own
// inputs, and a giltrace without the checks would replace the fixture.
func selfProfileWorkload(t *testing.T) string {
	t.Helper()
	w := filepath.Join(t.TempDir(), "convoy.yaml")
	copyFile(t, "../../fixtures/convoy.yaml", w)
	return w
}

// recordInto records workload w into dir in virtual time.
func recordInto(t *testing.T, w, dir string) {
	t.Helper()
	if out, err := runRoot("record", w, "--clock", "virtual", "-o", dir); err != nil {
		t.Fatalf("record: %v\n%s", err, out)
	}
}

// snapshot is the content of every file under root, by path.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			dest, err := os.Readlink(p)
			files[p] = "link to " + dest
			return err
		}
		b, err := os.ReadFile(p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// sameSnapshot reports the files of root that differ from before.
func sameSnapshot(t *testing.T, root string, before map[string]string) {
	t.Helper()
	after := snapshot(t, root)
	for p, b := range before {
		if a, ok := after[p]; !ok {
			t.Errorf("%s was removed", p)
		} else if a != b {
			t.Errorf("%s changed (%d bytes, was %d; gzip: %v)", p, len(a), len(b), strings.HasPrefix(a, "\x1f\x8b"))
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s was made", p)
		}
	}
}

// TestSelfProfileRefusesInputsAndOutputs: --self-profile FILE naming a
// file the command reads, or writes (its -o, or a file in its -o DIR), is
// a usage error before the command runs, and every file is left as it was
// (QA: the trace read by report, and the trace record had just made, were
// replaced by the profile; so was a user's report.txt that record had
// refused to replace).
func TestSelfProfileRefusesInputsAndOutputs(t *testing.T) {
	for _, tc := range []struct {
		name string
		// args are the command's, given the temporary root, the
		// workload, a run's directory and its trace.
		args func(root, w, run, trace string) (profile string, args []string)
		want string
	}{
		{"report's trace (QA)", func(root, w, run, trace string) (string, []string) {
			return trace, []string{"report", trace}
		}, "is report's argument"},
		{"the trace through a link", func(root, w, run, trace string) (string, []string) {
			link := filepath.Join(root, "link.giltrace")
			os.Symlink(trace, link)
			return link, []string{"report", trace}
		}, "is report's argument"},
		{"validate's trace", func(root, w, run, trace string) (string, []string) {
			return trace, []string{"validate", trace}
		}, "is validate's argument"},
		{"the workload", func(root, w, run, trace string) (string, []string) {
			return w, []string{"record", w, "--clock", "virtual", "-o", filepath.Join(root, "other")}
		}, "is record's argument"},
		{"check's workload", func(root, w, run, trace string) (string, []string) {
			return w, []string{"check", w}
		}, "is check's argument"},
		{"the trace record writes (QA)", func(root, w, run, trace string) (string, []string) {
			return trace, []string{"record", w, "--clock", "virtual", "-o", run}
		}, "is in record's output directory (-o " + "RUN)"},
		{"an output record writes (QA)", func(root, w, run, trace string) (string, []string) {
			return filepath.Join(run, "report.txt"), []string{"record", w, "--clock", "virtual", "-o", run}
		}, "is in record's output directory"},
		{"a user's file where record refuses to write (QA)", func(root, w, run, trace string) (string, []string) {
			dir := filepath.Join(root, "fresh")
			os.Mkdir(dir, 0o755)
			os.WriteFile(filepath.Join(dir, "report.txt"), []byte("my notes\n"), 0o644)
			return filepath.Join(dir, "report.txt"), []string{"record", w, "--clock", "virtual", "-o", dir}
		}, "is in record's output directory"},
		{"the directory through a link", func(root, w, run, trace string) (string, []string) {
			link := filepath.Join(root, "link")
			os.Symlink(run, link)
			return filepath.Join(run, "report.txt"), []string{"record", w, "--clock", "virtual", "-o", link}
		}, "is in record's output directory"},
		{"compare's directory", func(root, w, run, trace string) (string, []string) {
			return filepath.Join(run, "report.txt"), []string{"compare", trace, "-o", run}
		}, "is in compare's output directory"},
		{"export's -o", func(root, w, run, trace string) (string, []string) {
			out := filepath.Join(root, "mine.folded")
			os.WriteFile(out, []byte("mine\n"), 0o644)
			return out, []string{"export", trace, "-f", "folded", "-o", out}
		}, "is what export writes (-o "},
		{"model's -o, not yet made", func(root, w, run, trace string) (string, []string) {
			out := filepath.Join(root, "model.yaml")
			return out, []string{"model", trace, "-o", out}
		}, "is what model writes (-o "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			w := filepath.Join(root, "convoy.yaml")
			copyFile(t, "../../fixtures/convoy.yaml", w)
			run := filepath.Join(root, "run")
			recordInto(t, w, run)
			profile, args := tc.args(root, w, run, filepath.Join(run, traceName))
			before := snapshot(t, root)
			out, err := runRoot(append([]string{"--self-profile", profile}, args...)...)
			want := strings.ReplaceAll(tc.want, "RUN", run)
			if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "--self-profile "+profile+": ") || !strings.Contains(err.Error(), want) {
				t.Errorf("%v: %v (exit status %d), want a usage error naming --self-profile %s and %q\n%s", args, err, exitCodeOf(err), profile, want, out)
			}
			sameSnapshot(t, root, before)
		})
	}
}

// exitCodeOf is exitCode, 0 for no error.
func exitCodeOf(err error) int {
	if err == nil {
		return 0
	}
	return exitCode(err)
}

// TestSelfProfileNotOnFailure: a command that fails writes no profile, and
// leaves FILE as it was (QA: record refused to replace a user's
// report.txt, and the profile then replaced it); a traced program's exit
// status of its own, which giltrace passes through, is not a failure of
// giltrace's: its profile is written (it was lost when cobra's
// PersistentPostRunE wrote the profile, review).
func TestSelfProfileNotOnFailure(t *testing.T) {
	w := selfProfileWorkload(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "report.txt"), []byte("my notes\n"), 0o644)
	kept := filepath.Join(t.TempDir(), "kept.pb.gz")
	os.WriteFile(kept, []byte("an earlier profile"), 0o644)
	for _, args := range [][]string{
		{"record", w, "--clock", "virtual", "-o", dir}, // refuses to replace report.txt
		{"report", filepath.Join(t.TempDir(), "missing.giltrace")},
	} {
		for _, profile := range []string{kept, filepath.Join(t.TempDir(), "new.pb.gz")} {
			before := snapshot(t, filepath.Dir(profile))
			out, err := runRoot(append([]string{"--self-profile", profile}, args...)...)
			if err == nil || exitCode(err) != 1 {
				t.Errorf("%v: %v, want a failure\n%s", args, err, out)
			}
			sameSnapshot(t, filepath.Dir(profile), before)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "report.txt")); string(b) != "my notes\n" {
		t.Errorf("the user's report.txt: %q", b)
	}

	profile := filepath.Join(t.TempDir(), "self.pb.gz")
	root := newRootCmd()
	root.AddCommand(&cobra.Command{Use: "exits", RunE: func(*cobra.Command, []string) error { return &programExit{code: 3} }})
	root.SetArgs([]string{"--self-profile", profile, "exits"})
	if err := root.Execute(); exitCodeOf(err) != 3 {
		t.Errorf("a program's own status: %v", err)
	}
	if fi, err := os.Stat(profile); err != nil || fi.Size() == 0 {
		t.Errorf("a program's own status: no profile written: %v", err)
	}
}

// TestSelfProfileWrittenByTheCommand: a FILE that the command writes where
// no -o says so (record's default directory giltrace-out/NAME, export's
// file beside the trace) is found when the command ends: it is left as the
// command wrote it, and the profile is not written.
func TestSelfProfileWrittenByTheCommand(t *testing.T) {
	w := selfProfileWorkload(t)
	t.Chdir(t.TempDir())
	if out, err := runRoot("record", w, "--clock", "virtual"); err != nil {
		t.Fatalf("record: %v\n%s", err, out)
	}
	dir := filepath.Join("giltrace-out", "convoy")
	for _, tc := range []struct {
		profile string
		args    []string
	}{
		{filepath.Join(dir, "report.txt"), []string{"record", w, "--clock", "virtual"}},
		{filepath.Join(dir, traceName), []string{"record", w, "--clock", "virtual"}},
		{filepath.Join(dir, "flame.folded"), []string{"export", filepath.Join(dir, traceName), "-f", "folded"}},
	} {
		out, err := runRoot(append([]string{"--self-profile", tc.profile}, tc.args...)...)
		if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "self-profile "+tc.profile+": changed while "+tc.args[0]+" ran") {
			t.Errorf("%v: %v, want the profile not written\n%s", tc.args, err, out)
		}
		b, _ := os.ReadFile(tc.profile)
		if len(b) == 0 || strings.HasPrefix(string(b), "\x1f\x8b") {
			t.Errorf("%v: %s is not what %s wrote: %q", tc.args, tc.profile, tc.args[0], b[:min(len(b), 20)])
		}
	}
	if out, err := runRoot("validate", filepath.Join(dir, traceName)); err != nil {
		t.Errorf("the run's trace: %v\n%s", err, out)
	}
}
