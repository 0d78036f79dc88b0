"use strict";
// giltrace flame graph: renders the page's embedded data (see html.go) as
// an icicle graph of absolutely positioned divs. No dependencies.
(function () {
  const data = JSON.parse(document.getElementById("data").textContent);
  const ROW = 18; // px per depth level
  const MIN_PX = 0.5; // frames narrower than this are not drawn
  // Depth of the root frames: 0 "all", 1 thread, 2 state, 3+ guest calls.
  const THREAD = 1, STATE = 2;
  const HUES = { // colours by state: [hue, saturation %]
    "running": [120, 45], "gil-wait": [0, 70], "io": [210, 60], "native": [275, 45],
    "native-holding": [30, 80], "lock-wait": [50, 85], "handoff": [0, 0],
    "join": [180, 15], "unknown-holder": [300, 15],
  };

  const $ = (id) => document.getElementById(id);
  const chart = $("chart"), tooltip = $("tooltip"), details = $("details");
  const CHAR_PX = 6.7; // width of a character of the frames' 11px monospace font
  const state = {
    group: "kind",     // "kind": threads of one kind merged; "thread": a tower per thread
    view: null,        // the current view's inflated root
    zoom: null,        // the zoomed node, or null
    hidden: new Set(), // names of threads filtered out
    query: null,       // the search RegExp, or null
  };
  const trees = new Map(); // view id -> inflated root

  // inflate turns [name, ns, [kids]] into linked node objects.
  function inflate(a, parent, depth) {
    const n = { name: data.names[a[0]], ns: a[1], parent, depth, kids: [], x: 0 };
    n.state = depth === STATE ? n.name : depth > STATE ? parent.state : "";
    n.thread = depth === THREAD ? n.name : depth > THREAD ? parent.thread : "";
    for (const k of a[2] || []) n.kids.push(inflate(k, n, depth + 1));
    return n;
  }

  function tree(id) {
    const key = id + "/" + state.group;
    if (!trees.has(key)) {
      const t = inflate(data.views.find((v) => v.id === id).tree, null, 0);
      trees.set(key, state.group === "kind" ? merged(t) : t);
    }
    return trees.get(key);
  }

  // kindOf is the kind of a thread: its name without a trailing number
  // (worker-3, worker_3, worker3 -> worker), in each part of a process-
  // qualified name (python-2/worker-3 -> python/worker).
  function kindOf(name) {
    return name.split("/").map((p) => p.replace(/[-_ .#]?\d+$/, "") || p).join("/");
  }

  // merged returns the tree with the threads of one kind merged into one
  // tower: all -> kind -> state -> frames, children sorted by name.
  function merged(root) {
    const top = { name: root.name, ns: root.ns, parent: null, depth: 0, kids: [], x: 0, state: "", thread: "" };
    const groups = new Map();
    for (const t of root.kids) {
      const k = kindOf(t.name);
      if (!groups.has(k)) groups.set(k, { nodes: [] });
      groups.get(k).nodes.push(t);
    }
    for (const [k, g] of [...groups.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const name = g.nodes.length > 1 ? k + " (" + g.nodes.length + " threads)" : g.nodes[0].name;
      const n = { name, ns: 0, parent: top, depth: 1, kids: [], x: 0, state: "", thread: name, threads: g.nodes.map((t) => t.name) };
      for (const t of g.nodes) { n.ns += t.ns; mergeKids(n, t.kids); }
      top.kids.push(n);
    }
    return top;
  }

  // mergeKids adds copies of the nodes kids under n, merging by name.
  function mergeKids(n, kids) {
    for (const k of kids) {
      let m = n.kids.find((c) => c.name === k.name);
      if (!m) {
        m = { name: k.name, ns: 0, parent: n, depth: n.depth + 1, kids: [], x: 0, thread: n.thread,
              state: n.depth + 1 === STATE ? k.name : n.state };
        const i = n.kids.findIndex((c) => c.name > k.name);
        if (i < 0) n.kids.push(m); else n.kids.splice(i, 0, m);
      }
      m.ns += k.ns;
      mergeKids(m, k.kids);
    }
  }

  // label is as much of name as fits in w pixels: all of it, or its start
  // and an ellipsis, or nothing under three characters.
  function label(name, w) {
    const fit = Math.floor((w - 6) / CHAR_PX);
    if (fit >= name.length) return name;
    return fit >= 3 ? name.slice(0, fit - 1) + "…" : "";
  }

  // value is a node's time with the filtered-out threads left out.
  function value(n) {
    if (n.depth === 0) return n.kids.reduce((s, k) => s + value(k), 0);
    if (state.hidden.has(n.thread)) return 0;
    return n.ns;
  }

  function fmtTime(ns) {
    const units = [[1e9, "s"], [1e6, "ms"], [1e3, "µs"]];
    for (const [d, u] of units) if (ns >= d) return (ns / d).toPrecision(3) + " " + u;
    return ns + " ns";
  }
  const pct = (a, b) => (b > 0 ? (100 * a / b).toFixed(2) : "0.00") + "%";

  function colour(n) {
    if (n.depth < STATE) return "hsl(0, 0%, 82%)";
    const [h, s] = HUES[n.state] || [180, 30];
    let hash = 0;
    for (let i = 0; i < n.name.length; i++) hash = (hash * 31 + n.name.charCodeAt(i)) | 0;
    const light = n.depth === STATE ? 50 : 58 + (Math.abs(hash) % 20);
    return `hsl(${h}, ${s}%, ${light}%)`;
  }

  // layout sets x (in ns from the left) of every node under n.
  function layout(n, x) {
    n.x = x;
    for (const k of n.kids) {
      const v = value(k);
      layout(k, x);
      x += v;
    }
  }

  const isAncestor = (a, n) => { for (; n; n = n.parent) if (n === a) return true; return false; };

  // render draws the current view, zoom, filter and search.
  function render() {
    const root = state.view, total = value(root);
    layout(root, 0);
    const z = state.zoom || root;
    const zv = value(z) || 1, width = chart.clientWidth || 800;
    const scale = width / zv;
    const frag = document.createDocumentFragment();
    let maxDepth = 0;
    const nodes = [];
    (function walk(n) {
      const v = value(n);
      if (v <= 0) return;
      let left, w;
      if (isAncestor(n, z) && n !== z) { left = 0; w = width; } // z's ancestors span the width
      else {
        left = (n.x - z.x) * scale; w = v * scale;
        if (left + w <= 0 || left >= width || w < MIN_PX) return;
      }
      nodes.push(n);
      const d = document.createElement("div");
      d.className = "frame" + (isAncestor(n, z) && n !== z ? " dim" : "");
      d.style.left = left + "px";
      d.style.width = w + "px";
      d.style.top = n.depth * ROW + "px";
      d.style.background = colour(n);
      d.dataset.i = nodes.length - 1;
      d.dataset.name = n.name;
      d.textContent = label(n.name, w);
      if (state.query && n.depth > 0 && state.query.test(n.name)) d.classList.add("match");
      frag.appendChild(d);
      maxDepth = Math.max(maxDepth, n.depth);
      for (const k of n.kids) walk(k);
    })(root);
    chart.replaceChildren(frag);
    chart.style.height = (maxDepth + 1) * ROW + "px";
    if (total === 0) details.textContent = "Nothing in this view: no time recorded for the threads shown.";
    chart.nodes = nodes;
    $("reset").disabled = !state.zoom;
    showMatch(total);
  }

  // showMatch reports the share of the total in frames matching the
  // search, counting a matched frame's matched descendants once.
  function showMatch(total) {
    if (!state.query) { $("match").textContent = ""; return; }
    let sum = 0;
    (function walk(n) {
      if (value(n) <= 0) return;
      if (n.depth > 0 && state.query.test(n.name)) { sum += value(n); return; }
      n.kids.forEach(walk);
    })(state.view);
    $("match").textContent = `Matched: ${pct(sum, total)} (${fmtTime(sum)})`;
  }

  function describe(n) {
    const total = value(state.view), v = value(n);
    const self = v - n.kids.reduce((s, k) => s + value(k), 0);
    let s = `${n.name}\n${fmtTime(v)}, ${pct(v, total)} of total`;
    if (state.zoom && state.zoom !== state.view) s += `, ${pct(v, value(state.zoom))} of zoomed frame`;
    s += `\nself: ${fmtTime(self)}`;
    if (n.threads && n.threads.length > 1) s += `\nthreads: ${n.threads.join(", ")}`;
    else if (n.thread) s += `\nthread: ${n.thread}`;
    if (n.state) s += `\nstate: ${n.state}`;
    return s;
  }

  function nodeAt(ev) {
    const d = ev.target.closest(".frame");
    return d && chart.nodes ? chart.nodes[+d.dataset.i] : null;
  }

  chart.addEventListener("mousemove", (ev) => {
    const n = nodeAt(ev);
    if (!n) { tooltip.hidden = true; return; }
    tooltip.textContent = describe(n);
    details.textContent = describe(n).replace(/\n/g, " | ");
    tooltip.hidden = false;
    const x = Math.min(ev.clientX + 12, window.innerWidth - tooltip.offsetWidth - 4);
    tooltip.style.left = x + "px";
    tooltip.style.top = ev.clientY + 14 + "px";
  });
  chart.addEventListener("mouseleave", () => { tooltip.hidden = true; });
  chart.addEventListener("click", (ev) => {
    const n = nodeAt(ev);
    if (!n) return;
    state.zoom = n.depth === 0 || n === state.zoom ? null : n;
    render();
  });
  $("reset").addEventListener("click", () => { state.zoom = null; render(); });
  $("search").addEventListener("input", (ev) => {
    const q = ev.target.value;
    if (!q) state.query = null;
    else {
      try { state.query = new RegExp(q, "i"); } catch (e) {
        state.query = new RegExp(q.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "i");
      }
    }
    render();
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") { state.zoom = null; render(); }
  });
  window.addEventListener("resize", render);

  function setView(id) {
    state.viewID = id;
    state.view = tree(id);
    state.zoom = null;
    details.textContent = "Hover over a frame for details; click it to zoom.";
    buildThreads();
    showAbout();
    render();
  }

  // showAbout says what the view shows and its total, of the threads shown
  // (QA: hiding a thread left the total of all of them).
  function showAbout() {
    const v = data.views.find((x) => x.id === state.viewID);
    const hidden = state.hidden.size ? ` (${state.hidden.size} hidden)` : "";
    $("about").textContent = `${v.label}: ${v.about}. Total ${fmtTime(value(state.view))}${hidden}.`;
  }

  function buildThreads() {
    const box = $("threads");
    box.replaceChildren();
    for (const t of state.view.kids) {
      const l = document.createElement("label");
      const c = document.createElement("input");
      c.type = "checkbox";
      c.checked = !state.hidden.has(t.name);
      c.dataset.thread = t.name;
      c.addEventListener("change", () => {
        if (c.checked) state.hidden.delete(t.name); else state.hidden.add(t.name);
        if (state.zoom && value(state.zoom) <= 0) state.zoom = null;
        showAbout();
        render();
      });
      l.append(c, " " + t.name);
      box.appendChild(l);
    }
  }

  function init() {
    document.title = data.title;
    $("title").textContent = data.title;
    $("meta").textContent = data.meta.join("\n");
    for (const w of data.warnings || []) {
      const p = document.createElement("p");
      p.className = "warning";
      p.textContent = "Warning: " + w;
      $("warnings").appendChild(p);
    }
    for (const [i, v] of data.views.entries()) {
      const l = document.createElement("label");
      const r = document.createElement("input");
      r.type = "radio"; r.name = "view"; r.value = v.id; r.checked = i === 0;
      r.addEventListener("change", () => setView(v.id));
      l.append(r, " " + v.label);
      $("views").appendChild(l);
    }
    for (const [name, [h, s]] of Object.entries(HUES)) {
      const span = document.createElement("span");
      const sw = document.createElement("i");
      sw.style.background = `hsl(${h}, ${s}%, 60%)`;
      span.append(sw, name);
      $("legend").appendChild(span);
    }
    for (const [value, text] of [["kind", "Threads of a kind merged"], ["thread", "Per thread"]]) {
      const l = document.createElement("label");
      const r = document.createElement("input");
      r.type = "radio"; r.name = "group"; r.value = value; r.checked = value === state.group;
      r.addEventListener("change", () => { state.group = value; state.hidden.clear(); setView(state.viewID); });
      l.append(r, " " + text);
      $("groups").appendChild(l);
    }
    setView(data.views[0].id);
  }
  init();
})();
