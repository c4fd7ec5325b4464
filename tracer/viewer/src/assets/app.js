// spool-trace web UI: vanilla JS + canvas, no network access.
// Data: the JSON in #trace-data (see viewer/web.rs for its shape). Times are
// ns relative to the first event. In the served page the numeric columns are
// `{"$bin": N}` placeholders: binCols[N] = [buffer, type, offset, length]
// names a typed array over data0.bin or data1.bin, fetched from the page's
// own server and viewed without parsing. data0 holds what the timeline's
// first paint needs (runs' start, length and task; task ids and sites;
// counters, STW/GC, logs, regions): the page draws once it is in, then
// fetches data1 (wakes, per-task totals, how runs ended, profiles, ...) and
// only then takes clicks, opens the other views and sets data-ready.
'use strict';
(function () {
const RAW = JSON.parse(document.getElementById('trace-data').textContent);
const TYPED = [Float64Array, Int32Array, Uint32Array, Uint8Array];
// Replaces every {"$bin": N} of buffer `part` under o by its typed array over buf.
function attach(o, part, buf) {
  for (const k in o) {
    const v = o[k];
    if (!v || typeof v !== 'object' || ArrayBuffer.isView(v)) continue; // (a typed array: attached before)
    if (typeof v.$bin === 'number') { const [b, ty, off, len] = RAW.binCols[v.$bin]; if (b === part) o[k] = new TYPED[ty](buf, off, len); }
    else if (!Array.isArray(v) || (v.length && typeof v[0] === 'object')) attach(v, part, buf);
  }
}
function failLoad(e) {
  const b = document.getElementById('banner'); b.hidden = false; b.classList.add('error');
  b.textContent = 'Could not load the trace data from the server: ' + e.message + '. Is spool-trace still running?';
  document.body.dataset.ready = 'error';
}
function getBin(i) { return fetch('data' + i + '.bin').then((r) => { if (!r.ok) throw new Error('data' + i + '.bin: HTTP ' + r.status); return r.arrayBuffer(); }); }
if (RAW.binCols) {
  getBin(0).then((b0) => { attach(RAW, 0, b0); start(RAW, () => getBin(1).then((b1) => attach(RAW, 1, b1))); }).catch(failLoad);
} else start(RAW, null);
// rest: null when every column is here, else a function fetching the rest.
function start(D, rest) {
const t0Start = performance.now();
let loaded = false; // every column is here (clicks, views and task rows wait for it)
// Undo the delta encoding of sorted time arrays (prefix sums).
function undelta(a) { for (let i = 1; i < a.length; i++) a[i] += a[i - 1]; }
for (const k of D.meta.delta || []) {
  const [a, b] = k.split('.');
  if (a === 'procs') for (const p of D.procs) undelta(p[b]); else undelta(D[a][b]);
}
const S = D.strings;
const T = D.tasks;
const NT = T.id.length;
const $ = (id) => document.getElementById(id);
const STATE_NAMES = ['running', 'runnable', 'blocked', 'syscall'];

// ---------- formatting ----------
function fmt(ns) {
  if (ns < 0) return '-' + fmt(-ns);
  if (ns < 1e3) return Math.round(ns) + 'ns';
  if (ns < 1e6) return (ns / 1e3).toFixed(ns < 1e4 ? 2 : 1) + 'µs';
  if (ns < 1e9) return (ns / 1e6).toFixed(ns < 1e7 ? 3 : 2) + 'ms';
  return (ns / 1e9).toFixed(3) + 's';
}
function esc(s) { return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c])); }
const RT = D.meta.runtimeTask;
// Display names of spawn sites ("function file:line", computed by names.rs).
const siteName = new Map();
for (let i = 0; i < D.siteNames.site.length; i++) siteName.set(D.siteNames.site[i], S[D.siteNames.name[i]]);
// Row labels are narrow: keep the file's base name only ("worker{…} trace_demo.rs:85").
function compactSite(n) { return n.replace(/ (\S*\/)?([^/\s]+:\d+)$/, ' $2'); }
function taskName(t) { return t === RT ? 'runtime' : 'G' + T.id[t]; }
function siteOf(t) { return S[T.site[t]] || ''; }
// "G12 worker app.rs:10" (or "runtime"): how a task is named everywhere.
function taskLabel(t) { return t === RT ? 'runtime' : taskName(t) + ' ' + (siteName.get(T.site[t]) || siteOf(t)); }
function shortSite(s) { const i = s.indexOf(' ('); return i > 0 ? s.slice(0, i) : s; }
// A compact name for labels: Rust paths lose their `{{closure}}` parts and
// crate prefix ("app::worker::{{closure}}" -> "worker{…}"); Go names stay.
function shortName(s) {
  const f = shortSite(s), g = f.replace(/::\{\{closure\}\}/g, '');
  if (g.indexOf('::') < 0) return f;
  const parts = g.split('::');
  return parts[parts.length - 1] + (g !== f ? '{…}' : '');
}
function clippedText(text, x, y, w) { ctx.save(); ctx.beginPath(); ctx.rect(x, y - 12, w, 16); ctx.clip(); ctx.fillText(text, x, y); ctx.restore(); }
// "func (…/dir/file.rs:12)" as HTML: function name, then a muted short location (full one in the tooltip).
function siteHtml(s) {
  const i = s.indexOf(' (');
  if (i < 0) return '<span class="fn">' + esc(s) + '</span>';
  const loc = s.slice(i + 2, -1), parts = loc.split('/');
  const short = parts.length > 2 ? '…/' + parts.slice(-2).join('/') : loc;
  return '<span class="fn" title="' + esc(s) + '">' + esc(s.slice(0, i)) + '</span> <span class="loc" title="' + esc(loc) + '">' + esc(short) + '</span>';
}
// Axis labels: as few digits as the tick step needs.
function fmtTick(ns, step) {
  const units = [[1e9, 's'], [1e6, 'ms'], [1e3, 'µs'], [1, 'ns']];
  for (const [u, name] of units) if (step >= u || u === 1) { const d = Math.max(0, Math.ceil(-Math.log10(step / u) - 1e-9)); return (ns / u).toFixed(Math.min(3, d)) + name; }
  return fmt(ns);
}

