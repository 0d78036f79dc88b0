package chrome

import (
	"html/template"
	"net/http"

	"github.com/giltrace/giltrace/tracer"
)

// PerfettoOrigin is the Perfetto UI that Handler's page opens.
const PerfettoOrigin = "https://ui.perfetto.dev"

// Handler serves a page that opens the trace in the Perfetto UI, and the
// trace itself:
//
//   - GET / is a small page that fetches /trace.json, opens PerfettoOrigin
//     in a new window and posts the trace to it with the UI's postMessage
//     deep-link protocol (https://perfetto.dev/docs/visualization/deep-linking-to-perfetto-ui):
//     PING until the UI answers PONG, then {perfetto: {buffer, title}}.
//     The UI trusts pages served from 127.0.0.1 and opens the trace without
//     asking. If the browser blocks the pop-up, a button opens it.
//   - GET /trace.json is the Chrome JSON of s, written as it is requested
//     (streamed, never held whole in memory).
//
// title names the trace in the UI; warnings are the run's (WithWarnings).
// The handler may serve requests concurrently.
func Handler(s *tracer.Spans, title string, warnings []string) http.Handler {
	return handler(s, title, PerfettoOrigin, warnings)
}

// handler is Handler opening the UI at origin (a stand-in in tests).
func handler(s *tracer.Spans, title, origin string, warnings []string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// No Cross-Origin-Opener-Policy: same-origin, which would cut the
		// page off from the window it opens.
		if err := viewPage.Execute(w, struct{ Title, Origin string }{title, origin}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("GET /trace.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		// Headers are sent with the first bytes: an error past them can
		// only cut the response short, which the page reports as bad JSON.
		if err := New(w).WithWarnings(warnings).Export(r.Context(), s); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	return mux
}

// viewPage is the page of Handler. html/template escapes the title for
// the HTML and JavaScript contexts it appears in.
var viewPage = template.Must(template.New("view").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}} · giltrace</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; margin: 2em auto; max-width: 46em; padding: 0 1em; }
button { font: inherit; padding: .4em 1em; }
#log { color: #555; white-space: pre-wrap; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p>Trace: <span id="size">loading…</span></p>
<p><button id="open" disabled>Open in the Perfetto UI</button></p>
<p>Or <a href="trace.json" download="trace.json">download trace.json</a> and load it in
ui.perfetto.dev or chrome://tracing yourself.</p>
<p id="log"></p>
<script>
"use strict";
const origin = {{.Origin}};
const title = {{.Title}};
let trace = null;

function log(msg) { document.getElementById("log").textContent += msg + "\n"; }

// openPerfetto opens the UI and posts the trace once it answers PONG: the
// channel is not buffered, so PING until it is listening.
function openPerfetto() {
  const win = window.open(origin + "/#!/");
  if (!win) {
    log("The browser blocked the new window: click the button.");
    return;
  }
  const timer = setInterval(() => win.postMessage("PING", origin), 50);
  function onMessage(evt) {
    if (evt.source !== win || evt.data !== "PONG") return;
    clearInterval(timer);
    window.removeEventListener("message", onMessage);
    win.postMessage({perfetto: {buffer: trace, title: title, fileName: "trace.json"}}, origin);
    log("Sent to the Perfetto UI.");
  }
  window.addEventListener("message", onMessage);
}

fetch("trace.json")
  .then(r => { if (!r.ok) throw new Error(r.status + " " + r.statusText); return r.arrayBuffer(); })
  .then(buf => {
    trace = buf;
    document.getElementById("size").textContent = (buf.byteLength / 1e6).toFixed(1) + " MB of trace-event JSON";
    const btn = document.getElementById("open");
    btn.disabled = false;
    btn.onclick = openPerfetto;
    openPerfetto();
  })
  .catch(err => log("Loading the trace failed: " + err));
</script>
</body>
</html>
`))
