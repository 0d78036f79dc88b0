"use strict";
// giltrace view: the timeline (drawn on a canvas from /timeline.json,
// which the server decimates to the canvas's width) and the Perfetto
// button (the UI's postMessage deep link). No dependencies.
(function () {
  const $ = (id) => document.getElementById(id);
  const log = (msg) => { $("log").textContent += msg + "\n"; };

  // ---- Timeline ----
  const LABEL = 170, AXIS = 22, LANE = 18, GAP = 6, ARROW = "rgba(0,0,0,0.8)";
  const canvas = $("tl-canvas"), tip = $("tl-tip");
  const ctx = canvas.getContext("2d");
  const tl = { start: 0, end: 0, duration: 0, data: null, rows: [], pending: 0, fetches: 0, drawn: 0 };
  window.giltraceTimeline = tl; // for tests and the curious

  function plotWidth() { return Math.max(100, canvas.clientWidth - LABEL); }
  function x(t) { return LABEL + (t - tl.start) / (tl.end - tl.start) * plotWidth(); }
  function timeAt(px) { return tl.start + (px - LABEL) / plotWidth() * (tl.end - tl.start); }
  // A GIL holder is drawn in a shade of its own (not a state's colour).
  function threadColor(i) { return "hsl(" + ((200 + i * 137.5) % 360) + ",35%," + (38 + (i % 3) * 10) + "%)"; }
  function fmt(ns) {
    const a = Math.abs(ns);
    if (a >= 1e9) return (ns / 1e9).toFixed(3) + " s";
    if (a >= 1e6) return (ns / 1e6).toFixed(3) + " ms";
    if (a >= 1e3) return (ns / 1e3).toFixed(1) + " µs";
    return Math.round(ns) + " ns";
  }
  // "1 span", "2 spans": textfmt.Plural's words.
  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  function load() {
    const id = ++tl.pending;
    const s = Math.floor(tl.start), e = Math.ceil(tl.end);
    const win = tl.end > 0 ? "start=" + s + "&end=" + e + "&" : ""; // the whole run first
    fetch("timeline.json?" + win + "width=" + plotWidth())
      .then((r) => r.json())
      .then((d) => {
        if (id !== tl.pending) return; // a newer window was asked for
        tl.fetches++;
        if (!tl.duration) { tl.duration = d.duration; if (!tl.end) { tl.start = 0; tl.end = d.duration || 1; } }
        tl.data = d;
        draw();
      })
      .catch((err) => log("Loading the timeline failed: " + err));
  }
  let timer = 0;
  function reload() { draw(); clearTimeout(timer); timer = setTimeout(load, 60); }

  function layout() {
    const d = tl.data;
    tl.rows = [];
    let y = AXIS, proc = null;
    for (const lane of d.lanes) {
      if (proc !== null && lane.process !== proc) y += GAP;
      proc = lane.process;
      tl.rows.push({ lane, y });
      y += LANE;
    }
    const h = y + 4, dpr = window.devicePixelRatio || 1;
    canvas.style.height = h + "px";
    canvas.width = canvas.clientWidth * dpr;
    canvas.height = h * dpr;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return h;
  }

  function draw() {
    if (!tl.data) return;
    const h = layout(), d = tl.data, w = canvas.clientWidth;
    ctx.clearRect(0, 0, w, h);
    ctx.font = "11px system-ui, sans-serif";
    axis(h);
    let drawn = 0;
    const laneY = {};
    for (const row of tl.rows) {
      const { lane, y } = row;
      ctx.fillStyle = "#222";
      ctx.fillText((lane.kind === "gil" ? "GIL " + lane.process : lane.name).slice(0, 26), 4, y + LANE - 5);
      if (lane.kind === "thread") laneY[lane.thread] = y + LANE / 2;
      for (const s of lane.segs) {
        const x0 = Math.max(LABEL, x(s[0])), x1 = Math.min(w, x(s[1]));
        if (x1 < LABEL || x0 > w) continue;
        ctx.fillStyle = lane.kind === "gil" ? threadColor(s[2]) : COLORS[s[2]];
        ctx.fillRect(x0, y + 2, Math.max(1, x1 - x0), LANE - 4);
        drawn++;
      }
    }
    ctx.save();
    ctx.beginPath();
    ctx.rect(LABEL, 0, w - LABEL, h); // arrows from outside the window stop at its edge
    ctx.clip();
    ctx.strokeStyle = ARROW;
    ctx.fillStyle = ARROW;
    ctx.lineWidth = 1.5;
    let arrows = 0;
    for (const a of d.handoffs) {
      const y0 = laneY[a[2]], y1 = laneY[a[3]];
      if (y0 === undefined || y1 === undefined) continue;
      arrow(x(a[0]), y0, x(a[1]), y1);
      arrows++;
    }
    ctx.restore();
    tl.arrows = arrows;
    if (d.omitted_handoffs) {
      ctx.fillStyle = "#555";
      ctx.fillText(plural(d.omitted_handoffs, "more handoff") + ": zoom in to see them", LABEL + 4, AXIS - 8);
    }
    tl.drawn = drawn;
    $("tl-range").textContent = fmt(tl.start) + " – " + fmt(tl.end) + " of " + fmt(tl.duration) +
      " · " + plural(d.spans, "span") + " drawn as " + plural(drawn, "segment");
  }

  function arrow(x0, y0, x1, y1) {
    if (x0 < LABEL && x1 < LABEL) return;
    ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); ctx.stroke();
    const ang = Math.atan2(y1 - y0, x1 - x0);
    ctx.beginPath(); ctx.moveTo(x1, y1);
    ctx.lineTo(x1 - 6 * Math.cos(ang - 0.4), y1 - 6 * Math.sin(ang - 0.4));
    ctx.lineTo(x1 - 6 * Math.cos(ang + 0.4), y1 - 6 * Math.sin(ang + 0.4));
    ctx.fill();
  }

  function axis(h) {
    const span = tl.end - tl.start, target = span / (plotWidth() / 110);
    const p = Math.pow(10, Math.floor(Math.log10(target)));
    const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= target);
    ctx.strokeStyle = "#e4e4e4";
    ctx.fillStyle = "#555";
    for (let t = Math.ceil(tl.start / step) * step; t <= tl.end; t += step) {
      const px = x(t);
      ctx.beginPath(); ctx.moveTo(px, AXIS - 4); ctx.lineTo(px, h); ctx.stroke();
      ctx.fillText(fmt(t), px + 2, 11);
    }
  }

  // zoom scales the window by f (<1 zooms in) around time c.
  tl.zoom = function (f, c) {
    if (c === undefined) c = (tl.start + tl.end) / 2;
    let s = c - (c - tl.start) * f, e = c + (tl.end - c) * f;
    if (e - s < 1000) return; // 1 µs is close enough
    if (e - s > tl.duration) { s = 0; e = tl.duration; }
    if (s < 0) { e -= s; s = 0; }
    if (e > tl.duration) { s -= e - tl.duration; e = tl.duration; }
    tl.start = Math.max(0, s); tl.end = e;
    reload();
  };
  tl.reset = function () { tl.start = 0; tl.end = tl.duration; reload(); };

  canvas.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const r = canvas.getBoundingClientRect(), px = ev.clientX - r.left;
    tl.zoom(ev.deltaY > 0 ? 1.25 : 0.8, px > LABEL ? timeAt(px) : undefined);
  }, { passive: false });
  let drag = null;
  canvas.addEventListener("mousedown", (ev) => { drag = { x: ev.clientX, start: tl.start, end: tl.end }; canvas.style.cursor = "grabbing"; });
  window.addEventListener("mouseup", () => { drag = null; canvas.style.cursor = "grab"; });
  window.addEventListener("mousemove", (ev) => {
    if (!drag) return;
    const dt = (ev.clientX - drag.x) / plotWidth() * (drag.end - drag.start);
    let s = drag.start - dt, e = drag.end - dt;
    if (s < 0) { e -= s; s = 0; }
    if (e > tl.duration) { s -= e - tl.duration; e = tl.duration; }
    tl.start = s; tl.end = e;
    reload();
  });
  canvas.addEventListener("dblclick", () => tl.reset());
  $("tl-reset").onclick = () => tl.reset();
  canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  canvas.addEventListener("mousemove", (ev) => {
    const r = canvas.getBoundingClientRect(), px = ev.clientX - r.left, py = ev.clientY - r.top;
    const row = tl.rows.find((rw) => py >= rw.y && py < rw.y + LANE);
    if (!row || px < LABEL || drag) { tip.style.display = "none"; return; }
    const t = timeAt(px), segs = row.lane.segs;
    let lo = 0, hi = segs.length - 1, seg = null;
    while (lo <= hi) {
      const m = (lo + hi) >> 1;
      if (segs[m][1] <= t) lo = m + 1; else if (segs[m][0] > t) hi = m - 1; else { seg = segs[m]; break; }
    }
    if (!seg) { tip.style.display = "none"; return; }
    const d = tl.data, what = row.lane.kind === "gil" ? "held by " + d.threads[seg[2]] : d.states[seg[2]];
    tip.textContent = (row.lane.kind === "gil" ? "GIL of " + row.lane.process : row.lane.name + " (" + row.lane.process + ")") +
      "\n" + what + (seg[3] > 1 ? " (mostly; " + seg[3] + " spans merged at this zoom)" : "") +
      "\nfrom " + fmt(seg[0]) + " for " + fmt(seg[1] - seg[0]);
    tip.style.display = "block";
    tip.style.left = Math.min(px + 12, canvas.clientWidth - 260) + "px";
    tip.style.top = (py + 14) + "px";
  });
  window.addEventListener("resize", reload);
  load();

  // ---- Perfetto ----
  // openPerfetto opens the UI, fetches the trace, and posts it once the UI
  // answers PONG: the channel is not buffered, so PING until it listens.
  function openPerfetto() {
    const win = window.open(PERFETTO_ORIGIN + "/#!/");
    if (!win) { log("The browser blocked the new window: allow pop-ups for this page."); return; }
    fetch("trace")
      .then((r) => { if (!r.ok) throw new Error(r.status + " " + r.statusText); return r.arrayBuffer(); })
      .then((buf) => {
        const timer = setInterval(() => win.postMessage("PING", PERFETTO_ORIGIN), 50);
        function onMessage(evt) {
          if (evt.source !== win || evt.data !== "PONG") return;
          clearInterval(timer);
          window.removeEventListener("message", onMessage);
          win.postMessage({ perfetto: { buffer: buf, title: TITLE, fileName: TRACE_FILE } }, PERFETTO_ORIGIN);
          log("Sent " + (buf.byteLength / 1e6).toFixed(1) + " MB (" + TRACE_FILE + ") to the Perfetto UI.");
        }
        window.addEventListener("message", onMessage);
      })
      .catch((err) => log("Loading the trace failed: " + err));
  }
  const btn = $("perfetto");
  btn.disabled = false;
  btn.onclick = openPerfetto;
})();