// ---------- derived indices ----------
// Task index by id, built on first use (a Map of millions takes a while).
let taskMap = null;
function byId() { if (!taskMap) { taskMap = new Map(); for (let i = 0; i < NT; i++) taskMap.set(T.id[i], i); } return taskMap; }
const taskById = { get: (id) => byId().get(id), has: (id) => byId().has(id) };
// Site colors: golden-angle hues by site index.
const siteColor = new Map();
function colorOf(t) {
  const s = T.site[t];
  let c = siteColor.get(s);
  if (!c) { const h = (siteColor.size * 137.508) % 360; c = 'hsl(' + h.toFixed(0) + ',55%,52%)'; siteColor.set(s, c); }
  return c;
}
// Runs per task: (proc index, span index), sorted by start: the Ps' runs
// merged in start order (each P's are sorted; ties go to the lower P), then
// grouped by task with a stable counting sort. Typed arrays only.
const NP = D.procs.length, PS = D.procs.map((p) => p.start), PT = D.procs.map((p) => p.task);
const runOff = new Int32Array(NT + 1);
let nRuns = 0;
for (const tk of PT) { for (let i = 0; i < tk.length; i++) runOff[tk[i] + 1]++; nRuns += tk.length; }
for (let i = 0; i < NT; i++) runOff[i + 1] += runOff[i];
const runP = new Int32Array(nRuns), runI = new Int32Array(nRuns);
{
  const fill = runOff.slice(0, NT), pos = new Int32Array(NP);
  for (let k = 0; k < nRuns; k++) {
    let best = -1, bs = Infinity;
    for (let p = 0; p < NP; p++) { const i = pos[p]; if (i < PS[p].length && PS[p][i] < bs) { bs = PS[p][i]; best = p; } }
    const i = pos[best]++, j = fill[PT[best][i]]++;
    runP[j] = best; runI[j] = i;
  }
}
// Wakes by waker and by woken task, in time order (wakes are in time order
// already; a stable counting sort keeps it): get(t) is a typed subarray.
const W = D.wakes;
// Built on first use: W's columns may not be here yet.
function groupBy(key) {
  let idx = null, off = null;
  return { get: (t) => {
    if (!idx) {
      const keys = W[key];
      off = new Int32Array(NT + 1);
      for (let i = 0; i < keys.length; i++) if (keys[i] >= 0) off[keys[i] + 1]++;
      for (let i = 0; i < NT; i++) off[i + 1] += off[i];
      idx = new Int32Array(off[NT]); const fill = off.slice(0, NT);
      for (let i = 0; i < keys.length; i++) if (keys[i] >= 0) idx[fill[keys[i]]++] = i;
    }
    return t >= 0 && t < NT ? idx.subarray(off[t], off[t + 1]) : idx.subarray(0, 0);
  } };
}
const wakesFrom = groupBy('from'), wakesTo = groupBy('to');
// User regions and logs per task (drawn on task rows).
const regionsOf = new Map(), logsOf = new Map();
for (let i = 0; i < D.regions.start.length; i++) { const t = D.regions.task[i]; if (t < 0) continue; let a = regionsOf.get(t); if (!a) regionsOf.set(t, a = { start: [], dur: [] }); a.start.push(D.regions.start[i]); a.dur.push(D.regions.dur[i]); }
for (let i = 0; i < D.logs.time.length; i++) { const t = D.logs.task[i]; if (t < 0) continue; let a = logsOf.get(t); if (!a) logsOf.set(t, a = []); a.push(D.logs.time[i]); }
// A task's state intervals (0 running, 1 runnable, 2 blocked), derived from
// its runs (how each ended, which wake enabled it) and wakes; cached.
const stateCache = new Map();
function taskStates(t) {
  let c = stateCache.get(t); if (c) return c;
  const st = [], du = [], kind = [], rs = [];
  const push = (k, a, b, r) => { if (b > a || k === 0) { st.push(a); du.push(b - a); kind.push(k); rs.push(r); } };
  let prev = null;
  for (let k = runOff[t]; k < runOff[t + 1]; k++) {
    const P = D.procs[runP[k]], i = runI[k], s0 = P.start[i], e0 = s0 + P.dur[i], w = P.wake[i], wt = w >= 0 ? W.time[w] : -1;
    if (!prev) { if (T.created[t] >= 0 && wt >= 0) push(1, Math.max(T.created[t], wt), s0, 0); }
    else if (prev.how === 0) { if (wt >= 0) { push(2, prev.end, wt, prev.reason); push(1, wt, s0, 0); } else push(2, prev.end, s0, prev.reason); }
    else push(1, prev.end, s0, prev.reason);
    push(0, s0, e0, 0);
    prev = { end: e0, how: P.how[i], reason: P.reason[i] };
  }
  if (prev && prev.how === 0) {
    let end = D.meta.duration;
    for (const w of wakesTo.get(t) || []) if (W.time[w] >= prev.end) { end = W.time[w]; break; }
    push(2, prev.end, end, prev.reason);
  }
  c = { start: st, dur: du, state: kind, reason: rs };
  stateCache.set(t, c); return c;
}

function lowerBound(arr, v) { let lo = 0, hi = arr.length; while (lo < hi) { const m = (lo + hi) >> 1; if (arr[m] < v) lo = m + 1; else hi = m; } return lo; }
// The run of task t that contains time x (or the first run starting after it).
function runAt(t, x) {
  let best = -1;
  for (let k = runOff[t]; k < runOff[t + 1]; k++) {
    const p = D.procs[runP[k]], i = runI[k];
    if (p.start[i] <= x && x <= p.start[i] + p.dur[i]) return { p: runP[k], i };
    if (best < 0 && p.start[i] >= x) best = k;
  }
  if (best >= 0) return { p: runP[best], i: runI[best] };
  const last = runOff[t + 1] - 1;
  return last >= runOff[t] ? { p: runP[last], i: runI[last] } : null;
}

// ---------- header, banner, stats ----------
$('file-name').textContent = D.meta.file;
function renderStats() {
  const m = D.meta, b = $('banner'), msgs = [];
  if (m.unreadBytes > 0) msgs.push(m.unreadPct.toFixed(m.unreadPct < 1 ? 2 : 1) + '% of the file could not be read (' + m.unreadBytes + ' bytes from byte ' + m.stopOffset + '): ' + m.stop);
  if (m.orderError) msgs.push('Analysis stopped early: ' + m.orderError);
  if (m.problemCount > 0) msgs.push(m.problemCount + ' problem(s) inside the trace; first: ' + m.problems[0]);
  if (msgs.length) { b.hidden = false; b.innerHTML = msgs.map(esc).join('<br>'); if (m.unreadBytes > 0 || m.orderError) b.classList.add('error'); }
  const user = D.utasks.id.length, regions = D.regions.start.length;
  $('stats').innerHTML = [
    ['duration', fmt(m.duration)], ['events', m.events.toLocaleString()], ['tasks', NT.toLocaleString()],
    ['Ps', D.procs.length], ['wakes', W.time.length.toLocaleString()], ['STW', D.stw.start.length],
    ['user tasks', user], ['regions', regions], ['logs', D.logs.time.length], ['format', 'go 1.' + m.version],
  ].map(([k, v]) => '<span>' + k + ' <b>' + esc(v) + '</b></span>').join('') + '<span id="window"></span>';
}

