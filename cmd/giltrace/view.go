package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/giltrace/giltrace/exporters/chrome"
	"github.com/giltrace/giltrace/tracer"
	"github.com/spf13/cobra"
)

// viewOptions are the arguments of giltrace view.
type viewOptions struct {
	File string // the .giltrace file
	Addr string // where to listen: a loopback host and a port
}

func newViewCmd() *cobra.Command { return viewCmd(runView) }

// viewCmd builds the command around run, so that tests can check the
// parsed options.
func viewCmd(run func(*cobra.Command, *viewOptions) error) *cobra.Command {
	o := &viewOptions{}
	cmd := &cobra.Command{
		Use:   "view FILE.giltrace",
		Short: "Open a recorded run in the Perfetto UI",
		Long: "view serves a local page on 127.0.0.1 that loads the run as Chrome trace JSON\n" +
			"and opens it in ui.perfetto.dev (Perfetto's postMessage deep link: the trace\n" +
			"goes from this machine to the browser tab, and is not uploaded anywhere). Open\n" +
			"the printed address in a browser; Ctrl-C stops the server. docs/outputs-chrome.md\n" +
			"explains the tracks.",
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.File = args[0]
			if err := o.check(); err != nil {
				return &usageError{err}
			}
			return run(cmd, o)
		},
	}
	cmd.Flags().StringVar(&o.Addr, "addr", "127.0.0.1:0", "listen on `HOST:PORT`, a loopback address (port 0 picks a free one)")
	return cmd
}

// check accepts only loopback addresses: the page serves the whole trace.
func (o *viewOptions) check() error {
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", o.Addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--addr %q: expected a loopback host such as 127.0.0.1", o.Addr)
	}
	return nil
}

func runView(cmd *cobra.Command, o *viewOptions) error {
	t, err := readTrace(o.File, cmd.ErrOrStderr(), "showing")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("viewing %s: %w", o.File, err)
	}
	title := t.Meta.Workload
	if title == "" {
		title = strings.TrimSuffix(filepath.Base(o.File), filepath.Ext(o.File))
	}
	return serveView(cmd.Context(), ln, chrome.Handler(tracer.Derive(t), title), cmd.OutOrStdout())
}

// serveView serves h on ln until ctx is done, after printing the address.
func serveView(ctx context.Context, ln net.Listener, h http.Handler, stdout io.Writer) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "serving http://%s/ : open it in a browser to see the run in the Perfetto UI; Ctrl-C stops\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving the trace: %w", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		return fmt.Errorf("stopping the server: %w", err)
	}
	<-errc // http.ErrServerClosed
	return nil
}
