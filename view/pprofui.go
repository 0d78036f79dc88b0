package view

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/giltrace/giltrace/exporters/chrome"
	"github.com/giltrace/giltrace/exporters/perfetto"
	gpprof "github.com/giltrace/giltrace/exporters/pprof"
	"github.com/giltrace/giltrace/tracer"
	"github.com/google/pprof/driver"
	"github.com/google/pprof/profile"
)

// Profiles are the pprof profiles the page embeds pprof's web UI for, in
// the order of the page's links.
var Profiles = []gpprof.Kind{gpprof.KindWait, gpprof.KindBlame, gpprof.KindWall}

// traceFormat is the trace the Perfetto button sends, its file name and a
// function writing it: Chrome JSON, or Perfetto's protobuf for a run over
// perfetto.LargeRun events.
func traceFormat(s *tracer.Spans, warnings []string) (string, func(context.Context, io.Writer) error) {
	if len(s.Trace.Events) > perfetto.LargeRun {
		return "trace.perfetto-trace", func(ctx context.Context, w io.Writer) error {
			return perfetto.New(w).WithWarnings(warnings).Export(ctx, s)
		}
	}
	return "trace.json", func(ctx context.Context, w io.Writer) error {
		return chrome.New(w).WithWarnings(warnings).Export(ctx, s)
	}
}

// mountPprof builds each profile and mounts pprof's web UI for it under
// /pprof/KIND/. Its source view reads the workload file from a temporary
// copy of the text recorded in the trace, then from the current directory
// (the Python files of a real program).
func (h *Handler) mountPprof() error {
	src, err := h.sourceDir()
	if err != nil {
		return err
	}
	for _, k := range Profiles {
		p, err := gpprof.Profile(h.o.Spans, k)
		if err != nil {
			return err
		}
		gpprof.AddWarnings(p, h.warnings)
		handlers, err := pprofHandlers(p, k.String(), src)
		if err != nil {
			return fmt.Errorf("starting pprof's web UI for the %s profile: %w", k, err)
		}
		prefix := "/pprof/" + k.String()
		mux := http.NewServeMux()
		for path, hh := range handlers {
			if path == "/" {
				mux.Handle("/{$}", hh)
				continue
			}
			mux.Handle(path, hh)
		}
		h.mux.Handle(prefix+"/", http.StripPrefix(prefix, mux))
		h.mux.Handle(prefix, http.RedirectHandler(prefix+"/", http.StatusMovedPermanently))
	}
	return nil
}

// sourceDir writes the workload's text, as recorded in the trace, where
// pprof's source view finds it: DIR/<the frames' file path>. It returns
// the search path for pprof (-source_path).
func (h *Handler) sourceDir() (string, error) {
	cwd, _ := os.Getwd()
	m := h.o.Spans.Trace.Meta
	if m.WorkloadSource == "" || m.WorkloadFile == "" {
		return cwd, nil
	}
	dir, err := os.MkdirTemp("", "giltrace-view-")
	if err != nil {
		return "", fmt.Errorf("preparing pprof's source view: %w", err)
	}
	h.tmp = dir
	rel := strings.TrimLeft(filepath.Clean(m.WorkloadFile), string(filepath.Separator)+".")
	for _, name := range []string{rel, filepath.Base(m.WorkloadFile)} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", fmt.Errorf("preparing pprof's source view: %w", err)
		}
		if err := os.WriteFile(p, []byte(m.WorkloadSource), 0o644); err != nil {
			return "", fmt.Errorf("preparing pprof's source view: %w", err)
		}
	}
	return dir + string(filepath.ListSeparator) + cwd, nil
}

// pprofHandlers runs pprof's driver on p as `pprof -http` would, and
// returns the handlers of its web UI instead of serving them: the
// HTTPServer hook receives them and returns at once.
func pprofHandlers(p *profile.Profile, name, sourcePath string) (map[string]http.Handler, error) {
	var handlers map[string]http.Handler
	args := []string{"-http=localhost:0", "-no_browser", "-symbolize=none", "-source_path=" + sourcePath, name}
	err := driver.PProf(&driver.Options{
		Flagset: newFlagSet(args),
		Fetch:   fetcher{p},
		UI:      quietUI{},
		HTTPServer: func(a *driver.HTTPServerArgs) error {
			handlers = a.Handlers
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	if handlers == nil {
		return nil, fmt.Errorf("pprof's driver returned no web UI")
	}
	return handlers, nil
}

// fetcher gives pprof's driver the profile, whatever the source's name.
type fetcher struct{ p *profile.Profile }

func (f fetcher) Fetch(src string, _, _ time.Duration) (*profile.Profile, string, error) {
	return f.p.Copy(), "", nil
}

// flagSet is pprof's driver.FlagSet over a flag.FlagSet parsing fixed
// arguments.
type flagSet struct {
	*flag.FlagSet
	args []string
}

func newFlagSet(args []string) *flagSet {
	fs := flag.NewFlagSet("pprof", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &flagSet{fs, args}
}

func (f *flagSet) StringList(name, def, usage string) *[]*string {
	return &[]*string{f.String(name, def, usage)}
}
func (f *flagSet) ExtraUsage() string   { return "" }
func (f *flagSet) AddExtraUsage(string) {}
func (f *flagSet) Parse(usage func()) []string {
	f.Usage = usage
	if err := f.FlagSet.Parse(f.args); err != nil {
		usage()
		return nil
	}
	return f.Args()
}

// quietUI is pprof's driver.UI saying nothing: the web UI reports in the
// page, and the command prints its own address.
type quietUI struct{}

func (quietUI) ReadLine(string) (string, error)     { return "", io.EOF }
func (quietUI) Print(...any)                        {}
func (quietUI) PrintErr(...any)                     {}
func (quietUI) IsTerminal() bool                    { return false }
func (quietUI) WantBrowser() bool                   { return false }
func (quietUI) SetAutoComplete(func(string) string) {}