// ---------- views / hash ----------
let view = 'timeline', pendingView = null;
function showView(v) {
  if (!loaded && v !== 'timeline') { pendingView = v; return; }
  view = v;
  for (const b of document.querySelectorAll('.tab')) b.classList.toggle('active', b.dataset.view === v);
  for (const s of document.querySelectorAll('.view')) s.hidden = s.id !== 'view-' + v;
  if (v === 'tasks') renderSites();
  if (v === 'user') renderUser();
  if (v === 'timeline') { resize(); }
  if (window.spoolViews && spoolViews[v]) spoolViews[v]();
  saveHash();
}
for (const b of document.querySelectorAll('.tab')) b.addEventListener('click', () => showView(b.dataset.view));

// ---------- timeline state ----------
const cv = $('tl'), ctx = cv.getContext('2d');
const LABEL_W = 190, AXIS_H = 26, COUNTER_H = 46, BAND_H = 16, ROW_H = 22, TROW_H = 16, GAP = 8;
const dur = Math.max(1, D.meta.duration);
let v0 = -dur * 0.01, v1 = dur * 1.01; // visible ns range
let scrollY = 0, taskRows = NT <= 300, sel = null, hover = null, W_ = 0, H_ = 0, dpr = 1;
let taskOrder = null; // task indices shown as rows

function resize() {
  const r = $('canvas-wrap').getBoundingClientRect();
  dpr = window.devicePixelRatio || 1; W_ = Math.max(200, r.width); H_ = Math.max(150, r.height);
  cv.width = Math.round(W_ * dpr); cv.height = Math.round(H_ * dpr);
  draw();
}
window.addEventListener('resize', resize);
const plotW = () => W_ - LABEL_W;
const xOf = (t) => LABEL_W + (t - v0) / (v1 - v0) * plotW();
const tOf = (x) => v0 + (x - LABEL_W) / plotW() * (v1 - v0);
function layout() {
  const rows = [];
  let y = AXIS_H;
  rows.push({ kind: 'counters', y, h: COUNTER_H }); y += COUNTER_H + 2;
  rows.push({ kind: 'band', y, h: BAND_H }); y += BAND_H + GAP;
  D.procs.forEach((p, i) => { rows.push({ kind: 'proc', p: i, y: y - scrollY, h: ROW_H }); y += ROW_H + 2; });
  if (taskRows) {
    y += GAP;
    rows.push({ kind: 'title', y: y - scrollY, h: 16, text: 'Tasks' }); y += 18;
    if (!taskOrder) { taskOrder = []; for (let t = 0; t < NT; t++) taskOrder.push(t); }
    const first = Math.max(0, Math.floor((scrollY - (y - AXIS_H - COUNTER_H - BAND_H)) / (TROW_H + 1)) - 2);
    for (let k = 0; k < taskOrder.length; k++) {
      const ry = y + k * (TROW_H + 1) - scrollY;
      if (ry > H_) break;
      if (ry + TROW_H < AXIS_H + COUNTER_H + BAND_H + GAP || k < first - 2) continue;
      rows.push({ kind: 'task', t: taskOrder[k], y: ry, h: TROW_H });
    }
    y += taskOrder.length * (TROW_H + 1);
  }
  return { rows, total: y };
}
function clampScroll() {
  const { total } = layoutTotal();
  scrollY = Math.max(0, Math.min(scrollY, Math.max(0, total - H_ + 20)));
}
function layoutTotal() {
  let y = AXIS_H + COUNTER_H + 2 + BAND_H + GAP + D.procs.length * (ROW_H + 2);
  if (taskRows) y += GAP + 18 + NT * (TROW_H + 1);
  return { total: y };
}

