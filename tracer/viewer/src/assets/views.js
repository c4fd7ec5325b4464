// spool-trace web UI, second part: the problems box, the blocking profiles
// (icicle flame graph + table), utilization and MMU, the log list, and the
// wake graph of the detail panel. Uses app.js's internals (window.spoolTrace).
'use strict';
// Runs once app.js has its data (at once for the html export; after the
// fetch of data.bin for the served page): app.js calls spoolViewsInit.
window.spoolViewsInit = function () {
const ST = window.spoolTrace, D = ST.data, S = D.strings, T = D.tasks, I = ST.internals;
const { fmt, esc, link, taskName, taskLabel, taskLink, act } = I;
const $ = (id) => document.getElementById(id);
const W = D.wakes, P = D.profile, K = D.stacks;
const KINDS = [
  ['net', 'network', 'time blocked on the network (reason "network")'],
  ['sync', 'sync', 'time blocked on channels, select and sync primitives (reasons containing "chan", "sync" or "select", as in Go)'],
  ['syscall', 'syscall', 'time in system calls (spool: blocking sections)'],
  ['sched', 'scheduler latency', 'time runnable, waiting for a P'],
];
function frameLabel(k) { const f = S[K.func[k]] || '?', file = S[K.file[k]] || ''; return { func: f, loc: file ? file.split('/').slice(-2).join('/') + ':' + K.line[k] : '' }; }
function stackFrames(s) { const out = []; for (let k = K.off[s]; k < K.off[s + 1]; k++) out.push(frameLabel(k)); return out; }
function actLink(text, a) { return a ? link(text, a) : esc(text); }
function itemAct(task, time) { return task >= 0 ? 'jump:' + task + ':' + time : 'time:' + time; }

// ---------- problems box ----------
function renderProblems() {
  const box = $('problems'), groups = D.problems;
  const real = groups.filter((g) => g.title !== 'longest scheduler latencies');
  const total = real.reduce((a, g) => a + g.count, 0);
  const sched = groups.find((g) => g.title === 'longest scheduler latencies');
  let head = '<b>Problems</b> ';
  if (!total) head += '<span class="ok">none found: no long polls, possible deadlocks, panics or lost events</span>';
  else head += real.filter((g) => g.count).map((g) => '<span class="pg link" data-g="' + esc(g.title) + '">' + esc(g.title) + ' <b>' + g.count + '</b></span>').join(' · ');
  if (sched && sched.items.length) { const it = sched.items[0]; head += ' · longest scheduler latency ' + link(fmt(it[1]), itemAct(it[2], it[0])) + ' (' + esc(it[2] >= 0 ? taskLabel(it[2]) : '') + ')'; }
  head += ' · <span class="link" id="problems-toggle">details</span>';
  box.innerHTML = '<div class="ph">' + head + '</div><div id="problems-list" hidden></div>';
  const list = $('problems-list');
  list.innerHTML = groups.filter((g) => g.count).map((g) => '<div class="pgroup" data-g="' + esc(g.title) + '"><div class="pt">' + esc(g.title) + ' (' + g.count + ')</div><ul>' +
    g.items.map((it) => '<li>' + link(fmt(it[0]), itemAct(it[2], it[0])) + (it[2] >= 0 ? ' ' + esc(taskLabel(it[2])) : '') + ': ' + esc(it[3]) + '</li>').join('') +
    (g.count > g.items.length ? '<li>… ' + (g.count - g.items.length) + ' more' + (/long poll|deadlock|panic/.test(g.title) ? ' (see ' + link('Logs', 'view:logs') + ')' : '') + '</li>' : '') + '</ul></div>').join('') || '<div class="empty">Nothing to list.</div>';
  box.onclick = (e) => {
    const a = e.target.closest('[data-act]'); if (a) { go(a.dataset.act); return; }
    if (e.target.id === 'problems-toggle' || e.target.closest('.pg')) list.hidden = !list.hidden;
  };
}
function go(a) { if (a.startsWith('view:')) ST.showView(a.slice(5)); else act(a); }

// ---------- blocking profiles ----------
let profKind = null, profBySite = false, profSel = null;
function kindTotals() { const t = [0, 0, 0, 0], c = [0, 0, 0, 0]; for (let i = 0; i < P.kind.length; i++) { t[P.kind[i]] += P.time[i]; c[P.kind[i]] += P.count[i]; } return { t, c }; }
// A record's path from the root: [spawn site?] + frames outermost first.
function recPath(i) {
  const fr = stackFrames(P.stack[i]).reverse().map((f) => f.func);
  if (!fr.length) fr.push('(no stack)');
  return profBySite ? [I.siteName.get(T.site[P.task[i]]) || I.siteOf(P.task[i]) || '(unknown site)'].concat(fr) : fr;
}
function buildTree(kind) {
  const root = { name: 'all', time: 0, self: 0, kids: new Map(), path: [] };
  for (let i = 0; i < P.kind.length; i++) {
    if (P.kind[i] !== kind) continue;
    let n = root; n.time += P.time[i];
    for (const name of recPath(i)) {
      let c = n.kids.get(name);
      if (!c) n.kids.set(name, c = { name, time: 0, self: 0, kids: new Map(), path: n.path.concat([name]) });
      c.time += P.time[i]; n = c;
    }
    n.self += P.time[i];
  }
  return root;
}
function renderProfiles() {
  const { t, c } = kindTotals();
  if (profKind === null) { profKind = 3; for (const k of [1, 0, 2, 3]) if (t[k] > 0) { profKind = k; break; } }
  const bar = $('prof-kinds');
  bar.innerHTML = KINDS.map(([id, name, why], k) => '<button class="kind-btn' + (k === profKind ? ' active' : '') + '" data-k="' + k + '" title="' + esc(why) + '">' + esc(name) + ' <b>' + fmt(t[k]) + '</b></button>').join('') +
    '<label><input type="checkbox" id="prof-site"' + (profBySite ? ' checked' : '') + '> by spawn site first</label>' +
    '<span class="hint">as <span class="mono">go tool trace -pprof=' + KINDS[profKind][0] + '</span>; <span class="mono">spool-trace pprof --kind ' + KINDS[profKind][0] + ' FILE -o out.pb.gz</span> writes it</span>';
  bar.onclick = (e) => { const b = e.target.closest('.kind-btn'); if (b) { profKind = +b.dataset.k; profSel = null; renderProfiles(); } };
  $('prof-site').onchange = (e) => { profBySite = e.target.checked; profSel = null; renderProfiles(); };
  const flame = $('flame'), table = $('prof-table');
  if (!t[profKind]) {
    flame.innerHTML = '<p class="explain empty-view">No ' + esc(KINDS[profKind][1]) + ' time in this trace: ' + esc(KINDS[profKind][2]) + ' adds up to zero' + (profKind === 0 ? ' (no task blocked with reason "network")' : '') + '.</p>';
    table.innerHTML = ''; return;
  }
  const root = buildTree(profKind);
  // Icicle: root on top, children below, widths proportional to time; nodes under 0.2 % are left out.
  const rows = [], min = root.time * 0.002;
  (function lay(n, x, depth) {
    if (n.time < min) return;
    rows.push({ n, x, depth });
    let cx = x;
    for (const c of [...n.kids.values()].sort((a, b) => b.time - a.time)) { lay(c, cx, depth + 1); cx += c.time; }
  })(root, 0, 0);
  const sel = profSel ? profSel.join('\u0000') : '';
  flame.innerHTML = '<div class="icicle" style="height:' + ((Math.max(...rows.map((r) => r.depth)) + 1) * 20) + 'px">' + rows.map((r, i) => {
    const l = (100 * r.x / root.time).toFixed(4), w = (100 * r.n.time / root.time).toFixed(4), on = sel && r.n.path.join('\u0000') === sel;
    return '<div class="fn-node' + (on ? ' sel' : '') + '" data-i="' + i + '" style="left:' + l + '%;width:' + w + '%;top:' + (r.depth * 20) + 'px;background:hsl(' + (20 + (hash(r.n.name) % 40)) + ',80%,' + (62 + r.depth % 3 * 5) + '%)" title="' + esc(r.n.name + ' · ' + fmt(r.n.time) + ' (' + (100 * r.n.time / root.time).toFixed(1) + '%)') + '"><span>' + esc(r.n.name) + '</span></div>';
  }).join('') + '</div>';
  flame.onclick = (e) => { const d = e.target.closest('.fn-node'); if (!d) return; const n = rows[+d.dataset.i].n; profSel = n.path.length ? n.path : null; renderProfiles(); };
  // Table: the selected node's tasks, or the top functions by total time.
  if (profSel) {
    const tasks = new Map(), key = profSel.join('\u0000');
    for (let i = 0; i < P.kind.length; i++) {
      if (P.kind[i] !== profKind) continue;
      const p = recPath(i); if (p.slice(0, profSel.length).join('\u0000') !== key) continue;
      const a = tasks.get(P.task[i]) || [0, 0]; a[0] += P.time[i]; a[1] += P.count[i]; tasks.set(P.task[i], a);
    }
    const list = [...tasks].sort((a, b) => b[1][0] - a[1][0]);
    table.innerHTML = '<div class="pt">' + esc(profSel[profSel.length - 1]) + ': ' + list.length + ' task(s) · ' + link('clear', 'prof:clear') + '</div><table class="grid"><thead><tr><th class="l">task</th><th>samples</th><th>time</th></tr></thead><tbody>' +
      list.slice(0, 300).map(([task, [tm, n]]) => '<tr class="task-row"><td class="l">' + link(taskLabel(task), 'jump:' + task + ':' + I.firstRun(task)) + '</td><td>' + n + '</td><td>' + fmt(tm) + '</td></tr>').join('') + '</tbody></table>';
  } else {
    const fns = new Map();
    (function walk(n) { if (n.path.length) { const a = fns.get(n.name) || { total: 0, self: 0, path: n.path }; a.self += n.self; a.total += n.time; fns.set(n.name, a); } for (const c of n.kids.values()) walk(c); })(root);
    const list = [...fns].sort((a, b) => b[1].total - a[1].total).slice(0, 200);
    table.innerHTML = '<div class="pt">total ' + fmt(root.time) + ' in ' + c[profKind] + ' sample(s); click a bar or a row for its tasks</div><table class="grid"><thead><tr><th class="l">function' + (profBySite ? ' / spawn site' : '') + '</th><th>self</th><th>total</th></tr></thead><tbody>' +
      list.map(([name, a], i) => '<tr class="fn-row" data-i="' + i + '"><td class="l mono">' + esc(name) + '</td><td>' + fmt(a.self) + '</td><td>' + fmt(a.total) + '</td></tr>').join('') + '</tbody></table>';
    table.onclick = (e) => { const a = e.target.closest('[data-act]'); if (a) { tableAct(a.dataset.act); return; } const r = e.target.closest('.fn-row'); if (r) { profSel = list[+r.dataset.i][1].path; renderProfiles(); } };
    return;
  }
  table.onclick = (e) => { const a = e.target.closest('[data-act]'); if (a) tableAct(a.dataset.act); };
}
function tableAct(a) { if (a === 'prof:clear') { profSel = null; renderProfiles(); } else act(a); }
function hash(s) { let h = 7; for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0; return h; }

// ---------- utilization and MMU ----------
function renderUtil() {
  const U = D.util, box = $('util');
  if (!U.procs || !U.series.length) { box.innerHTML = '<p class="explain empty-view">No P ran a task in this trace: there is no utilization to show.</p>'; return; }
  const avg = U.series.reduce((a, b) => a + b, 0) / U.series.length / 1000;
  box.innerHTML = '<div class="card wide"><h4>P utilization over time <span class="kind">' + U.procs + ' Ps · mean ' + (100 * avg).toFixed(1) + '%</span></h4><canvas id="util-cv" height="180"></canvas>' +
    '<div class="hist-axis"><span>0</span><span>fraction of Ps running a task (STW red, GC grey below); click to open the timeline there</span><span>' + fmt(D.meta.duration) + '</span></div></div>' +
    '<div class="card wide"><h4>Minimum mutator utilization <span class="kind">worst fraction of P-time running tasks, per window width</span></h4><canvas id="mmu-cv" height="220"></canvas>' +
    '<div class="hist-axis"><span>' + fmt(U.window[0]) + '</span><span>window (log scale); click a point to see its worst window</span><span>' + fmt(U.window[U.window.length - 1]) + '</span></div><div id="mmu-info" class="nums"></div></div>';
  const cv = $('util-cv'), c = cv.getContext('2d'), w = cv.width = cv.clientWidth || 900, h = 180;
  const n = U.series.length, bw = w / n;
  c.fillStyle = '#f3f5f9'; c.fillRect(0, 0, w, h);
  c.fillStyle = 'rgba(58,163,91,.75)';
  for (let i = 0; i < n; i++) { const v = U.series[i] / 1000, y = (h - 16) * (1 - v); c.fillRect(i * bw, y, Math.max(1, bw), h - 16 - y); }
  const dur = Math.max(1, D.meta.duration);
  for (const [R, col] of [[D.gc, '#8a8f99'], [D.stw, '#d9473f']]) { c.fillStyle = col; for (let i = 0; i < R.start.length; i++) c.fillRect(R.start[i] / dur * w, h - 12, Math.max(1, R.dur[i] / dur * w), 10); }
  cv.onclick = (e) => { const t = e.offsetX / w * dur; ST.showView('timeline'); ST.centerOn(t, U.step); };
  const mv = $('mmu-cv'), m = mv.getContext('2d'), mw = mv.width = mv.clientWidth || 900, mh = 220;
  const lx = (x) => Math.log(x), x0 = lx(Math.max(1, U.window[0])), x1 = lx(Math.max(2, U.window[U.window.length - 1]));
  const px = (i) => 30 + (mw - 40) * (x1 > x0 ? (lx(Math.max(1, U.window[i])) - x0) / (x1 - x0) : 0), py = (v) => 10 + (mh - 30) * (1 - v / 1000);
  m.strokeStyle = '#e3e6ee'; m.fillStyle = '#6b7383'; m.font = '11px system-ui, sans-serif';
  for (const v of [0, 250, 500, 750, 1000]) { m.beginPath(); m.moveTo(30, py(v)); m.lineTo(mw - 10, py(v)); m.stroke(); m.fillText((v / 10) + '%', 0, py(v) + 4); }
  m.strokeStyle = '#2f6fde'; m.lineWidth = 2; m.beginPath();
  U.mmu.forEach((v, i) => { if (i) m.lineTo(px(i), py(v)); else m.moveTo(px(i), py(v)); }); m.stroke();
  m.fillStyle = '#2f6fde'; U.mmu.forEach((v, i) => { m.beginPath(); m.arc(px(i), py(v), 3, 0, 7); m.fill(); });
  const near = (x) => { let b = 0; for (let i = 1; i < U.mmu.length; i++) if (Math.abs(px(i) - x) < Math.abs(px(b) - x)) b = i; return b; };
  const info = (i) => 'window ' + fmt(U.window[i]) + ': at worst ' + (U.mmu[i] / 10).toFixed(1) + '% of P-time ran tasks, from ' + fmt(U.at[i]);
  mv.onmousemove = (e) => { $('mmu-info').textContent = info(near(e.offsetX)); };
  mv.onclick = (e) => { const i = near(e.offsetX); ST.showView('timeline'); I.setView(U.at[i] - U.window[i] * 0.25, U.at[i] + U.window[i] * 1.25); };
  $('mmu-info').textContent = info(U.mmu.length - 1);
}

// ---------- logs ----------
let logCat = 'problems';
function renderLogs() {
  const L = D.logs, box = $('logs'), n = L.time.length;
  if (!n) { box.innerHTML = '<p class="explain empty-view">This trace has no log events (runtime/trace Log, spool::trace::log, or spool\'s spool.long_poll / spool.panic / deadlock reports).</p>'; return; }
  const cats = new Map(); for (let i = 0; i < n; i++) cats.set(S[L.key[i]], (cats.get(S[L.key[i]]) || 0) + 1);
  const opts = [['problems', 'problems (long polls, panics, deadlocks, lost)', I.MARKS.length], ['all', 'all', n]].concat([...cats].sort((a, b) => b[1] - a[1]).map(([k, c]) => [k, k || '(no category)', c]));
  const pick = (i) => logCat === 'all' || (logCat === 'problems' ? !!I.markColor(S[L.key[i]]) : S[L.key[i]] === logCat);
  const rows = []; for (let i = 0; i < n && rows.length < 2000; i++) if (pick(i)) rows.push(i);
  box.innerHTML = '<div class="toolbar"><label>category <select id="log-cat">' + opts.map(([k, name, c]) => '<option value="' + esc(k) + '"' + (k === logCat ? ' selected' : '') + '>' + esc(name) + ' (' + c + ')</option>').join('') + '</select></label></div>' +
    (rows.length ? '<table class="grid"><thead><tr><th>time</th><th class="l">task</th><th class="l">category</th><th class="l">message</th></tr></thead><tbody>' +
      rows.map((i) => { const col = I.markColor(S[L.key[i]]); return '<tr class="log-row' + (col ? ' hot' : '') + '"><td>' + link(fmt(L.time[i]), itemAct(L.task[i], L.time[i])) + '</td><td class="l">' + (L.task[i] >= 0 ? esc(taskLabel(L.task[i])) : '') + '</td><td class="l"' + (col ? ' style="color:' + col + '"' : '') + '>' + esc(S[L.key[i]]) + '</td><td class="l mono">' + esc(S[L.value[i]]) + '</td></tr>'; }).join('') + '</tbody></table>'
      : '<p class="explain empty-view">No log events in this category' + (logCat === 'problems' ? ': no long polls, panics or deadlock reports in this trace' : '') + '.</p>');
  $('log-cat').onchange = (e) => { logCat = e.target.value; renderLogs(); };
  box.onclick = (e) => { const a = e.target.closest('[data-act]'); if (a) act(a.dataset.act); };
}

// ---------- wake graph (detail panel) ----------
const SYNC = /chan|sync|select|semacquire|Mutex|WaitGroup|Cond/;
// The wake that enabled task t's run at time x, or -1.
function wakeOf(t, x) { const r = I.runAt(t, x); return r ? D.procs[r.p].wake[r.i] : -1; }
function wakeGraph(t, start, end, wake) {
  const hops = [];
  let w = wake, seen = new Set([t]);
  while (w >= 0 && hops.length < 4) {
    const f = W.from[w]; hops.push(w);
    if (f < 0 || seen.has(f)) break; seen.add(f);
    w = wakeOf(f, W.time[w]);
  }
  let html = '<div class="sect">Wake graph</div><div class="wake-graph">';
  if (!hops.length) html += '<div class="muted">No recorded waker for this run.</div>';
  for (let k = hops.length - 1; k >= 0; k--) {
    const h = hops[k];
    html += '<div class="wg-node">' + (W.from[h] >= 0 ? taskLink(W.from[h], W.time[h]) : 'a thread outside any task') + '</div><div class="wg-edge">' + (W.spawn[h] ? 'spawned' : 'woke') + ' at ' + fmt(W.time[h]) + ' ↓</div>';
  }
  html += '<div class="wg-node wg-self">' + esc(taskLabel(t)) + '</div>';
  // Forward: whom this run woke, and whom those woke in their next run.
  const woke = I.wokeDuring(t, start, end).slice(0, 6);
  if (woke.length) {
    html += '<div class="wg-edge">woke ↓</div><ul class="wg-fwd">';
    for (const w1 of woke) {
      const t1 = W.to[w1], r = I.runAt(t1, W.time[w1] + 1);
      let sub = '';
      if (r) {
        const P0 = D.procs[r.p], s1 = P0.start[r.i], e1 = s1 + P0.dur[r.i];
        const w2 = I.wokeDuring(t1, s1, e1).slice(0, 4);
        if (w2.length) sub = '<ul>' + w2.map((x) => '<li>→ ' + taskLink(W.to[x], W.time[x] + 1) + '</li>').join('') + '</ul>';
      }
      html += '<li>' + taskLink(t1, W.time[w1] + 1) + ' at ' + fmt(W.time[w1]) + sub + '</li>';
    }
    html += '</ul>';
  }
  html += '</div>';
  // The waker's stack, for a channel / mutex / select wait.
  if (wake >= 0 && !W.spawn[wake]) {
    const ts = I.taskStates(t); let reason = '';
    for (let i = ts.start.length - 1; i >= 0; i--) if (ts.start[i] < start && ts.state[i] === 2) { reason = S[ts.reason[i]] || ''; break; }
    if (SYNC.test(reason)) {
      const fr = stackFrames(W.stack[wake]);
      html += '<div class="sect">Waker\'s stack (' + esc(reason) + ')</div>' + (fr.length ? '<ol class="stack">' + fr.map((f) => '<li><span class="mono">' + esc(f.func) + '</span> <span class="loc">' + esc(f.loc) + '</span></li>').join('') + '</ol>' : '<div class="muted">The wake carries no stack.</div>');
    }
  }
  return html;
}

// ---------- wiring ----------
window.spoolViews = { profiles: renderProfiles, util: renderUtil, logs: renderLogs, wakeGraph };
renderProblems();
{
  const m = D.meta, span = $('window');
  if (span) span.innerHTML = 'covers <b>' + (m.wallT0 != null ? esc(new Date(m.wallT0).toISOString().replace('T', ' ').replace('Z', ' UTC')) + ' + ' : '') + fmt(m.duration) + '</b>';
}
const h = new URLSearchParams(location.hash.slice(1)).get('view');
if (h && window.spoolViews[h]) ST.showView(h);
document.body.dataset.ready = '1';
};
if (window.spoolTrace) window.spoolViewsInit();
