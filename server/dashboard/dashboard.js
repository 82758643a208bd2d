"use strict";
const COLORS = ["#2f6fde", "#e8833a", "#2a9d8f", "#c0392b", "#8e6cc7", "#d4a017", "#5d6d7e", "#16a085"];
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("analytics-token");
let admin = sessionStorage.getItem("analytics-admin") === "1";

function el(tag, attrs, parent, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}
function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
function size(svg) { const r = svg.getBoundingClientRect(); return [r.width || 440, r.height || 220]; }
function nice(v) { return v >= 1000 ? (v / 1000).toFixed(1) + "k" : (Math.round(v * 10) / 10).toString(); }
function empty(svg, text) {
  clear(svg); const [w, h] = size(svg);
  el("text", { x: w / 2, y: h / 2, "text-anchor": "middle", class: "empty" }, svg, text || "no data in this range");
}
function legend(box, names) {
  box.textContent = "";
  names.forEach((n, i) => {
    const item = document.createElement("span");
    const dot = document.createElement("i"); dot.style.background = COLORS[i % COLORS.length];
    item.append(dot, n); box.append(item);
  });
}
function axes(svg, w, h, pad, max, labels) {
  for (let i = 0; i <= 4; i++) {
    const y = pad.t + (h - pad.t - pad.b) * (1 - i / 4);
    el("line", { x1: pad.l, x2: w - pad.r, y1: y, y2: y, stroke: "#e3e8ee" }, svg);
    el("text", { x: pad.l - 4, y: y + 4, "text-anchor": "end" }, svg, nice(max * i / 4));
  }
  const step = Math.max(1, Math.ceil(labels.length / 6));
  labels.forEach((label, i) => {
    if (i % step) return;
    const x = pad.l + (w - pad.l - pad.r) * (labels.length > 1 ? i / (labels.length - 1) : 0.5);
    el("text", { x, y: h - 6, "text-anchor": "middle" }, svg, label);
  });
}
function bucketLabel(iso, bucket) {
  const d = new Date(iso);
  return bucket === "hour" ? d.getHours().toString().padStart(2, "0") + ":00" : (d.getMonth() + 1) + "/" + d.getDate();
}

function lines(svg, labels, series, legendBox) {
  clear(svg);
  const values = series.flatMap((s) => s.values.filter((v) => v !== null));
  if (!values.length) { empty(svg); if (legendBox) legend(legendBox, []); return; }
  const [w, h] = size(svg), pad = { l: 40, r: 10, t: 10, b: 22 };
  const max = Math.max(...values) * 1.1 || 1;
  axes(svg, w, h, pad, max, labels);
  const x = (i) => pad.l + (w - pad.l - pad.r) * (labels.length > 1 ? i / (labels.length - 1) : 0.5);
  const y = (v) => pad.t + (h - pad.t - pad.b) * (1 - v / max);
  series.forEach((s, k) => {
    let d = "", pen = "M";
    s.values.forEach((v, i) => {
      if (v === null) { pen = "M"; return; }
      d += `${pen}${x(i).toFixed(1)},${y(v).toFixed(1)} `; pen = "L";
    });
    el("path", { d, fill: "none", stroke: COLORS[k % COLORS.length], "stroke-width": 2, class: "series" }, svg);
    s.values.forEach((v, i) => {
      if (v !== null) el("circle", { cx: x(i), cy: y(v), r: 2, fill: COLORS[k % COLORS.length] }, svg);
    });
  });
  if (legendBox) legend(legendBox, series.map((s) => s.name));
}

function hbars(svg, rows, unit) {
  clear(svg);
  if (!rows.length) { empty(svg); return; }
  const [w, h] = size(svg), pad = { l: 150, r: 140, t: 6, b: 6 };
  const max = Math.max(...rows.map((r) => r.value)) || 1;
  const band = (h - pad.t - pad.b) / rows.length;
  rows.forEach((r, i) => {
    const y = pad.t + i * band, bw = (w - pad.l - pad.r) * r.value / max;
    el("rect", { x: pad.l, y: y + band * 0.15, width: Math.max(bw, 1), height: band * 0.7, fill: COLORS[i % COLORS.length], class: "bar" }, svg);
    el("text", { x: pad.l - 6, y: y + band / 2 + 4, "text-anchor": "end" }, svg, r.label.slice(0, 24));
    el("text", { x: pad.l + bw + 4, y: y + band / 2 + 4 }, svg, nice(r.value) + (unit || "") + (r.note ? " " + r.note : ""));
  });
}