// ---------- drawing ----------
function niceStep(span, px) { const raw = span / Math.max(1, px / 110); const p = Math.pow(10, Math.floor(Math.log10(raw))); for (const m of [1, 2, 5, 10]) if (p * m >= raw) return p * m; return p * 10; }
// Draws spans [start[i], start[i]+len[i]] within the view, merging sub-pixel spans per pixel column.
let drawnTasks = new Set(); // task indices drawn on P rows in the last frame (for tests)
function drawSpans(start, len, y, h, color, isSel, onDraw) {
  const n = start.length; if (!n) return;
  const px = (v1 - v0) / plotW();
  let i = Math.max(0, lowerBound(start, v0) - 1);
  // Spans are sorted by start and non-overlapping, so the one before v0 may still be visible.
  let mergeX = -1, mergeEnd = -1;
  const flush = () => { if (mergeX >= 0) { ctx.fillStyle = '#7d8597'; ctx.fillRect(mergeX, y + 2, Math.max(1, mergeEnd - mergeX), h - 4); mergeX = -1; } };
  while (i < n) {
    const s = start[i];
    if (s > v1) break;
    const e = s + len[i];
    if (e < v0) { i++; continue; }
    const x0 = Math.max(LABEL_W, xOf(s)), x1 = Math.min(W_, xOf(e));
    if (onDraw) onDraw(i);
    if (x1 - x0 < 1.5) {
      const col = Math.floor(x0);
      if (mergeX >= 0 && col <= mergeEnd + 1) mergeEnd = Math.max(mergeEnd, col + 1);
      else { flush(); mergeX = col; mergeEnd = col + 1; }
      // Skip every span that starts inside this pixel column.
      // The last span starting in this column may reach further right: revisit it.
      const next = lowerBound(start, tOf(col + 1));
      i = Math.max(i + 1, next - 1);
      continue;
    }
    flush();
    ctx.fillStyle = color(i); ctx.fillRect(x0, y, x1 - x0, h);
    if (x1 - x0 > 40) {
      const label = isSel(i);
      if (label) { ctx.fillStyle = '#fff'; ctx.save(); ctx.beginPath(); ctx.rect(x0, y, x1 - x0, h); ctx.clip(); ctx.fillText(label, x0 + 4, y + h / 2 + 4); ctx.restore(); }
    }
    i++;
  }
  flush();
}
function draw() {
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, W_, H_);
  ctx.font = '11px system-ui, sans-serif';
  drawnTasks = new Set();
  const { rows } = layout();
  // Rows (clipped below the fixed header area).
  const top = AXIS_H + COUNTER_H + 2 + BAND_H + GAP;
  ctx.save(); ctx.beginPath(); ctx.rect(0, top - 2, W_, H_); ctx.clip();
  for (const r of rows) {
    if (r.kind === 'proc') {
      const p = D.procs[r.p];
      ctx.fillStyle = r.p % 2 ? '#f3f5f9' : '#f8f9fc'; ctx.fillRect(LABEL_W, r.y, plotW(), r.h);
      drawSpans(p.start, p.dur, r.y, r.h, (i) => colorOf(p.task[i]), (i) => taskLabel(p.task[i]), (i) => drawnTasks.add(p.task[i]));
      ctx.fillStyle = '#fff'; ctx.fillRect(0, r.y, LABEL_W, r.h);
      ctx.fillStyle = '#1d2330'; clippedText(S[p.name], 10, r.y + r.h / 2 + 4, LABEL_W - 14);
    } else if (r.kind === 'title') {
      ctx.fillStyle = '#1d2330'; ctx.font = '600 12px system-ui, sans-serif'; ctx.fillText(r.text + ' (' + NT + ')', 10, r.y + 12); ctx.font = '11px system-ui, sans-serif';
    } else if (r.kind === 'task' && loaded) {
      const t = r.t, ts = taskStates(t), kind = ts.state;
      ctx.fillStyle = '#fafbfd'; ctx.fillRect(LABEL_W, r.y, plotW(), r.h);
      drawSpans(ts.start, ts.dur, r.y, r.h, (i) => kind[i] === 0 ? colorOf(t) : kind[i] === 1 ? '#f0a030' : kind[i] === 3 ? '#9a6bd6' : '#d5d9e1', () => null);
      // Regions: a dark strip along the bottom (nested regions overlap); logs: ticks on top.
      const rg = regionsOf.get(t);
      if (rg) for (let i = 0; i < rg.start.length; i++) { const x0 = Math.max(LABEL_W, xOf(rg.start[i])), x1 = Math.min(W_, xOf(rg.start[i] + rg.dur[i])); if (x1 >= LABEL_W && x0 <= W_) { ctx.fillStyle = 'rgba(29,35,48,.55)'; ctx.fillRect(x0, r.y + r.h - 3, Math.max(1, x1 - x0), 3); } }
      const lg = logsOf.get(t);
      if (lg) { ctx.fillStyle = '#1d2330'; for (const x of lg) { const px = xOf(x); if (px >= LABEL_W && px <= W_) ctx.fillRect(px, r.y, 1, 4); } }
      ctx.fillStyle = '#fff'; ctx.fillRect(0, r.y, LABEL_W, r.h);
      const tn = taskName(t), tw = Math.min(ctx.measureText(tn).width + 6, 64);
      ctx.fillStyle = '#1d2330'; clippedText(tn, 10, r.y + r.h / 2 + 4, tw - 2);
      if (t !== RT) { ctx.fillStyle = '#6b7383'; clippedText(compactSite(siteName.get(T.site[t]) || ''), 10 + tw, r.y + r.h / 2 + 4, LABEL_W - 14 - tw); }
    }
  }
  // Selection outline.
  if (sel) {
    const r = rows.find((r) => (sel.kind === 'proc' && r.kind === 'proc' && r.p === sel.p) || (sel.kind === 'task' && r.kind === 'task' && r.t === sel.t));
    if (r) { const x0 = Math.max(LABEL_W, xOf(sel.start)), x1 = Math.min(W_, xOf(sel.end)); ctx.strokeStyle = '#111'; ctx.lineWidth = 2; ctx.strokeRect(x0 - 1, r.y - 1, Math.max(2, x1 - x0) + 2, r.h + 2); }
  }
  ctx.restore();
  // Fixed header: axis, counters, STW/GC band.
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, W_, top - 2);
  const step = niceStep(v1 - v0, plotW());
  ctx.strokeStyle = '#e3e6ee'; ctx.fillStyle = '#6b7383'; ctx.lineWidth = 1;
  for (let t = Math.ceil(v0 / step) * step; t <= v1; t += step) {
    const x = Math.round(xOf(t)) + 0.5; ctx.beginPath(); ctx.moveTo(x, AXIS_H - 6); ctx.lineTo(x, H_); ctx.globalAlpha = 0.5; ctx.stroke(); ctx.globalAlpha = 1;
    ctx.fillText(fmtTick(t, step), x + 3, 14);
  }
  drawCounters(AXIS_H, COUNTER_H);
  const by = AXIS_H + COUNTER_H + 2;
  ctx.fillStyle = '#f3f5f9'; ctx.fillRect(LABEL_W, by, plotW(), BAND_H);
  drawSpans(D.gc.start, D.gc.dur, by + 3, BAND_H - 6, () => '#8a8f99', () => null);
  drawSpans(D.stw.start, D.stw.dur, by, BAND_H, () => '#d9473f', (i) => S[D.stw.label[i]]);
  drawMarks(by);
  ctx.fillStyle = '#1d2330'; ctx.fillText('STW / GC / problems', 10, by + 12);
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, LABEL_W - 1, AXIS_H);
  if (!D.meta.events) { ctx.fillStyle = '#6b7383'; ctx.font = '14px system-ui, sans-serif'; ctx.fillText('No complete generation of this trace could be read: nothing to show.', LABEL_W + 20, top + 40); }
  $('range').textContent = fmt(Math.max(0, v0)) + ' – ' + fmt(v1) + '  (' + fmt(v1 - v0) + ' visible)';
}
// Problem logs (long polls, panics, deadlocks) as triangles on the STW/GC band.
const MARK_COLORS = { 'spool.long_poll': '#e07b00', 'spool.panic': '#c0182b', 'spool.lost': '#5b6475' };
function markColor(cat) { return MARK_COLORS[cat] || (cat.indexOf('deadlock') >= 0 ? '#7b2fbf' : null); }
const MARKS = [];
for (let i = 0; i < D.logs.time.length; i++) if (markColor(S[D.logs.key[i]])) MARKS.push(i);
function drawMarks(by) {
  let lastX = -10;
  for (const i of MARKS) {
    const x = xOf(D.logs.time[i]);
    if (x < LABEL_W || x > W_ || x - lastX < 1) continue;
    lastX = x; ctx.fillStyle = markColor(S[D.logs.key[i]]);
    ctx.beginPath(); ctx.moveTo(x - 5, by); ctx.lineTo(x + 5, by); ctx.lineTo(x, by + BAND_H - 2); ctx.closePath(); ctx.fill();
  }
}
function drawCounters(y, h) {
  const C = D.counters, n = C.time.length;
  ctx.fillStyle = '#fbfcfe'; ctx.fillRect(LABEL_W, y, plotW(), h);
  ctx.fillStyle = '#1d2330'; ctx.fillText('running', 10, y + 16); ctx.fillStyle = '#c27510'; ctx.fillText('runnable', 10, y + 32);
  if (!n) return;
  let max = 1; for (let i = 0; i < n; i++) max = Math.max(max, C.running[i], C.runnable[i]);
  ctx.fillStyle = '#6b7383'; ctx.fillText('max ' + max, 62, y + 16);
  for (const [key, color] of [['runnable', 'rgba(240,160,48,.55)'], ['running', 'rgba(58,163,91,.65)']]) {
    const vals = C[key];
    ctx.fillStyle = color; ctx.beginPath(); ctx.moveTo(LABEL_W, y + h);
    let i = Math.max(0, lowerBound(C.time, v0) - 1);
    let lastX = LABEL_W, cur = i < n ? vals[i] : 0;
    for (let col = LABEL_W; col < W_; col++) {
      const tEnd = tOf(col + 1);
      let m = cur;
      while (i + 1 < n && C.time[i + 1] < tEnd) { i++; cur = vals[i]; m = Math.max(m, cur); }
      const yy = y + h - (m / max) * (h - 4);
      ctx.lineTo(col, yy); ctx.lineTo(col + 1, yy); lastX = col + 1;
      if (C.time[i] > v1) break;
    }
    ctx.lineTo(lastX, y + h); ctx.closePath(); ctx.fill();
  }
}

