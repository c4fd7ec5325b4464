// Measures how long the spool-trace HTML export of a big trace takes to reach
// first paint of the timeline in headless Chromium (not part of CI).
//
//   node perf.js path/to/export.html
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');

(async () => {
  const file = path.resolve(process.argv[2]);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'spool-trace-perf-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1400, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'],
  });
  const page = await context.newPage();
  const t0 = Date.now();
  await page.goto('file://' + file, { waitUntil: 'commit' });
  await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: 120000, polling: 50 });
  const ready = Date.now() - t0;
  // Time for one full redraw at "fit" zoom and at a mid zoom.
  const redraw = await page.evaluate(() => {
    const t = performance.now(); for (let i = 0; i < 5; i++) document.getElementById('zoom-reset').click(); return (performance.now() - t) / 5;
  });
  const paint = await page.evaluate(() => performance.getEntriesByType('paint').map((e) => e.name + '=' + Math.round(e.startTime) + 'ms').join(' '));
  const heap = await page.evaluate(() => (performance.memory ? Math.round(performance.memory.usedJSHeapSize / 1048576) + ' MiB JS heap' : ''));
  console.log(JSON.stringify({ file: path.basename(file), bytes: fs.statSync(file).size, readyMs: ready, redrawMs: Math.round(redraw * 10) / 10, paint, heap }));
  await page.screenshot({ path: path.join(__dirname, '..', '..', 'target', 'browser', 'big-timeline.png') });
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
})().catch((e) => { console.error(e); process.exit(1); });
