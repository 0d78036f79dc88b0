package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestCLIReference: docs/cli.md is the reference of every command and flag,
// rendered from the commands themselves (their --help), so that it cannot
// fall behind them. GILTRACE_UPDATE_DOCS=1 rewrites it.
func TestCLIReference(t *testing.T) {
	got := cliReference(newRootCmd())
	const path = "../../docs/cli.md"
	if os.Getenv("GILTRACE_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Errorf("docs/cli.md differs from the commands' help: run GILTRACE_UPDATE_DOCS=1 go test ./cmd/giltrace -run TestCLIReference, and review the change")
	}
}

// TestCLIReferenceCoversEveryFlag: each command's section names each of
// flags but the hidden ones (kept for old scripts), and each command has
// a section.
func TestCLIReferenceCoversEveryFlag(t *testing.T) {
	root := newRootCmd()
	doc := cliReference(root)
	for _, c := range docCommands(root) {
		sec := section(doc, "## "+c.CommandPath())
		if sec == "" {
			t.Errorf("no section for %s", c.CommandPath())
			continue
		}
		c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden && !strings.Contains(sec, "`--"+f.Name) && !strings.Contains(sec, ", --"+f.Name) {
				t.Errorf("%s: --%s missing", c.CommandPath(), f.Name)
			}
		})
	}
}

// section is doc's text from the line head to the next "## ".
func section(doc, head string) string {
	i := strings.Index(doc, "\n"+head+"\n")
	if i < 0 {
		return ""
	}
	rest := doc[i+1+len(head):]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// docCommands is the root and its documented subcommands, in cobra's
// order (by name): help and completion are cobra's own.
func docCommands(root *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{root}
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		out = append(out, c)
	}
	return out
}

// flagLine is one flag of pflag's usage text: its spelling (with the
// shorthand and the value's name) and its text (with the default).
var flagLine = regexp.MustCompile(`^\s+((?:-\S, )?--\S+(?: \S+)?)\s{2,}(.*)$`)

func cliReference(root *cobra.Command) string {
	var b strings.Builder
	b.WriteString("# Command-line reference\n\n")
	b.WriteString("Every command of `giltrace` and its flags, as `giltrace COMMAND --help`\n")
	b.WriteString("prints them (this page is generated from the commands: `GILTRACE_UPDATE_DOCS=1\n")
	b.WriteString("go test ./cmd/giltrace -run TestCLIReference`). Exit status: 0 when the\n")
	b.WriteString("command did its work, 1 when it failed (the cause on stderr), 2 for a usage\n")
	b.WriteString("error; a traced program's own status passes through `record -- COMMAND`, and a\n")
	b.WriteString("run stopped by a signal exits 128 + the signal's number\n")
	b.WriteString("([guarantees.md](guarantees.md)). The tutorial shows the commands at\n")
	b.WriteString("work: [tutorial.md](tutorial.md).\n\n")
	cmds := docCommands(root)
	for _, c := range cmds[1:] {
		fmt.Fprintf(&b, "- [`%s`](#%s): %s\n", c.CommandPath(), anchor(c.CommandPath()), escapeMD(c.Short))
	}
	for _, c := range cmds {
		fmt.Fprintf(&b, "\n## %s\n\n", c.CommandPath())
		if c.Short != "" {
			fmt.Fprintf(&b, "%s.\n\n", strings.TrimSuffix(escapeMD(c.Short), "."))
		}
		if c != root || c.Runnable() {
			fmt.Fprintf(&b, "```\n%s\n```\n\n", c.UseLine())
		}
		writeLong(&b, c.Long)
		writeFlags(&b, "Flags", c.NonInheritedFlags().FlagUsages())
		if c != root {
			writeFlags(&b, "Flags of every command", c.InheritedFlags().FlagUsages())
		}
	}
	return b.String()
}

// writeLong writes a command's long help: its paragraphs as text, and a
// paragraph whose lines are indented (a table of values) as a block.
func writeLong(b *strings.Builder, long string) {
	for _, p := range strings.Split(strings.TrimSpace(long), "\n\n") {
		indented := false
		for _, l := range strings.Split(p, "\n") {
			if strings.HasPrefix(l, " ") {
				indented = true
			}
		}
		if indented {
			fmt.Fprintf(b, "```\n%s\n```\n\n", p)
		} else {
			fmt.Fprintf(b, "%s\n\n", escapeMD(p))
		}
	}
}

// writeFlags writes pflag's usage text as a table.
func writeFlags(b *strings.Builder, title, usage string) {
	if strings.TrimSpace(usage) == "" {
		return
	}
	fmt.Fprintf(b, "%s:\n\n| flag | meaning |\n| --- | --- |\n", title)
	var rows [][2]string
	for _, l := range strings.Split(strings.TrimRight(usage, "\n"), "\n") {
		if m := flagLine.FindStringSubmatch(l); m != nil {
			rows = append(rows, [2]string{m[1], m[2]})
		} else if len(rows) > 0 {
			rows[len(rows)-1][1] += " " + strings.TrimSpace(l)
		}
	}
	for _, r := range rows {
		fmt.Fprintf(b, "| `%s` | %s |\n", strings.ReplaceAll(r[0], "|", `\|`), strings.ReplaceAll(escapeMD(r[1]), "|", `\|`))
	}
	b.WriteString("\n")
}

// escapeMD keeps text literal in Markdown: angle brackets (read as HTML)
// and the characters of emphasis.
func escapeMD(s string) string {
	return strings.NewReplacer("<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`).Replace(s)
}

// anchor is GitHub's anchor of a heading: lower case, spaces as hyphens.
func anchor(h string) string { return strings.ReplaceAll(strings.ToLower(h), " ", "-") }