// ---------- hit testing ----------
function hit(x, y) {
  if (x < LABEL_W || !loaded) return null;
  const t = tOf(x), slop = (v1 - v0) / plotW() * 3;
  const { rows } = layout();
  const by = AXIS_H + COUNTER_H + 2;
  if (y >= by && y < by + BAND_H) {
    for (const i of MARKS) { const x0 = xOf(D.logs.time[i]); if (Math.abs(x0 - x) <= 5) return { kind: 'mark', i, start: D.logs.time[i], end: D.logs.time[i] }; }
    for (const [R, kind] of [[D.stw, 'stw'], [D.gc, 'gc']]) {
      for (let i = 0; i < R.start.length; i++) if (R.start[i] - slop <= t && t <= R.start[i] + R.dur[i] + slop) return { kind, i, start: R.start[i], end: R.start[i] + R.dur[i] };
    }
    return null;
  }
  for (const r of rows) {
    if (y < r.y || y > r.y + r.h) continue;
    if (r.kind === 'proc') {
      const p = D.procs[r.p]; let i = lowerBound(p.start, t + 1) - 1;
      for (const j of [i, i + 1]) if (j >= 0 && j < p.start.length && p.start[j] - slop <= t && t <= p.start[j] + p.dur[j] + slop) return { kind: 'proc', p: r.p, i: j, t: p.task[j], start: p.start[j], end: p.start[j] + p.dur[j] };
    } else if (r.kind === 'task') {
      const ts = taskStates(r.t), i = lowerBound(ts.start, t + 1) - 1;
      for (const j of [i, i + 1]) if (j >= 0 && j < ts.start.length && ts.start[j] - slop <= t && t <= ts.start[j] + ts.dur[j] + slop) return { kind: 'task', t: r.t, i: j, start: ts.start[j], end: ts.start[j] + ts.dur[j] };
    }
  }
  return null;
}

// ---------- detail panel ----------
function link(text, action) { return '<span class="link" data-act="' + esc(action) + '">' + esc(text) + '</span>'; }
function taskLink(t, time) { return t < 0 ? 'a thread outside any task' : link(taskName(t), 'jump:' + t + ':' + time) + (t === RT ? '' : ' <span class="mono">' + esc(siteName.get(T.site[t]) || '') + '</span>'); }
// The wake that made the run at (proc p, span i) possible.
function wakeLine(w) {
  if (w < 0) return null;
  const verb = W.spawn[w] ? 'spawned by ' : 'woken by ';
  return verb + taskLink(W.from[w], W.time[w]) + ' at ' + link(fmt(W.time[w]), 'time:' + W.time[w]);
}
// State interval of task t ending at (or containing) time x, going back from it.
function stateBefore(t, x) {
  const ts = taskStates(t); let i = lowerBound(ts.start, x) - 1; const out = [];
  while (i >= 0 && out.length < 2) { if (ts.state[i] !== 0) out.push(i); else break; i--; }
  return out;
}
function wokeDuring(t, s, e) {
  const a = wakesFrom.get(t) || [], out = [];
  for (const w of a) if (W.time[w] >= s && W.time[w] <= e) out.push(w);
  return out;
}
function showDetail(h) {
  const d = $('detail');
  if (!h) { d.innerHTML = '<div class="empty">Click a span to see what the task was doing, who woke it and whom it woke.</div>'; return; }
  if (h.kind === 'mark') {
    const L = D.logs, t = L.task[h.i];
    d.innerHTML = '<h3>' + esc(S[L.key[h.i]]) + '</h3><dl><dt>at</dt><dd>' + link(fmt(h.start), 'time:' + h.start) + '</dd>' + (t >= 0 ? '<dt>task</dt><dd>' + taskLink(t, h.start) + '</dd>' : '') + '</dl><div class="mono">' + esc(S[L.value[h.i]]) + '</div>';
    return;
  }
  if (h.kind === 'stw' || h.kind === 'gc') {
    const R = h.kind === 'stw' ? D.stw : D.gc;
    d.innerHTML = '<h3>' + esc(S[R.label[h.i]]) + '</h3><dl><dt>start</dt><dd>' + fmt(h.start) + '</dd><dt>duration</dt><dd>' + fmt(h.end - h.start) + '</dd>' +
      (R.task[h.i] >= 0 ? '<dt>by</dt><dd>' + taskLink(R.task[h.i], h.start) + '</dd>' : '') + '</dl>';
    return;
  }
  const t = h.t, start = h.start, end = h.end;
  let html = '<h3 id="detail-title">' + taskName(t) + '</h3><div class="site">' + (t === RT ? 'spool\'s runtime pseudo-task (stop-the-world and trace control outside any task)' : siteHtml(siteOf(t))) + '</div><dl>';
  let wake = -1, state = 'running', reason = '';
  if (h.kind === 'proc') { wake = D.procs[h.p].wake[h.i]; html += '<dt>state</dt><dd><span class="pill running">running</span> on ' + esc(S[D.procs[h.p].name]) + '</dd>'; }
  else { const ts = taskStates(t); state = STATE_NAMES[ts.state[h.i]]; reason = S[ts.reason[h.i]] || ''; html += '<dt>state</dt><dd><span class="pill ' + state + '">' + state + '</span></dd>'; if (reason) html += '<dt>reason</dt><dd>' + esc(reason) + '</dd>'; }
  html += '<dt>start</dt><dd>' + link(fmt(start), 'time:' + start) + '</dd><dt>duration</dt><dd>' + fmt(end - start) + '</dd>';
  if (h.kind === 'proc') {
    const ts = taskStates(t);
    for (const i of stateBefore(t, start)) html += '<dt>' + (ts.state[i] === 1 ? 'waited for a P' : STATE_NAMES[ts.state[i]]) + '</dt><dd>' + fmt(ts.dur[i]) + (ts.state[i] === 2 && S[ts.reason[i]] ? ' (' + esc(S[ts.reason[i]]) + ')' : '') + '</dd>';
    const how = D.procs[h.p].how[h.i], why = S[D.procs[h.p].reason[h.i]];
    html += '<dt>then</dt><dd>' + ['blocked', 'yielded (still runnable)', 'exited', 'still running'][how] + (why && how < 2 ? ' (' + esc(why) + ')' : '') + '</dd>';
  }
  html += '</dl>';
  if (h.kind === 'task' && state === 'runnable') {
    // The wake that started this runnable interval.
    const w = findWake(t, start); if (w >= 0) wake = w;
  }
  const wl = wakeLine(wake);
  html += '<div class="sect" id="woken-by">' + (wl ? wl.charAt(0).toUpperCase() + wl.slice(1) : (T.created[t] < 0 ? 'Already running when the trace started' : 'No recorded waker')) + '</div>';
  const woke = wokeDuring(t, start, end);
  if (woke.length) {
    html += '<div class="sect">Woke ' + woke.length + ' task' + (woke.length > 1 ? 's' : '') + ' during this ' + (h.kind === 'proc' ? 'run' : 'interval') + ':</div><ul>';
    for (const w of woke.slice(0, 30)) html += '<li>' + (W.spawn[w] ? 'spawned ' : 'woke ') + taskLink(W.to[w], W.time[w] + 1) + ' at ' + fmt(W.time[w]) + '</li>';
    html += '</ul>';
  }
  html += '<div class="sect">Task totals</div><dl><dt>running</dt><dd>' + fmt(T.running[t]) + ' in ' + T.polls[t] + ' polls</dd><dt>runnable</dt><dd>' + fmt(T.runnable[t]) + ' (max ' + fmt(T.maxWait[t]) + ')</dd><dt>blocked</dt><dd>' + fmt(T.blocked[t]) + '</dd>' +
    (T.creator[t] >= 0 ? '<dt>spawned by</dt><dd>' + taskLink(T.creator[t], T.created[t]) + '</dd>' : '') + '</dl>';
  if (window.spoolViews) html += spoolViews.wakeGraph(t, start, end, wake);
  html += '<div>' + link('show this task\'s row', 'row:' + t) + '</div>';
  d.innerHTML = html;
}
function findWake(t, time) { for (let w = lowerBound(W.time, time + 1) - 1; w >= 0 && W.time[w] >= time - 1; w--) if (W.to[w] === t) return w; return -1; }
$('detail').addEventListener('click', (e) => { const a = e.target.closest('[data-act]'); if (a) act(a.dataset.act); });
function act(a) {
  const [k, x, y] = a.split(':');
  if (k === 'jump') jumpTo(+x, +y);
  else if (k === 'time') centerOn(+x);
  else if (k === 'row') { taskRows = true; $('task-rows').checked = true; taskOrder = [+x].concat([...Array(NT).keys()].filter((i) => i !== +x)); scrollY = 0; draw(); }
}
function select(h) { sel = h; showDetail(h); draw(); saveHash(); }
function centerOn(t, span) {
  let w = v1 - v0; if (span && span * 3 > w) w = span * 3; if (span && span * 400 < w) w = Math.max(span * 40, 1000);
  v0 = t - w / 2; v1 = t + w / 2; draw(); saveHash();
}
// Selects task t's run containing (or after) time and brings it into view.
function jumpTo(t, time) {
  if (view !== 'timeline') showView('timeline');
  const r = runAt(t, time);
  if (!r) { centerOn(time); return; }
  const p = D.procs[r.p], s = p.start[r.i], e = s + p.dur[r.i];
  const procRowY = AXIS_H + COUNTER_H + 2 + BAND_H + GAP + r.p * (ROW_H + 2);
  if (procRowY - scrollY > H_ - 30 || procRowY - scrollY < AXIS_H) scrollY = Math.max(0, procRowY - 120);
  centerOn(isFinite(time) ? Math.min(Math.max(time, s), e) : s, e - s);
  select({ kind: 'proc', p: r.p, i: r.i, t, start: s, end: e });
}

