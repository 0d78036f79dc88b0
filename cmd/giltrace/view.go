package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/giltrace/giltrace/view"
	"github.com/spf13/cobra"
)

// viewOptions are the arguments of giltrace view.
type viewOptions struct {
	File      string // the .giltrace file
	Addr      string // where to listen: a loopback host and a port
	NoBrowser bool   // do not open a browser
	Perfetto  string // the Perfetto UI the page's button opens
}

func newViewCmd() *cobra.Command { return viewCmd(runView) }

// viewCmd builds the command around run, so that tests can check the
// parsed options.
func viewCmd(run func(*cobra.Command, *viewOptions) error) *cobra.Command {
	o := &viewOptions{}
	cmd := &cobra.Command{
		Use:   "view FILE.giltrace",
		Short: "Serve one local page for a recorded run: report, timeline, pprof, flame graph",
		Long: "view serves a page on 127.0.0.1 with everything about the run, offline: the\n" +
			"verdict and each thread's time by state, the speedup figures, a timeline (a lane\n" +
			"per thread, the GIL holder, handoffs; wheel to zoom, drag to pan), pprof's own\n" +
			"web UI for the wait, blame and wall profiles (flame graph, top, graph, source;\n" +
			"the graph needs graphviz's dot), the flame graph, the compare charts of the\n" +
			"run's directory, and a button that opens the trace in ui.perfetto.dev (the trace\n" +
			"goes from this page to the browser tab, and is not uploaded anywhere). It opens\n" +
			"a browser unless --no-browser; Ctrl-C stops the server (exit status 130, as any\n" +
			"command stopped by a signal). docs/outputs.md explains the page.",
		Args: usageArgs(exactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.File = runTraceArg(args[0])
			if err := o.check(); err != nil {
				return &usageError{err}
			}
			return run(cmd, o)
		},
	}
	cmd.Flags().StringVar(&o.Addr, "addr", "127.0.0.1:0", "listen on `HOST:PORT`, a loopback address (port 0 picks a free one)")
	cmd.Flags().BoolVar(&o.NoBrowser, "no-browser", false, "only print the address; do not open a browser")
	cmd.Flags().StringVar(&o.Perfetto, "perfetto", view.PerfettoOrigin, "the Perfetto UI that the page's button opens, as an origin `URL` (a self-hosted UI works offline)")
	return cmd
}

// check accepts only loopback addresses: the page serves the whole trace.
func (o *viewOptions) check() error {
	host, port, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", o.Addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("--addr %q: expected a port number from 0 to 65535 (0 picks a free one)", o.Addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--addr %q: expected a loopback host such as 127.0.0.1", o.Addr)
	}
	if u, err := url.Parse(o.Perfetto); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
		return fmt.Errorf("--perfetto %q: expected an origin such as https://ui.perfetto.dev", o.Perfetto)
	}
	return nil
}

func runView(cmd *cobra.Command, o *viewOptions) error {
	t, err := readTrace(o.File, cmd.ErrOrStderr(), "showing")
	if err != nil {
		return err
	}
	if err := checkHasEvents(t, o.File, "showing", "show"); err != nil {
		return err
	}
	r := newRun(t)
	title := t.Meta.Workload
	if title == "" {
		title = strings.TrimSuffix(filepath.Base(o.File), filepath.Ext(o.File))
	}
	h, err := view.New(view.Options{Spans: r.spans, Report: r.diagnosis(), Title: title,
		Dir: filepath.Dir(o.File), PerfettoOrigin: strings.TrimSuffix(o.Perfetto, "/")})
	if err != nil {
		return fmt.Errorf("viewing %s: %w", o.File, err)
	}
	defer h.Close()
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("viewing %s: %w", o.File, err)
	}
	addr := "http://" + ln.Addr().String() + "/"
	fmt.Fprintf(cmd.OutOrStdout(), "serving %s : the run's page (report, timeline, profiles, flame graph); Ctrl-C stops\n", addr)
	if !o.NoBrowser {
		failed := func(err error) {
			fmt.Fprintf(cmd.ErrOrStderr(), "giltrace: note: could not open a browser (%v); open %s yourself\n", err, addr)
		}
		if err := openBrowser(addr, failed); err != nil {
			failed(err)
		}
	}
	return serveView(cmd.Context(), ln, h)
}

// openBrowser asks the desktop to open url: xdg-open (open on macOS). An
// opener that starts and then fails (xdg-open on a server: "no method
// available", exit 3) is reported to failed, with its first line of
// error, when it exits (QA: nothing was said, and the page never came).
func openBrowser(url string, failed func(error)) error {
	name := browserOpener
	if name == "" {
		name = "xdg-open"
		if runtime.GOOS == "darwin" {
			name = "open"
		}
	}
	c := exec.Command(name, url)
	var msg firstLine
	c.Stdout, c.Stderr = io.Discard, &msg
	if err := c.Start(); err != nil {
		return err
	}
	go func() {
		if err := c.Wait(); err != nil {
			if line := strings.TrimSpace(string(msg.b)); line != "" {
				err = fmt.Errorf("%s: %w: %s", filepath.Base(name), err, line)
			} else {
				err = fmt.Errorf("%s: %w", filepath.Base(name), err)
			}
			failed(err)
		}
	}()
	return nil
}

// browserOpener (tests) replaces the desktop's opener.
var browserOpener string

// firstLine keeps the first line written to it, at most 200 bytes.
type firstLine struct {
	b    []byte
	done bool
}

func (f *firstLine) Write(p []byte) (int, error) {
	if !f.done {
		f.b = append(f.b, p[:min(len(p), 200-len(f.b))]...)
		if i := bytes.IndexByte(f.b, '\n'); i >= 0 {
			f.b, f.done = f.b[:i], true
		}
		f.done = f.done || len(f.b) >= 200
	}
	return len(p), nil
}

// serveView serves h on ln until ctx is done.
func serveView(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving the page: %w", err)
	case <-ctx.Done():
	}
	// Requests under way get a second to finish. What is still open then is
	// closed: a download cut short, or a connection a browser opened ahead
	// of a request it never sent (Chromium preconnects), which Shutdown
	// counts as idle only after 5 s; it made a stop fail now and then.
	shut, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		if err := srv.Close(); err != nil {
			return fmt.Errorf("stopping the server: %w", err)
		}
	}
	<-errc // http.ErrServerClosed
	return nil
}
