/* report.html: draws a SLICES run report from the JSON block #report-data. Plain JavaScript (canvas + SVG), no
   library, works offline. Public for tests and the curious: window.slicesReport (state, viewers, draw functions). */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("report-data").textContent);
  var SVGNS = "http://www.w3.org/2000/svg";
  var LABELS = {
    index: "#", formula: "formula", status: "status", space_group: "space group", n_atoms: "atoms",
    e_above_hull: "E hull (eV/at)", formation_energy_per_atom: "E form (eV/at)", band_gap: "gap MEGNet (eV)",
    band_gap_composition: "gap comp. (eV)", energy_per_atom: "E pot (eV/at)", novelty: "novelty",
    known_id: "known id", decomposition: "decomposition", below_known_hull: "below hull",
    topology_ok: "topology kept", message: "message", cif: "CIF"
  };
  var NUMERIC = { index: 1, n_atoms: 1, e_above_hull: 1, formation_energy_per_atom: 1, band_gap: 1,
    band_gap_composition: 1, energy_per_atom: 1 };
  var PROPERTIES = [
    ["e_above_hull", "energy above the known hull (eV/atom)"],
    ["formation_energy_per_atom", "formation energy (eV/atom)"],
    ["band_gap_composition", "band gap, composition model (eV)"],
    ["band_gap", "band gap, MEGNet (eV)"],
    ["energy_per_atom", "energy per atom, potential (eV/atom)"]
  ];
  var state = { sortKey: "e_above_hull", sortDir: 1, text: "", status: "", range: null };
  var api = { state: state, viewers: [], data: D };
  window.slicesReport = api;

  function el(tag, attrs, parent, text) {
    var node = document.createElement(tag);
    for (var k in (attrs || {})) node.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }
  function svg(tag, attrs, parent, text) {
    var node = document.createElementNS(SVGNS, tag);
    for (var k in (attrs || {})) node.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }
  function fmt(v, digits) {
    if (v === null || v === undefined) return "-";
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(digits === undefined ? 3 : digits);
    if (typeof v === "boolean") return v ? "yes" : "no";
    return String(v);
  }

  /* ---------- tooltip: any element with data-tip ---------- */
  var tip = el("div", { id: "tip" }, document.body);
  document.addEventListener("mouseover", function (e) {
    var t = e.target.closest ? e.target.closest("[data-tip]") : null;
    if (!t) { tip.style.display = "none"; return; }
    tip.textContent = t.getAttribute("data-tip");
    tip.style.display = "block";
  });
  document.addEventListener("mousemove", function (e) {
    tip.style.left = (e.clientX + 14) + "px";
    tip.style.top = (e.clientY + 12) + "px";
  });

  /* ---------- header ---------- */
  var header = el("header", {}, document.body);
  el("h1", {}, header, D.title);
  var s = D.summary || {};
  var bits = [];
  ["sampled", "decoded", "valid", "unique", "novel", "kept"].forEach(function (k) {
    if (s[k] !== undefined) bits.push(k + " " + s[k]);
  });
  el("div", { "class": "sub" }, header, bits.join(" \u00b7 ") || (D.rows.length + " candidates"));
  var crit = Object.keys(D.criteria || {}).filter(function (k) { return D.criteria[k] !== null; })
    .map(function (k) { return k + " = " + fmt(D.criteria[k]); });
  var sets = Object.keys(D.settings || {}).filter(function (k) { return D.settings[k] !== null; })
    .map(function (k) { return k + " = " + fmt(D.settings[k]); });
  if (sets.length) el("div", { "class": "sub" }, header, "settings: " + sets.join(", "));
  if (crit.length) el("div", { "class": "sub" }, header, "criteria: " + crit.join(", "));
  var main = el("main", {}, document.body);

  /* ---------- plots: funnel and property distributions ---------- */
  var plots = el("section", { id: "plots" }, main);
  el("h2", {}, plots, "Funnel and property distributions");
  el("div", { "class": "note" }, plots, "Hover a bar for its numbers; click a histogram bar to filter the table to that range.");
  var plotRow = el("div", { "class": "plots" }, plots);

  function funnel(parent) {
    var stages = ["sampled", "decoded", "valid", "unique", "novel", "kept"].filter(function (k) { return s[k] !== undefined; });
    if (!stages.length) return;
    var W = 300, H = 26 * stages.length + 20, max = Math.max.apply(null, stages.map(function (k) { return s[k]; })) || 1;
    var box = el("div", { "class": "plot" }, parent);
    var g = svg("svg", { width: W, height: H, id: "funnel" }, box);
    stages.forEach(function (k, i) {
      var w = (W - 130) * s[k] / max, y = 8 + i * 26;
      svg("text", { x: 60, y: y + 15, "text-anchor": "end" }, g, k);
      var r = svg("rect", { x: 66, y: y, width: Math.max(w, 1), height: 20, "class": k === "kept" ? "bar-kept" : "bar-all",
        "data-tip": k + ": " + s[k] + " candidates" + (k !== "sampled" && s.sampled ? " (" + (100 * s[k] / s.sampled).toFixed(0) + "% of sampled)" : "") }, g);
      r.style.cursor = "default";
      svg("text", { x: 70 + w, y: y + 15 }, g, String(s[k]));
    });
    el("div", { "class": "caption" }, box, "funnel: candidates left at each stage");
  }

  function histogram(parent, key, label) {
    var all = D.rows.filter(function (r) { return typeof r[key] === "number"; });
    if (!all.length) return;
    var vals = all.map(function (r) { return r[key]; });
    var lo = Math.min.apply(null, vals), hi = Math.max.apply(null, vals);
    if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
    var nb = Math.max(5, Math.min(20, Math.round(Math.sqrt(all.length) * 2))), width = (hi - lo) / nb;
    var bins = [];
    for (var b = 0; b < nb; b++) bins.push({ lo: lo + b * width, hi: lo + (b + 1) * width, all: 0, kept: 0 });
    all.forEach(function (r) {
      var k = Math.min(nb - 1, Math.floor((r[key] - lo) / width));
      bins[k].all++; if (r.status === "ok") bins[k].kept++;
    });
    var W = 300, H = 170, L = 34, B = 30, top = 8;
    var maxc = Math.max.apply(null, bins.map(function (x) { return x.all; })) || 1;
    var box = el("div", { "class": "plot" }, parent);
    var g = svg("svg", { width: W, height: H, "class": "histogram", "data-key": key }, box);
    var bw = (W - L - 8) / nb;
    bins.forEach(function (bin, i) {
      var x = L + i * bw, hAll = (H - B - top) * bin.all / maxc, hKept = (H - B - top) * bin.kept / maxc;
      var grp = svg("g", { "class": "bin", "data-tip": label + "\n" + bin.lo.toFixed(3) + " to " + bin.hi.toFixed(3) +
        "\n" + bin.all + " candidates, " + bin.kept + " kept" }, g);
      svg("rect", { x: x + 0.5, y: H - B - hAll, width: Math.max(bw - 1, 1), height: hAll, "class": "bar-all" }, grp);
      svg("rect", { x: x + 0.5, y: H - B - hKept, width: Math.max(bw - 1, 1), height: hKept, "class": "bar-kept" }, grp);
      svg("rect", { x: x, y: top, width: bw, height: H - B - top, fill: "transparent" }, grp);
      grp.addEventListener("click", function () {
        state.range = { key: key, lo: bin.lo - 1e-12, hi: bin.hi + 1e-12, label: label };
        renderTable();
        document.getElementById("table").scrollIntoView({ block: "start" });
      });
    });
    svg("line", { x1: L, y1: H - B, x2: W - 8, y2: H - B, stroke: "#888" }, g);
    svg("line", { x1: L, y1: top, x2: L, y2: H - B, stroke: "#888" }, g);
    svg("text", { x: L, y: H - B + 13, "text-anchor": "start" }, g, lo.toFixed(2));
    svg("text", { x: W - 8, y: H - B + 13, "text-anchor": "end" }, g, hi.toFixed(2));
    svg("text", { x: L - 4, y: top + 9, "text-anchor": "end" }, g, String(maxc));
    svg("text", { x: L - 4, y: H - B, "text-anchor": "end" }, g, "0");
    svg("text", { x: (L + W) / 2, y: H - 4, "text-anchor": "middle" }, g, label);
    el("div", { "class": "caption" }, box, "grey: all with a value \u00b7 green: kept");
  }
  funnel(plotRow);
  PROPERTIES.forEach(function (p) { histogram(plotRow, p[0], p[1]); });

  /* ---------- candidate table ---------- */
  var tsec = el("section", { id: "table" }, main);
  el("h2", {}, tsec, "Candidates");
  var controls = el("div", { "class": "controls" }, tsec);
  var search = el("input", { type: "search", id: "filter", placeholder: "filter: formula, status, space group..." }, controls);
  var statusSel = el("select", { id: "status-filter" }, controls);
  el("option", { value: "" }, statusSel, "every status");
  var statuses = {};
  D.rows.forEach(function (r) { statuses[r.status] = (statuses[r.status] || 0) + 1; });
  Object.keys(statuses).sort().forEach(function (k) { el("option", { value: k }, statusSel, k + " (" + statuses[k] + ")"); });
  var chip = el("span", { "class": "chip", id: "range-chip" }, controls);
  chip.style.display = "none";
  var count = el("span", { "class": "count", id: "row-count" }, controls);
  var wrap = el("div", { "class": "table-wrap" }, tsec);
  var table = el("table", { id: "candidates" }, wrap);
  var thead = el("thead", {}, table), htr = el("tr", {}, thead);
  var tbody = el("tbody", {}, table);
  var cardOf = {};
  D.cards.forEach(function (c) { cardOf[c.index] = c; });
  D.columns.forEach(function (c) {
    var th = el("th", { "data-key": c }, htr, LABELS[c] || c);
    th.addEventListener("click", function () {
      if (state.sortKey === c) state.sortDir = -state.sortDir; else { state.sortKey = c; state.sortDir = 1; }
      renderTable();
    });
  });
  search.addEventListener("input", function () { state.text = search.value.trim().toLowerCase(); renderTable(); });
  statusSel.addEventListener("change", function () { state.status = statusSel.value; renderTable(); });
  chip.addEventListener("click", function () { state.range = null; renderTable(); });

  function compare(a, b) {
    var k = state.sortKey, x = a[k], y = b[k];
    if (x === null || x === undefined) return (y === null || y === undefined) ? a.index - b.index : 1;
    if (y === null || y === undefined) return -1;
    if (typeof x === "number" && typeof y === "number") return state.sortDir * (x - y) || a.index - b.index;
    return state.sortDir * String(x).localeCompare(String(y)) || a.index - b.index;
  }
  function matches(r) {
    if (state.status && r.status !== state.status) return false;
    if (state.range) {
      var v = r[state.range.key];
      if (typeof v !== "number" || v < state.range.lo || v > state.range.hi) return false;
    }
    if (!state.text) return true;
    var hay = [r.index, r.formula, r.status, r.space_group, r.novelty, r.decomposition, r.known_id, r.message].join(" ").toLowerCase();
    return state.text.split(/\s+/).every(function (w) { return hay.indexOf(w) >= 0; });
  }
  function renderTable() {
    Array.prototype.forEach.call(htr.children, function (th) {
      th.className = th.getAttribute("data-key") === state.sortKey ? (state.sortDir > 0 ? "sorted-asc" : "sorted-desc") : "";
    });
    var shown = D.rows.filter(matches).sort(compare);
    tbody.textContent = "";
    shown.forEach(function (r) {
      var tr = el("tr", { "data-index": r.index, "class": r.status === "ok" ? "kept" : "" }, tbody);
      D.columns.forEach(function (c) {
        var td = el("td", { "class": (NUMERIC[c] ? "num " : "") + c }, tr);
        if (c === "status") { el("span", { "class": "status " + r.status, title: r.message || "" }, td, r.status); }
        else if (c === "cif" && r.cif) { var a = el("a", { href: r.cif }, td, "CIF"); a.addEventListener("click", function (e) { e.stopPropagation(); }); }
        else { td.textContent = fmt(r[c]); if (c === "decomposition" || c === "message") td.title = r[c] || ""; }
      });
      tr.addEventListener("click", function () { showCard(r.index); });
    });
    count.textContent = shown.length + " of " + D.rows.length + " candidates";
    if (state.range) { chip.style.display = ""; chip.textContent = state.range.label + " in [" + state.range.lo.toFixed(3) + ", " + state.range.hi.toFixed(3) + "] \u00d7"; }
    else chip.style.display = "none";
  }
  api.renderTable = renderTable;

  /* ---------- 3D viewer of a crystal ---------- */
  function Viewer(canvas, crystal) {
    this.canvas = canvas; this.c = crystal; this.n = 1; this.drawn = false;
    this.rot = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
    this.turn(0.5, 0.35);
    var self = this, last = null;
    canvas.addEventListener("pointerdown", function (e) { last = [e.clientX, e.clientY]; canvas.setPointerCapture(e.pointerId); });
    canvas.addEventListener("pointerup", function () { last = null; });
    canvas.addEventListener("pointermove", function (e) {
      if (!last) return;
      self.turn((e.clientX - last[0]) * 0.01, (e.clientY - last[1]) * 0.01);
      last = [e.clientX, e.clientY];
      self.draw();
    });
  }
  function matmul(a, b) {
    var out = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
    for (var i = 0; i < 3; i++) for (var j = 0; j < 3; j++) for (var k = 0; k < 3; k++) out[i][j] += a[i][k] * b[k][j];
    return out;
  }
  Viewer.prototype.turn = function (ay, ax) {
    var cy = Math.cos(ay), sy = Math.sin(ay), cx = Math.cos(ax), sx = Math.sin(ax);
    var ry = [[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]], rx = [[1, 0, 0], [0, cx, -sx], [0, sx, cx]];
    this.rot = matmul(rx, matmul(ry, this.rot));
  };
  Viewer.prototype.cart = function (f) {
    var L = this.c.lattice;
    return [0, 1, 2].map(function (k) { return f[0] * L[0][k] + f[1] * L[1][k] + f[2] * L[2][k]; });
  };
  Viewer.prototype.draw = function () {
    var cv = this.canvas, ctx = cv.getContext("2d"), c = this.c, n = this.n, self = this;
    var W = cv.width, H = cv.height;
    ctx.clearRect(0, 0, W, H);
    ctx.fillStyle = "#fbfcfe"; ctx.fillRect(0, 0, W, H);
    var centre = this.cart([n / 2, n / 2, n / 2]);
    var corners = [];
    for (var a = 0; a <= 1; a++) for (var b = 0; b <= 1; b++) for (var d = 0; d <= 1; d++) corners.push(this.cart([a * n, b * n, d * n]));
    var R = this.rot;
    function project(p) {
      var v = [p[0] - centre[0], p[1] - centre[1], p[2] - centre[2]];
      return [R[0][0] * v[0] + R[0][1] * v[1] + R[0][2] * v[2], R[1][0] * v[0] + R[1][1] * v[1] + R[1][2] * v[2],
        R[2][0] * v[0] + R[2][1] * v[1] + R[2][2] * v[2]];
    }
    var extent = 1e-6;
    corners.forEach(function (p) { var q = project(p); extent = Math.max(extent, Math.abs(q[0]), Math.abs(q[1])); });
    var scale = 0.42 * Math.min(W, H) / (extent + 1.2);
    function screen(q) { return [W / 2 + scale * q[0], H / 2 - scale * q[1]]; }
    // cell edges
    ctx.strokeStyle = "#7a8699"; ctx.lineWidth = 1;
    var idx = [[0, 1], [0, 2], [0, 4], [1, 3], [1, 5], [2, 3], [2, 6], [3, 7], [4, 5], [4, 6], [5, 7], [6, 7]];
    idx.forEach(function (e) {
      var p = screen(project(corners[e[0]])), q = screen(project(corners[e[1]]));
      ctx.beginPath(); ctx.moveTo(p[0], p[1]); ctx.lineTo(q[0], q[1]); ctx.stroke();
    });
    var items = [];
    var colours = D.elements;
    for (var ox = 0; ox < n; ox++) for (var oy = 0; oy < n; oy++) for (var oz = 0; oz < n; oz++) {
      var o = [ox, oy, oz];
      c.frac.forEach(function (f, i) {
        var q = project(self.cart([f[0] + o[0], f[1] + o[1], f[2] + o[2]]));
        items.push({ z: q[2], kind: "atom", q: q, el: c.species[i] });
      });
      c.bonds.forEach(function (bd) {
        var fi = c.frac[bd[0]], fj = c.frac[bd[1]];
        var p = project(self.cart([fi[0] + o[0], fi[1] + o[1], fi[2] + o[2]]));
        var q = project(self.cart([fj[0] + o[0] + bd[2], fj[1] + o[1] + bd[3], fj[2] + o[2] + bd[4]]));
        var m = [(p[0] + q[0]) / 2, (p[1] + q[1]) / 2, (p[2] + q[2]) / 2];
        items.push({ z: (p[2] + m[2]) / 2 - 0.01, kind: "bond", a: p, b: m, el: c.species[bd[0]] });
        items.push({ z: (q[2] + m[2]) / 2 - 0.01, kind: "bond", a: q, b: m, el: c.species[bd[1]] });
      });
    }
    items.sort(function (x, y) { return x.z - y.z; });
    items.forEach(function (it) {
      var col = (colours[it.el] || { colour: "#ff1493" }).colour;
      if (it.kind === "bond") {
        var p = screen(it.a), q = screen(it.b);
        ctx.strokeStyle = col; ctx.lineWidth = Math.max(2, 0.16 * scale); ctx.lineCap = "round";
        ctx.beginPath(); ctx.moveTo(p[0], p[1]); ctx.lineTo(q[0], q[1]); ctx.stroke();
        ctx.strokeStyle = "rgba(0,0,0,0.25)"; ctx.lineWidth = 0.5; ctx.stroke();
      } else {
        var s2 = screen(it.q), r = Math.max(3, 0.45 * scale * (colours[it.el] || { radius: 1 }).radius);
        var grad = ctx.createRadialGradient(s2[0] - r / 3, s2[1] - r / 3, r / 6, s2[0], s2[1], r);
        grad.addColorStop(0, "#ffffff"); grad.addColorStop(0.35, col); grad.addColorStop(1, shade(col));
        ctx.fillStyle = grad;
        ctx.beginPath(); ctx.arc(s2[0], s2[1], r, 0, 2 * Math.PI); ctx.fill();
        ctx.strokeStyle = "rgba(0,0,0,0.45)"; ctx.lineWidth = 0.7; ctx.stroke();
      }
    });
    this.drawn = true;
  };
  function shade(hex) {
    var v = parseInt(hex.slice(1), 16), r = (v >> 16) & 255, g = (v >> 8) & 255, b = v & 255;
    return "rgb(" + Math.round(r * 0.55) + "," + Math.round(g * 0.55) + "," + Math.round(b * 0.55) + ")";
  }

  /* ---------- phase diagram of a candidate's chemical system ---------- */
  function phaseDiagram(parent, card, row) {
    var sys = D.systems[card.system];
    var W = 330, H = 280, n = sys.elements.length, pad = 36;
    var g = svg("svg", { width: W, height: H, "class": "phase-diagram" }, parent);
    var pts = sys.phases.map(function (p) { return p.xy; }).concat([card.point]);
    var xs = pts.map(function (p) { return p[0]; }), ys = pts.map(function (p) { return p[1]; });
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs), y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    if (n === 2) { x0 = 0; x1 = 1; y1 = Math.max(y1, 0); var dy = (y1 - y0) || 1; y0 -= 0.08 * dy; y1 += 0.15 * dy; }
    var sx, sy;
    if (n === 2) {
      sx = function (x) { return pad + 10 + (W - pad - 20) * (x - x0) / (x1 - x0); };
      sy = function (y) { return 10 + (H - pad - 16) * (y1 - y) / (y1 - y0); };
      svg("line", { x1: pad + 10, y1: H - pad + 6, x2: W - 10, y2: H - pad + 6, stroke: "#888" }, g);
      svg("line", { x1: pad + 10, y1: 10, x2: pad + 10, y2: H - pad + 6, stroke: "#888" }, g);
      svg("line", { x1: sx(0), y1: sy(0), x2: sx(1), y2: sy(0), stroke: "#ddd" }, g);
      svg("text", { x: sx(0), y: H - pad + 20, "text-anchor": "start" }, g, sys.elements[0]);
      svg("text", { x: sx(1), y: H - pad + 20, "text-anchor": "end" }, g, sys.elements[1]);
      svg("text", { x: (W + pad) / 2, y: H - 6, "text-anchor": "middle" }, g, "fraction of " + sys.elements[1]);
      svg("text", { x: pad + 6, y: sy(y0) , "text-anchor": "end" }, g, y0.toFixed(2));
      svg("text", { x: pad + 6, y: sy(y1) + 9, "text-anchor": "end" }, g, y1.toFixed(2));
      svg("text", { x: 12, y: H / 2, transform: "rotate(-90 12 " + H / 2 + ")", "text-anchor": "middle" }, g, "E form (eV/atom)");
    } else {
      var span = Math.max(x1 - x0, y1 - y0) || 1, k = (Math.min(W, H) - 2 * pad) / span;
      var cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
      sx = function (x) { return W / 2 + k * (x - cx); };
      sy = function (y) { return H / 2 - k * (y - cy); };
    }
    sys.ties.forEach(function (t) {
      var a = sys.phases[t[0]].xy, b = sys.phases[t[1]].xy;
      svg("line", { x1: sx(a[0]), y1: sy(a[1]), x2: sx(b[0]), y2: sy(b[1]), stroke: "#555", "stroke-width": 1 }, g);
    });
    var unstable = 0, labels = [[sx(card.point[0]), sy(card.point[1]), fmt(row.formula), "#dc2626"]];
    sys.phases.forEach(function (p) {
      var stable = p.eh <= 1e-9;
      if (!stable) unstable++;
      var tipText = p.formula + " (" + p.id + ")\nformation energy " + p.ef.toFixed(3) + " eV/atom\ne_above_hull " + p.eh.toFixed(3) + " eV/atom";
      svg("circle", { cx: sx(p.xy[0]), cy: sy(p.xy[1]), r: stable ? 4.5 : 3.5, fill: stable ? "#2563eb" : "#fff",
        stroke: stable ? "#111" : "#ea580c", "stroke-width": stable ? 0.7 : 1.2, "class": "phase", "data-tip": tipText }, g);
      if (stable) labels.push([sx(p.xy[0]), sy(p.xy[1]), p.formula]);
    });
    placeLabels(g, labels, W, H);
    var P = card.point, star = [], R1 = 9, R2 = 4;
    for (var i = 0; i < 10; i++) {
      var r = i % 2 ? R2 : R1, ang = -Math.PI / 2 + i * Math.PI / 5;
      star.push((sx(P[0]) + r * Math.cos(ang)).toFixed(1) + "," + (sy(P[1]) + r * Math.sin(ang)).toFixed(1));
    }
    svg("polygon", { points: star.join(" "), fill: "#dc2626", stroke: "#111", "stroke-width": 0.6, "class": "candidate",
      "data-tip": row.formula + " (candidate #" + row.index + ")\nformation energy " + fmt(row.formation_energy_per_atom) +
        " eV/atom\ne_above_hull " + fmt(row.e_above_hull) + " eV/atom\ndecomposition: " + fmt(row.decomposition) }, g);
    el("div", { "class": "note" }, parent, sys.elements.join("-") + ": filled = stable known phase, hollow = unstable (" +
      unstable + "), star = this candidate; hover for values");
  }

  /* Stable-phase labels: each at the first of a few places around its point where it overlaps no earlier label and
     stays inside the plot; a label with no free place is left out (hover still names the phase). */
  function placeLabels(g, labels, W, H) {
    var placed = [], offsets = [[0, -8], [0, 16], [7, 4], [-7, 4], [0, -20], [0, 28]];
    labels.forEach(function (lab) {
      var w = 6.2 * lab[2].length, h = 11;
      for (var k = 0; k < offsets.length; k++) {
        var dx = offsets[k][0], dy = offsets[k][1];
        var x0 = dx > 0 ? lab[0] + dx : dx < 0 ? lab[0] + dx - w : lab[0] - w / 2, y0 = lab[1] + dy - h + 2;
        var box = [x0, y0, x0 + w, y0 + h];
        if (box[0] < 0 || box[2] > W || box[1] < 0 || box[3] > H) continue;
        var clash = placed.some(function (b) { return box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3]; });
        if (clash) continue;
        placed.push(box);
        var t = svg("text", { x: x0, y: y0 + h - 2, "font-size": 10, "class": "phase-label" }, g, lab[2]);
        if (lab[3]) { t.style.fill = lab[3]; t.style.fontWeight = "bold"; }
        return;
      }
    });
  }

  /* ---------- candidate cards ---------- */
  var csec = el("section", { id: "cards" }, main);
  el("h2", {}, csec, "Candidates with a crystal (" + D.cards.length + ")");
  if (D.cards.length >= D.max_viewers) el("div", { "class": "note" }, csec, "The " + D.max_viewers + " best-ranked candidates are shown; every candidate is in the table and candidates.csv.");
  var grid = el("div", { "class": "cards" }, csec);
  var rowOf = {};
  D.rows.forEach(function (r) { rowOf[r.index] = r; });
  var pending = [];
  D.cards.forEach(function (card) {
    var row = rowOf[card.index] || { index: card.index };
    var div = el("div", { "class": "card", id: "card-" + card.index }, grid);
    var h = el("h3", {}, div, "#" + card.index + " " + fmt(row.formula) + " ");
    el("span", { "class": "status " + row.status }, h, row.status);
    var body = el("div", { "class": "body" }, div);
    var left = el("div", { "class": "viewer" }, body);
    var canvas = el("canvas", { width: 300, height: 300, "class": "crystal", "data-index": card.index }, left);
    var viewer = new Viewer(canvas, card.crystal);
    canvas.slicesViewer = viewer;
    api.viewers.push(viewer);
    var tools = el("div", { "class": "tools" }, left);
    var btn = el("button", { type: "button", "class": "supercell" }, tools, "2\u00d72\u00d72 supercell");
    btn.addEventListener("click", function () {
      viewer.n = viewer.n === 1 ? 2 : 1;
      btn.textContent = viewer.n === 1 ? "2\u00d72\u00d72 supercell" : "unit cell";
      viewer.draw();
    });
    el("span", { "class": "note" }, tools, card.crystal.species.length + " atoms, " + card.crystal.bonds.length + " bonds; drag to turn");
    var legend = el("div", { "class": "legend" }, left), seen = {};
    card.crystal.species.forEach(function (sp) {
      if (seen[sp]) return; seen[sp] = 1;
      var item = el("span", {}, legend);
      var dot = el("span", { "class": "dot" }, item); dot.style.background = (D.elements[sp] || {}).colour || "#f0f";
      item.appendChild(document.createTextNode(sp));
    });
    var right = el("div", { "class": "facts" }, body);
    var dl = el("dl", { "class": "props" }, right);
    [["E above known hull", fmt(row.e_above_hull) + " eV/atom" + (row.below_known_hull ? " (flagged: below the known hull)" : "")],
     ["decomposition", fmt(row.decomposition)],
     ["formation energy", fmt(row.formation_energy_per_atom) + " eV/atom"],
     ["band gap, MEGNet", fmt(row.band_gap) + " eV"],
     ["band gap, composition", fmt(row.band_gap_composition) + " eV"],
     ["space group", fmt(row.space_group)],
     ["novelty", fmt(row.novelty) + (row.known_id ? " (" + row.known_id + ")" : "")]
    ].forEach(function (kv) { el("dt", {}, dl, kv[0]); el("dd", {}, dl, kv[1]); });
    el("dt", {}, dl, "CIF");
    var dd = el("dd", {}, dl);
    if (row.cif) el("a", { href: row.cif }, dd, row.cif); else dd.textContent = "- (not kept)";
    var pd = el("div", { "class": "pd" }, body);
    if (card.system) phaseDiagram(pd, card, row);
    else el("div", { "class": "note" }, pd, "No phase diagram: it is drawn for systems of 2-4 elements with a formation energy.");
    if (card.string) {
      var det = el("details", { "class": "string" }, div);
      el("summary", {}, det, "SLICES string");
      el("code", {}, det, card.string);
    }
    pending.push(viewer);
  });

  function showCard(index) {
    var div = document.getElementById("card-" + index);
    if (!div) return;
    div.scrollIntoView({ block: "center" });
    div.classList.add("flash");
    setTimeout(function () { div.classList.remove("flash"); }, 1200);
  }

  /* viewers draw when they come into view (a run may have hundreds) */
  if ("IntersectionObserver" in window) {
    var io = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) {
        if (!e.isIntersecting) return;
        var v = e.target.slicesViewer;
        if (v && !v.drawn) v.draw();
      });
    }, { rootMargin: "200px" });
    pending.forEach(function (v) { io.observe(v.canvas); });
  } else {
    pending.forEach(function (v) { v.draw(); });
  }
  renderTable();
  api.ready = true;
})();