// ---------- interaction ----------
let drag = null;
cv.addEventListener('mousedown', (e) => { drag = { x: e.offsetX, y: e.offsetY, v0, v1, sy: scrollY, moved: false }; cv.classList.add('drag'); });
window.addEventListener('mouseup', (e) => {
  cv.classList.remove('drag');
  if (drag && !drag.moved && e.target === cv) select(hit(e.offsetX, e.offsetY));
  drag = null;
});
cv.addEventListener('mousemove', (e) => {
  if (drag) {
    const dx = e.offsetX - drag.x, dy = e.offsetY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    const dt = dx / plotW() * (drag.v1 - drag.v0); v0 = drag.v0 - dt; v1 = drag.v1 - dt;
    scrollY = drag.sy - dy; clampScroll(); draw(); $('tip').hidden = true; return;
  }
  const h = hit(e.offsetX, e.offsetY), tip = $('tip');
  if (!h) { tip.hidden = true; return; }
  let text;
  if (h.kind === 'proc') text = taskLabel(h.t) + ' · running ' + fmt(h.end - h.start) + ' on ' + S[D.procs[h.p].name];
  else if (h.kind === 'mark') text = S[D.logs.key[h.i]] + ': ' + S[D.logs.value[h.i]] + ' · ' + fmt(h.start);
  else if (h.kind === 'task') { const ts = taskStates(h.t); text = taskName(h.t) + ' · ' + STATE_NAMES[ts.state[h.i]] + (S[ts.reason[h.i]] ? ' (' + S[ts.reason[h.i]] + ')' : '') + ' · ' + fmt(h.end - h.start); }
  else text = S[(h.kind === 'stw' ? D.stw : D.gc).label[h.i]] + ' · ' + fmt(h.end - h.start);
  tip.textContent = text; tip.hidden = false;
  tip.style.left = Math.min(e.offsetX + 14, W_ - tip.offsetWidth - 4) + 'px'; tip.style.top = (e.offsetY + 16) + 'px';
});
cv.addEventListener('mouseleave', () => { $('tip').hidden = true; });
function zoom(f, atX) {
  const t = tOf(atX == null ? LABEL_W + plotW() / 2 : atX), w = Math.max(50, (v1 - v0) * f);
  const r = (t - v0) / (v1 - v0); v0 = t - r * w; v1 = v0 + w; draw(); saveHash();
}
cv.addEventListener('wheel', (e) => {
  e.preventDefault();
  if (e.shiftKey) { scrollY += e.deltaY || e.deltaX; clampScroll(); draw(); return; }
  if (Math.abs(e.deltaX) > Math.abs(e.deltaY)) { const dt = e.deltaX / plotW() * (v1 - v0); v0 += dt; v1 += dt; draw(); return; }
  zoom(Math.pow(1.0018, e.deltaY), e.offsetX);
}, { passive: false });
$('zoom-in').onclick = () => zoom(0.5); $('zoom-out').onclick = () => zoom(2);
$('zoom-reset').onclick = () => { v0 = -dur * 0.01; v1 = dur * 1.01; scrollY = 0; draw(); saveHash(); };
$('task-rows').onchange = (e) => { taskRows = e.target.checked; clampScroll(); draw(); };
window.addEventListener('keydown', (e) => {
  if (e.target.tagName === 'INPUT' && e.target.type !== 'checkbox') { if (e.key === 'Escape') { e.target.blur(); $('search-results').hidden = true; } return; }
  const k = e.key.toLowerCase(), pan = (v1 - v0) * 0.15;
  if (k === '/') { e.preventDefault(); $('search').focus(); return; }
  if (view !== 'timeline') return;
  if (k === 'w' || k === '+' || k === '=') zoom(0.7);
  else if (k === 's' || k === '-') zoom(1 / 0.7);
  else if (k === 'a' || k === 'arrowleft') { v0 -= pan; v1 -= pan; draw(); }
  else if (k === 'd' || k === 'arrowright') { v0 += pan; v1 += pan; draw(); }
  else if (k === 'arrowdown') { scrollY += 60; clampScroll(); draw(); }
  else if (k === 'arrowup') { scrollY -= 60; clampScroll(); draw(); }
  else if (k === '0') $('zoom-reset').onclick();
  else if (k === 'escape') select(null);
  else return;
  e.preventDefault();
});

