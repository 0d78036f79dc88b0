// Package view serves one local page for a recorded run: the diagnosis
// (verdict first, a stacked bar of each thread's time by state, the
// speedup figures), a timeline drawn by the page itself (a lane per thread
// coloured by state, a GIL holder lane per process, handoff arrows, zoom and
// pan), pprof's own web UI for the wait, blame and wall profiles (embedded
// in-process through github.com/google/pprof/driver), the flame graph, the
// compare charts of the run's directory, and a button that opens the trace
// in ui.perfetto.dev through its postMessage deep link.
//
// Everything the page needs is served by the handler: the page works with
// no network access (only the Perfetto button goes to the internet, and
// only when pressed). The handler answers only requests whose Host header
// names a loopback address (localhost, 127.0.0.0/8, ::1), so that a web page
// on another origin cannot reach it through DNS rebinding; the caller
// listens on loopback.
//
// The routes:
//
//	/                     the page
//	/timeline.json        the timeline for a window of time, decimated to a width in pixels
//	/flame.html           the flame graph (exporters/flamegraph)
//	/pprof/KIND/...       pprof's web UI for KIND = wait, blame, wall
//	/trace                the trace for Perfetto: Chrome JSON, or Perfetto's protobuf for large runs
//	/compare/NAME         a chart of the run's directory (speedup.svg, overlap.svg)
//	/perfetto/            exporters/chrome's page that opens the trace in Perfetto
package view
