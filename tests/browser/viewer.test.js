// Browser test of spool-trace's web UI: headless Debian Chromium driven by
// playwright-core (no browser download). Loads the served page and the HTML
// export of a demo trace, checks that the timeline drew the expected tasks,
// that clicking a span opens the detail panel with "woken by", that search
// finds a task, and that a truncated trace shows the "could not be read"
// banner. A route guard fails the test on any request that is not loopback
// or file://. Screenshots go to target/browser/.
//
//   SPOOL_TRACE_BIN=path/to/spool-trace node viewer.test.js [TRACE...]
//
// Default traces: the Go-written fixture and, if present, target/browser/demo.trace
// (spool's own `cargo run --release --example trace_demo -- target/browser/demo.trace`).
// Each must have exactly four "worker" tasks (both demos do).
'use strict';
const { chromium } = require('playwright-core');
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const assert = require('assert');

const root = path.resolve(__dirname, '..', '..');
const outDir = path.join(root, 'target', 'browser');
const traces = process.argv.length > 2 ? process.argv.slice(2) : [path.join(root, 'tracer', 'tests', 'data', 'go126.trace'), path.join(root, 'target', 'browser', 'demo.trace')].filter((f) => fs.existsSync(f));
const bin = process.env.SPOOL_TRACE_BIN || path.join(root, 'target', 'release', 'spool-trace');

function log(...a) { console.log('[browser-test]', ...a); }

function ensureBinary() {
  if (process.env.SPOOL_TRACE_BIN) return;
  log('building', bin);
  execFileSync('cargo', ['build', '--release', '-p', 'spool-trace', '--bin', 'spool-trace'], { cwd: root, stdio: 'inherit' });
}

function serve(file) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, ['serve', file, '--addr', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    const timer = setTimeout(() => { p.kill(); reject(new Error('server did not print its URL')); }, 60000);
    p.stdout.on('data', (d) => {
      buf += d;
      const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(buf);
      if (m) { clearTimeout(timer); resolve({ url: m[1], proc: p }); }
    });
    p.on('exit', (code) => { clearTimeout(timer); reject(new Error('server exited with ' + code)); });
  });
}

const violations = [];
async function guard(context) {
  await context.route('**/*', (route) => {
    const u = route.request().url();
    let ok = u.startsWith('file://') || u.startsWith('data:') || u.startsWith('about:');
    if (!ok) { try { const h = new URL(u).hostname; ok = h === '127.0.0.1' || h === 'localhost' || h === '[::1]'; } catch (_) { ok = false; } }
    if (!ok) { violations.push(u); return route.abort(); }
    return route.continue();
  });
}