// ---------- search ----------
const searchBox = $('search'), results = $('search-results');
let searchTimer = 0;
searchBox.addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(runSearch, 120); });
searchBox.addEventListener('keydown', (e) => { if (e.key === 'Enter') { clearTimeout(searchTimer); runSearch(); const f = results.querySelector('.res'); if (f) f.click(); } });
function runSearch() {
  const q = searchBox.value.trim(); results.innerHTML = '';
  if (!q) { results.hidden = true; return; }
  const out = [], ql = q.toLowerCase();
  const m = /^g?(\d+)$/i.exec(q);
  if (m && taskById.has(+m[1])) { const t = taskById.get(+m[1]); out.push(['task', taskName(t) + ' ' + siteOf(t), 'jump:' + t + ':' + firstRun(t)]); }
  const sites = new Map();
  for (let t = 0; t < NT; t++) { const s = siteOf(t); if (s.toLowerCase().includes(ql)) { const a = sites.get(s); if (a) a.push(t); else sites.set(s, [t]); } }
  for (const [s, ts] of [...sites].slice(0, 20)) out.push(['site', s + ' (' + ts.length + ' tasks; first ' + taskName(ts[0]) + ')', 'jump:' + ts[0] + ':' + firstRun(ts[0])]);
  const L = D.logs; let nl = 0;
  for (let i = 0; i < L.time.length && nl < 50; i++) {
    const k = S[L.key[i]], v = S[L.value[i]];
    if (k.toLowerCase().includes(ql) || v.toLowerCase().includes(ql)) { nl++; out.push(['log', (L.task[i] >= 0 ? taskName(L.task[i]) + ' ' : '') + k + '=' + v + ' @ ' + fmt(L.time[i]), L.task[i] >= 0 ? 'jump:' + L.task[i] + ':' + L.time[i] : 'time:' + L.time[i]]); }
  }
  if (!out.length) out.push(['', 'no match for "' + q + '"', '']);
  results.innerHTML = out.slice(0, 80).map(([k, text, a]) => '<div class="res" data-act="' + esc(a) + '"><span class="kind">' + k + '</span> ' + esc(text) + '</div>').join('');
  results.hidden = false;
}
function firstRun(t) { return runOff[t + 1] > runOff[t] ? D.procs[runP[runOff[t]]].start[runI[runOff[t]]] : 0; }
results.addEventListener('click', (e) => { const r = e.target.closest('.res'); if (r && r.dataset.act) { results.hidden = true; act(r.dataset.act); } });
document.addEventListener('click', (e) => { if (!e.target.closest('.search')) results.hidden = true; });

// ---------- URL hash deep links ----------
let hashTimer = 0;
function saveHash() {
  clearTimeout(hashTimer);
  hashTimer = setTimeout(() => {
    const parts = ['view=' + view];
    if (view === 'timeline') { parts.push('t=' + Math.round(v0) + ',' + Math.round(v1)); if (sel && sel.t != null) parts.push('task=' + T.id[sel.t] + '@' + Math.round(sel.start)); }
    history.replaceState(null, '', '#' + parts.join('&'));
  }, 150);
}
function loadHash() {
  const h = new URLSearchParams(location.hash.slice(1));
  if (h.get('view') && h.get('view') !== 'timeline') { showView(h.get('view')); return; }
  const tr = (h.get('t') || '').split(',').map(Number);
  if (tr.length === 2 && isFinite(tr[0]) && tr[1] > tr[0]) { v0 = tr[0]; v1 = tr[1]; }
  const task = h.get('task');
  if (task) { const [id, at] = task.split('@').map(Number); if (taskById.has(id)) { const keep = [v0, v1]; jumpTo(taskById.get(id), isFinite(at) ? at : firstRun(taskById.get(id))); if (tr.length === 2 && tr[1] > tr[0]) { [v0, v1] = keep; draw(); } } }
}
window.addEventListener('hashchange', loadHash);

// ---------- tasks page ----------
let siteSort = 'running', siteRows = null;
function renderSites() {
  if (!siteRows) {
    const by = new Map();
    for (let t = 0; t < NT; t++) {
      let g = by.get(T.site[t]);
      if (!g) by.set(T.site[t], g = { site: S[T.site[t]], tasks: [], running: 0, runnable: 0, blocked: 0, syscall: 0, maxWait: 0, maxPoll: 0 });
      g.tasks.push(t); g.running += T.running[t]; g.runnable += T.runnable[t]; g.blocked += T.blocked[t]; g.syscall += T.syscall[t];
      g.maxWait = Math.max(g.maxWait, T.maxWait[t]); g.maxPoll = Math.max(g.maxPoll, T.maxPoll[t]);
    }
    siteRows = [...by.values()];
  }
  const cols = [['site', 'spawn site', 'l'], ['count', 'tasks'], ['running', 'running'], ['meanRun', 'mean running'], ['runnable', 'runnable'], ['maxWait', 'max sched latency'], ['blocked', 'blocked'], ['maxPoll', 'longest poll'], ['bar', 'time breakdown', 'l']];
  const val = (g, k) => k === 'count' ? g.tasks.length : k === 'meanRun' ? g.running / g.tasks.length : g[k];
  siteRows.sort((a, b) => siteSort === 'site' ? a.site.localeCompare(b.site) : val(b, siteSort) - val(a, siteSort));
  const bar = (r, q, b, s) => { const tot = Math.max(1, r + q + b + s); return '<div class="bar">' + [['running', r], ['runnable', q], ['blocked', b], ['syscall', s]].map(([c, v]) => '<span class="' + c + '" style="width:' + (100 * v / tot).toFixed(2) + '%"></span>').join('') + '</div>'; };
  let html = '<thead><tr>' + cols.map(([k, n, c]) => '<th data-k="' + k + '" class="' + (c || '') + (k === siteSort ? ' sorted' : '') + '">' + n + '</th>').join('') + '</tr></thead><tbody>';
  siteRows.forEach((g, gi) => {
    html += '<tr class="group" data-g="' + gi + '"><td class="l site-cell">' + siteHtml(g.site) + '</td><td>' + g.tasks.length + '</td><td>' + fmt(g.running) + '</td><td>' + fmt(g.running / g.tasks.length) + '</td><td>' + fmt(g.runnable) + '</td><td>' + fmt(g.maxWait) + '</td><td>' + fmt(g.blocked) + '</td><td>' + fmt(g.maxPoll) + '</td><td class="l">' + bar(g.running, g.runnable, g.blocked, g.syscall) + '</td></tr>';
    if (g.open) {
      const ts = g.tasks.slice().sort((a, b) => (T.running[b] + T.runnable[b]) - (T.running[a] + T.runnable[a])).slice(0, 200);
      for (const t of ts) html += '<tr class="sub"><td class="l">' + link(taskName(t), 'jump:' + t + ':' + firstRun(t)) + '</td><td>' + T.polls[t] + ' polls</td><td>' + fmt(T.running[t]) + '</td><td></td><td>' + fmt(T.runnable[t]) + '</td><td>' + fmt(T.maxWait[t]) + '</td><td>' + fmt(T.blocked[t]) + '</td><td>' + fmt(T.maxPoll[t]) + '</td><td class="l">' + bar(T.running[t], T.runnable[t], T.blocked[t], T.syscall[t]) + '</td></tr>';
      if (g.tasks.length > 200) html += '<tr class="sub"><td class="l" colspan="9">… ' + (g.tasks.length - 200) + ' more</td></tr>';
    }
  });
  $('sites').innerHTML = html + '</tbody>';
}
$('sites').addEventListener('click', (e) => {
  const th = e.target.closest('th'); if (th) { siteSort = th.dataset.k === 'bar' ? 'running' : th.dataset.k; renderSites(); return; }
  const a = e.target.closest('[data-act]'); if (a) { act(a.dataset.act); return; }
  const tr = e.target.closest('tr.group'); if (tr) { const g = siteRows[+tr.dataset.g]; g.open = !g.open; renderSites(); }
});