function stacked(svg, groups, stages, legendBox) {
  clear(svg);
  const totals = groups.map((g) => g.values.reduce((a, v) => a + (v || 0), 0));
  if (!totals.some((t) => t > 0)) { empty(svg, "no spoken turns in this range"); legend(legendBox, []); return; }
  const [w, h] = size(svg), pad = { l: 60, r: 60, t: 10, b: 10 };
  const max = Math.max(...totals);
  const band = (h - pad.t - pad.b) / groups.length;
  groups.forEach((g, i) => {
    let x = pad.l; const y = pad.t + i * band;
    g.values.forEach((v, k) => {
      const bw = (w - pad.l - pad.r) * (v || 0) / max;
      if (bw > 0) el("rect", { x, y: y + band * 0.2, width: bw, height: band * 0.6, fill: COLORS[k % COLORS.length], class: "bar" }, svg);
      x += bw;
    });
    el("text", { x: pad.l - 6, y: y + band / 2 + 4, "text-anchor": "end" }, svg, g.name);
    el("text", { x: x + 4, y: y + band / 2 + 4 }, svg, nice(totals[i]) + " ms");
  });
  legend(legendBox, stages);
}

function figures(d) {
  const box = $("figures"); box.textContent = "";
  const total = d.usage.reduce((a, s) => a + s.total, 0);
  const items = [
    [total, "events"], [d.active_users_total, "active users"],
    [d.errors.rate === null ? "–" : (d.errors.rate * 100).toFixed(1) + "%", "error rate"],
    [d.cache.hit_rate === null ? "–" : (d.cache.hit_rate * 100).toFixed(0) + "%", "prompt cache reuse"],
    [d.source, "source"],
  ];
  for (const [value, label] of items) {
    const f = document.createElement("div"); f.className = "figure";
    const b = document.createElement("b"); b.textContent = value;
    const s = document.createElement("span"); s.textContent = label;
    f.append(b, s); box.append(f);
  }
}

function latencyTable(rows) {
  const t = $("latency"); t.textContent = "";
  const head = t.insertRow();
  for (const c of ["capability", "measure", "count", "p50", "p95"]) { const th = document.createElement("th"); th.textContent = c; head.append(th); }
  for (const r of rows) {
    const tr = t.insertRow();
    for (const v of [r.capability, r.measure, r.count, r.p50_ms, r.p95_ms]) tr.insertCell().textContent = v === null ? "–" : v;
  }
}

function render(d) {
  figures(d);
  const labels = d.buckets.map((b) => bucketLabel(b, d.bucket));
  lines($("usage-chart"), labels, d.usage.slice(0, 8).map((s) => ({ name: s.name, values: s.counts })), $("usage-legend"));
  const stages = d.voice_stages;
  stacked($("voice-chart"),
    [{ name: "median", values: stages.map((s) => s.p50_ms) }, { name: "p95", values: stages.map((s) => s.p95_ms) }],
    stages.map((s) => s.stage), $("voice-legend"));
  lines($("tps-chart"), labels, [{ name: "tokens/s", values: d.tokens_per_second }]);
  hbars($("memory-chart"), d.models.filter((m) => m.memory_mb !== null).map((m) => ({
    label: m.model, value: m.memory_mb, note: m.load_ms_p50 === null ? "" : `(load ${nice(m.load_ms_p50)} ms)` })), " MB");
  hbars($("errors-chart"), d.errors.by_code.map((e) => ({ label: e.label, value: e.count })), "");
  latencyTable(d.latency);
}

async function api(path, options) {
  const response = await fetch(path, { ...options, headers: { "Authorization": "Bearer " + token, ...(options && options.headers) } });
  if (response.status === 401) { signOut(); throw new Error("Please sign in again"); }
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail || response.statusText);
  return body;
}

async function load() {
  $("load-error").textContent = "";
  const days = Number($("range").value);
  const to = new Date(), from = new Date(to.getTime() - days * 86400000);
  const params = new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), bucket: days <= 3 ? "hour" : "day" });
  if (admin && $("user").value.trim()) params.set("user", $("user").value.trim());
  try {
    const data = await api("/api/v1/analytics/dashboard?" + params);
    render(data);
    document.body.dataset.loaded = "1";
  } catch (error) {
    $("load-error").textContent = error.message;
  }
}

function show() {
  $("login").hidden = Boolean(token);
  $("app").hidden = !token;
  $("user-box").hidden = !admin;
  if (token) load();
}

function signOut() {
  token = null; sessionStorage.removeItem("analytics-token"); sessionStorage.removeItem("analytics-admin"); show();
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  const response = await fetch("/api/v1/auth/login", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: $("username").value, password: $("password").value }),
  });
  const body = await response.json();
  if (!response.ok) { $("login-error").textContent = body.detail || "Sign-in failed"; return; }
  token = body.access_token;
  sessionStorage.setItem("analytics-token", token);
  const me = await api("/api/v1/auth/me");
  admin = me.role === "admin";
  sessionStorage.setItem("analytics-admin", admin ? "1" : "0");
  show();
});
$("refresh").addEventListener("click", load);
$("range").addEventListener("change", load);
$("logout").addEventListener("click", signOut);
show();
