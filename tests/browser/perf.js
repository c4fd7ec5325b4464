// Measures how long a big trace takes to reach the first paint of the timeline
// in headless Chromium, and how long a pan redraw takes at several zooms
// (not part of CI).
//
//   node perf.js path/to/export.html          # the `html` export, from file://
//   SPOOL_TRACE_BIN=target/release/spool-trace node perf.js path/to/trace.out
//                                             # `spool-trace serve`, over HTTP
//
// For a served trace it prints the server's start-up (decode, analysis and
// page build, until it prints its URL) and, for the page: the navigation to
// data-painted (first paint of the timeline) and to data-ready (everything
// loaded), the page's own fetches of data0.bin and data1.bin, the index
// build plus first draw, and when (since navigation start) the page painted
// and finished loading; then the median of 20 pan redraws (performance.now
// around the draw) at each zoom, without and with the task rows.
'use strict';
const { chromium } = require('playwright-core');
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

function serve(bin, file) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const p = spawn(bin, ['serve', file, '--addr', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    p.stdout.on('data', (d) => {
      buf += d;
      const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(buf);
      if (m) resolve({ url: m[1], proc: p, startupMs: Date.now() - t0 });
    });
    p.on('exit', (code) => reject(new Error('server exited with ' + code)));
  });
}

let server = null;
(async () => {
  const file = path.resolve(process.argv[2]);
  const html = file.endsWith('.html');
  let url = 'file://' + file;
  if (!html) {
    const bin = process.env.SPOOL_TRACE_BIN || path.join(__dirname, '..', '..', 'target', 'release', 'spool-trace');
    server = await serve(bin, file);
    url = server.url;
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'spool-trace-perf-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1400, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'],
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', String(e)));
  page.on('crash', () => console.error('page crashed'));
  page.on('console', (m) => console.error('console:', m.text()));
  const t0 = Date.now();
  await page.goto(url, { waitUntil: 'commit' });
  await page.waitForSelector('body[data-painted="1"], body[data-ready="1"]', { state: 'attached', timeout: 300000 });
  const painted = Date.now() - t0;
  await page.waitForSelector('body[data-ready="1"]', { state: 'attached', timeout: 300000 });
  const ready = Date.now() - t0;
  const parts = await page.evaluate(() => {
    const bins = performance.getEntriesByType('resource').filter((e) => /data\d\.bin$/.test(e.name));
    const nav = performance.getEntriesByType('navigation')[0];
    return {
      pageLoadedMs: nav ? Math.round(nav.responseEnd) : null,
      fetch: bins.map((r) => ({ name: r.name.replace(/.*\//, ''), startMs: Math.round(r.startTime), ms: Math.round(r.responseEnd - r.startTime), bytes: r.decodedBodySize })),
      indexAndDrawMs: Math.round(spoolTrace.startMs || 0),
      paintAtMs: Math.round(spoolTrace.paintAt || 0),
      loadedAtMs: Math.round(spoolTrace.loadedAt || 0),
    };
  });
  // Redraw while panning: at each zoom (visible fraction of the trace), the
  // view moves by 5 % per step; the median of 20 draws.
  const redraw = () => page.evaluate(() => {
    const I = spoolTrace.internals, dur = spoolTrace.data.meta.duration, out = {};
    for (const f of [1, 0.1, 0.01, 0.001, 1e-4, 1e-5]) {
      const w = dur * f, ts = [];
      let a = dur * 0.3 - w / 2;
      for (let k = 0; k < 21; k++) {
        const t = performance.now(); I.setView(a, a + w); const d = performance.now() - t;
        if (k) ts.push(d); // the first draw at a zoom warms caches
        a += w * 0.05;
      }
      ts.sort((x, y) => x - y);
      out[f] = Math.round(ts[ts.length >> 1] * 10) / 10;
    }
    return out;
  });
  const redrawP = await redraw();
  // The same with the task rows on (as many as fit: about 40 at 800 px).
  await page.evaluate(() => { const c = document.getElementById('task-rows'); if (!c.checked) c.click(); });
  const redrawT = await redraw();
  const heap = await page.evaluate(() => (performance.memory ? Math.round(performance.memory.usedJSHeapSize / 1048576) + ' MiB JS heap' : ''));
  const info = { file: path.basename(file), bytes: fs.statSync(file).size, serverStartupMs: server ? server.startupMs : null, paintedMs: painted, readyMs: ready, ...parts, redrawMsByVisibleFraction: redrawP, withTaskRows: redrawT, heap };
  console.log(JSON.stringify(info));
  fs.mkdirSync(path.join(__dirname, '..', '..', 'target', 'browser'), { recursive: true });
  await page.evaluate(() => document.getElementById('zoom-reset').click());
  await page.screenshot({ path: path.join(__dirname, '..', '..', 'target', 'browser', 'big-timeline.png') });
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
  if (server) server.proc.kill();
})().catch((e) => { console.error(e); if (server) server.proc.kill(); process.exit(1); });