// ---------- user tasks & regions page ----------
let userDone = false;
function renderUser() {
  if (userDone) return; userDone = true;
  const groups = new Map();
  const add = (kind, name, start, d, task) => { const k = kind + '\u0000' + name; let g = groups.get(k); if (!g) groups.set(k, g = { kind, name, items: [] }); g.items.push([d, start, task]); };
  const U = D.utasks; for (let i = 0; i < U.id.length; i++) if (U.dur[i] >= 0) add('task', S[U.name[i]], U.start[i], U.dur[i], U.task[i]);
  const R = D.regions; for (let i = 0; i < R.start.length; i++) if (R.task[i] >= 0) add('region', S[R.label[i]], R.start[i], R.dur[i], R.task[i]);
  const out = [...groups.values()].sort((a, b) => b.items.length - a.items.length);
  if (!out.length) { $('user').innerHTML = '<p class="explain">This trace has no user tasks or regions (runtime/trace NewTask / WithRegion, or spool\'s annotations).</p>'; return; }
  $('user').innerHTML = out.map((g, gi) => {
    g.items.sort((a, b) => a[0] - b[0]);
    const n = g.items.length, q = (f) => g.items[Math.min(n - 1, Math.floor(f * (n - 1)))][0];
    const lo = Math.max(1, g.items[0][0]), hi = Math.max(lo * 1.0001, g.items[n - 1][0]), B = 24, bins = new Array(B).fill(0);
    const bin = (d) => Math.min(B - 1, Math.max(0, Math.floor(Math.log(Math.max(1, d) / lo) / Math.log(hi / lo) * B)));
    for (const it of g.items) bins[bin(it[0])]++;
    const mx = Math.max(...bins);
    g.bin = bin;
    return '<div class="card" data-g="' + gi + '"><h4>' + esc(g.name || '(unnamed)') + '<span class="kind">' + g.kind + '</span></h4>' +
      '<div class="nums">count <b>' + n + '</b> · median <b>' + fmt(q(0.5)) + '</b> · p99 <b>' + fmt(q(0.99)) + '</b> · max <b>' + fmt(g.items[n - 1][0]) + '</b></div>' +
      '<div class="hist">' + bins.map((c, i) => '<div data-b="' + i + '" title="' + c + ' instance(s)" style="height:' + (c ? 4 + 96 * c / mx : 0) + '%"></div>').join('') + '</div>' +
      '<div class="hist-axis"><span>' + fmt(lo) + '</span><span>latency (log scale)</span><span>' + fmt(hi) + '</span></div>' +
      '<div class="inst">' + instances(g, -1) + '</div></div>';
  }).join('');
  $('user').onclick = (e) => {
    const a = e.target.closest('[data-act]'); if (a) { act(a.dataset.act); return; }
    const b = e.target.closest('.hist div'); if (b) { const card = b.closest('.card'); const g = out[+card.dataset.g]; card.querySelector('.inst').innerHTML = instances(g, +b.dataset.b); }
  };
  function instances(g, b) {
    const items = g.items.filter((it) => b < 0 || g.bin(it[0]) === b).slice().reverse().slice(0, 50);
    return (b < 0 ? 'slowest: ' : 'in bucket: ') + items.map((it) => '<div>' + link(fmt(it[0]), it[2] >= 0 ? 'jump:' + it[2] + ':' + it[1] : 'time:' + it[1]) + ' at ' + fmt(it[1]) + (it[2] >= 0 ? ' on ' + taskName(it[2]) : '') + '</div>').join('');
  }
}

// ---------- start ----------
$('task-rows').checked = taskRows;
resize();
// Test hooks (used by tests/browser): read-only views of the UI state.
function spanRect(pi, i) {
  const r = layout().rows.find((r) => r.kind === 'proc' && r.p === pi), p = D.procs[pi];
  if (!r) return null;
  return { x0: xOf(p.start[i]), x1: xOf(p.start[i] + p.dur[i]), y: r.y, h: r.h };
}
window.spoolTrace = {
  data: D, jumpTo, taskById, hit, spanRect, centerOn, select, showView,
  internals: { fmt, esc, link, taskName, taskLabel, taskLink, siteOf, siteName, act, wakesFrom, wakesTo, taskStates, firstRun, lowerBound, runAt, wokeDuring, markColor, MARKS, setView: (a, b) => { v0 = a; v1 = b; draw(); saveHash(); } },
  drawnTaskIds: () => [...drawnTasks].map((t) => T.id[t]),
  state: () => ({ v0, v1, sel, scrollY, view }),
};
// Timings (ms): the first paint since navigation start, and since start().
spoolTrace.paintAt = performance.now(); spoolTrace.startMs = spoolTrace.paintAt - t0Start;
document.body.dataset.painted = '1';
function finish() {
  loaded = true; renderStats(); draw();
  if (location.hash.length > 1) loadHash();
  if (pendingView) showView(pendingView);
  spoolTrace.loadedAt = performance.now();
  // views.js adds the other views and sets document.body.dataset.ready: now
  // if it has loaded (served page: the data arrived after it), else when it does.
  if (window.spoolViewsInit) window.spoolViewsInit();
}
// The canvas is painted before the rest is fetched and indexed.
if (rest) setTimeout(() => rest().then(finish).catch(failLoad), 0); else finish();
}
})();