async function checkPage(page, label, url) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const t0 = Date.now();
  await page.goto(url);
  // A selector, not waitForFunction: the served page's data arrives after
  // load, and polling a function needs eval, which the page's CSP forbids.
  await page.waitForSelector('body[data-ready="1"]', { state: 'attached', timeout: 30000 });
  log(label, 'ready in', Date.now() - t0, 'ms');
  const D = await page.evaluate(() => ({ tasks: spoolTrace.data.tasks.id.length, procs: spoolTrace.data.procs.length, sites: Array.from(spoolTrace.data.tasks.site, (s) => spoolTrace.data.strings[s]), ids: Array.from(spoolTrace.data.tasks.id) }));
  assert(D.tasks > 5 && D.procs >= 1, 'trace has tasks and Ps');

  // 1. The timeline drew the expected tasks: at "fit" zoom every task with a
  // run at least 2 px wide is drawn (narrower runs merge into per-pixel marks),
  // and every worker task is drawn once its first run is brought into view.
  const wide = await page.evaluate(() => {
    const D = spoolTrace.data, st = spoolTrace.state(), pxNs = (st.v1 - st.v0) / (document.getElementById('tl').clientWidth - 118), s = new Set();
    for (const p of D.procs) for (let i = 0; i < p.task.length; i++) if (p.dur[i] >= 2 * pxNs) s.add(D.tasks.id[p.task[i]]);
    return [...s];
  });
  const drawn = new Set(await page.evaluate(() => spoolTrace.drawnTaskIds()));
  assert(wide.length > 0, 'some runs are wide enough to see');
  for (const id of wide) assert(drawn.has(id), label + ': task G' + id + ' not drawn');
  await page.screenshot({ path: path.join(outDir, label + '-timeline.png') });
  const workers = D.ids.filter((id, i) => /worker/.test(D.sites[i]));
  assert.strictEqual(workers.length, 4, label + ': four worker tasks');
  for (const id of workers) {
    const seen = await page.evaluate((id) => { const t = spoolTrace.taskById.get(id); spoolTrace.jumpTo(t, 0); return spoolTrace.drawnTaskIds(); }, id);
    assert(seen.includes(id), label + ': worker G' + id + ' drawn after jumping to it');
  }
  await page.evaluate(() => document.getElementById('zoom-reset').click());

  // 2. Click a span that was woken by another task: the detail panel says who.
  const target = await page.evaluate(() => {
    const D = spoolTrace.data;
    for (let p = 0; p < D.procs.length; p++) {
      const P = D.procs[p];
      for (let i = 0; i < P.start.length; i++) {
        const w = P.wake[i];
        if (w >= 0 && !D.wakes.spawn[w] && D.wakes.from[w] >= 0 && P.dur[i] > 0) return { p, i, task: D.tasks.id[P.task[i]], from: D.tasks.id[D.wakes.from[w]] };
      }
    }
    return null;
  });
  assert(target, 'a run woken by another task exists');
  await page.evaluate((t) => { const P = spoolTrace.data.procs[t.p]; spoolTrace.centerOn(P.start[t.i] + P.dur[t.i] / 2, P.dur[t.i]); }, target);
  const rect = await page.evaluate((t) => spoolTrace.spanRect(t.p, t.i), target);
  const box = await page.locator('#tl').boundingBox();
  await page.mouse.click(box.x + (rect.x0 + rect.x1) / 2, box.y + rect.y + rect.h / 2);
  await page.waitForSelector('#detail-title');
  const detail = await page.textContent('#detail');
  assert(detail.includes('G' + target.task), label + ': detail names the task: ' + detail);
  assert(/woken by G\d+/i.test(detail), label + ': detail says "woken by": ' + detail);
  assert(detail.toLowerCase().includes('woken by g' + target.from), label + ': waker is G' + target.from);
  // The wake graph names the waker and the task itself.
  const graph = await page.$$eval('#detail .wake-graph .wg-node', (ns) => ns.map((n) => n.textContent));
  assert(graph.length >= 2 && graph.some((t) => t.includes('G' + target.from)), label + ': wake graph: ' + graph);
  await page.screenshot({ path: path.join(outDir, label + '-detail.png') });
  // The "woken by" link jumps to the waker.
  await page.click('#woken-by .link');
  await page.waitForFunction((id) => document.querySelector('#detail-title') && document.querySelector('#detail-title').textContent === 'G' + id, target.from);

  // 3. Search finds a task by spawn site and by id; Enter jumps to it.
  await page.fill('#search', 'worker');
  await page.waitForSelector('#search-results .res');
  const res = await page.textContent('#search-results');
  assert(/worker/.test(res), label + ': search lists the worker site: ' + res);
  await page.fill('#search', 'G' + workers[0]);
  await page.waitForFunction((id) => document.querySelector('#search-results').textContent.includes('G' + id), workers[0]);
  await page.press('#search', 'Enter');
  await page.waitForFunction((id) => document.querySelector('#detail-title') && document.querySelector('#detail-title').textContent === 'G' + id, workers[0]);
  assert(/#view=timeline.*task=/.test(await page.evaluate(() => new Promise((r) => setTimeout(() => r(location.hash), 300)))), 'deep link in URL hash');
  await page.screenshot({ path: path.join(outDir, label + '-search.png') });

  // 4. Task analysis and user annotation pages render.
  await page.click('button[data-view="tasks"]');
  await page.waitForSelector('#sites tr.group');
  await page.click('#sites tr.group');
  await page.waitForSelector('#sites tr.sub');
  await page.screenshot({ path: path.join(outDir, label + '-tasks.png') });
  await page.click('button[data-view="user"]');
  await page.waitForSelector('#user .card, #user .explain');
  await page.screenshot({ path: path.join(outDir, label + '-user.png') });

  // 5. Readable names: no raw pseudo-P or pseudo-task IDs, no bare closure names.
  const names = await page.evaluate(() => {
    const D = spoolTrace.data, S = D.strings;
    return { procs: D.procs.map((p) => S[p.name]), sites: Array.from(D.siteNames.name, (n) => S[n]), rt: D.meta.runtimeTask };
  });
  for (const n of names.procs) assert(/^(P\d+|runtime \(no P\)|thread \d+ \(no P\))$/.test(n), label + ': P name ' + n);
  for (const n of names.sites) assert(!/\{\{closure\}\}/.test(n) && !/^\{/.test(n), label + ': site name ' + n);
  const rows = await page.evaluate(() => spoolTrace.data.procs.length);
  assert(rows >= 1);

  // 6. Problems box: toggles its list; an entry links into the timeline.
  await page.waitForSelector('#problems .ph');
  await page.click('#problems-toggle');
  await page.waitForSelector('#problems-list:not([hidden]) .link');
  await page.click('#problems-list .link');
  await page.waitForFunction(() => spoolTrace.state().view === 'timeline');
  await page.click('#problems-toggle');

  // 7. Profiles: an icicle with a table beside it; a bar lists its tasks, a task opens the timeline.
  await page.click('button[data-view="profiles"]');
  await page.click('.kind-btn[data-k="0"]');
  const net = await page.textContent('#flame');
  const netTotal = await page.evaluate(() => { let t = 0; const P = spoolTrace.data.profile; for (let i = 0; i < P.kind.length; i++) if (P.kind[i] === 0) t += P.time[i]; return t; });
  if (!netTotal) assert(/No network time in this trace/.test(net), label + ': empty net profile says so: ' + net);
  await page.click('.kind-btn[data-k="3"]');
  await page.waitForSelector('#flame .fn-node');
  const nodes = await page.$$('#flame .fn-node');
  assert(nodes.length >= 2, label + ': sched flame graph has nodes');
  await page.screenshot({ path: path.join(outDir, label + '-profiles.png') });
  await nodes[1].click();
  await page.waitForSelector('#prof-table .task-row .link');
  await page.click('#prof-table .task-row .link');
  await page.waitForFunction(() => spoolTrace.state().view === 'timeline' && document.querySelector('#detail-title'));
  await page.click('button[data-view="profiles"]');
  await page.click('#prof-site');
  await page.waitForSelector('#flame .fn-node');

  // 8. Utilization and MMU: drawn; clicking the MMU curve opens its worst window.
  await page.click('button[data-view="util"]');
  await page.waitForSelector('#mmu-cv');
  await page.screenshot({ path: path.join(outDir, label + '-util.png') });
  const mmu = await page.locator('#mmu-cv').boundingBox();
  await page.mouse.click(mmu.x + mmu.width / 2, mmu.y + mmu.height / 2);
  await page.waitForFunction(() => spoolTrace.state().view === 'timeline');

  // 9. Logs: every log listed under "all"; a time link opens the timeline.
  await page.click('button[data-view="logs"]');
  await page.waitForSelector('#log-cat');
  await page.selectOption('#log-cat', 'all');
  await page.waitForSelector('#logs .log-row');
  await page.screenshot({ path: path.join(outDir, label + '-logs.png') });
  await page.click('#logs .log-row .link');
  await page.waitForFunction(() => spoolTrace.state().view === 'timeline');
  assert.deepStrictEqual(errors, [], label + ': page errors');
}

(async () => {
  ensureBinary();
  fs.mkdirSync(outDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spool-trace-browser-'));
  const trace = traces[0];
  const htmls = traces.map((t, i) => {
    const h = path.join(tmp, 'export' + i + '.html');
    execFileSync(bin, ['html', t, '-o', h], { stdio: 'inherit' });
    return h;
  });
  // A truncated copy for the banner check: the last trace given (the spool
  // demo has two generations, so its first one survives a cut at 90%).
  const bytes = fs.readFileSync(traces[traces.length - 1]);
  const cut = path.join(tmp, 'truncated.trace');
  fs.writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.9)));
  const cutHtml = path.join(tmp, 'truncated.html');
  execFileSync(bin, ['html', cut, '-o', cutHtml], { stdio: 'inherit' });

  const server = await serve(trace);
  const context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'],
  });
  let failed = false;
  try {
    await guard(context);
    const page = await context.newPage();
    await checkPage(page, 'served', server.url);
    for (let i = 0; i < htmls.length; i++) {
      const page2 = await context.newPage();
      await checkPage(page2, i === 0 ? 'export' : 'spool-demo', 'file://' + htmls[i]);
    }
    const page3 = await context.newPage();
    await page3.goto('file://' + cutHtml);
    await page3.waitForFunction(() => document.body.dataset.ready === '1');
    const banner = await page3.textContent('#banner');
    assert(/\d+(\.\d+)?% of the file could not be read/.test(banner), 'truncation banner: ' + banner);
    await page3.screenshot({ path: path.join(outDir, 'truncated.png') });
    assert.deepStrictEqual(violations, [], 'non-loopback requests');
    log('ok: served page and ' + htmls.length + ' HTML export(s) pass (' + traces.map((t) => path.basename(t)).join(', ') + '); screenshots in', outDir);
  } catch (e) {
    failed = true;
    console.error('[browser-test] FAILED:', e && e.stack || e);
  } finally {
    await context.close();
    server.proc.kill();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
})().catch((e) => { console.error('[browser-test] FAILED:', e); process.exit(1); });
