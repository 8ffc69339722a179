// The console's figures in Debian's chromium (bench/console/run sets the scene): the
// 10,000-node execution's page until its graph shows every node SUCCEEDED, frames while
// panning it (whole graph in view; zoomed in, labels drawn), and the executions list of
// a project holding 100,000 executions (API answers and the page). JSON to $OUT.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';

const require = createRequire(`${process.env.NPM_HOME}/`);
const { chromium } = require('playwright-core');
const base = process.env.FLOE_API_URL.replace(/\/?$/, '/');
const token = readFileSync(process.env.FLOE_TOKEN_FILE, 'utf8').trim();
const big = process.env.BIG;
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * p))]; };

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
page.setDefaultTimeout(60000);
await page.goto(base);
await page.evaluate((t) => { sessionStorage.setItem('floe.token', t); localStorage.setItem('floe.project', 'bench-console'); }, token);

async function openBig() {
  await page.goto('about:blank');
  await page.goto(`${base}#/executions/${big}`);
  return page.evaluate(() => new Promise((resolve) => {
    const check = () => {
      const c = document.querySelector('canvas.graph[data-state=ready]');
      const p = c && JSON.parse(c.dataset.phases || '{}');
      if (p && p.SUCCEEDED === 10000) {
        requestAnimationFrame(() => resolve(performance.now()));
      } else requestAnimationFrame(check);
    };
    check();
  }));
}

// Frames while the pointer drags the graph for `steps` moves.
async function pan(steps) {
  const box = await page.locator('canvas.graph').boundingBox();
  await page.evaluate(() => {
    window.__frames = [];
    let last = performance.now();
    const tick = (t) => { window.__frames.push(t - last); last = t; if (window.__frames) window.__raf = requestAnimationFrame(tick); };
    window.__raf = requestAnimationFrame(tick);
  });
  const cx = box.x + box.width / 2, cy = box.y + box.height / 2;
  await page.mouse.move(cx, cy);
  await page.mouse.down();
  for (let i = 0; i < steps; i++) {
    const a = (i / steps) * Math.PI * 4;
    await page.mouse.move(cx + Math.cos(a) * 200, cy + Math.sin(a) * 150);
    await page.waitForTimeout(8);
  }
  await page.mouse.up();
  const frames = await page.evaluate(() => { cancelAnimationFrame(window.__raf); const f = window.__frames.slice(1); window.__frames = null; return f; });
  const total = frames.reduce((a, b) => a + b, 0);
  return { frames: frames.length, seconds: +(total / 1000).toFixed(2), fps: +((frames.length * 1000) / total).toFixed(1),
    frame_ms_p50: +median(frames).toFixed(1), frame_ms_p95: +pct(frames, 0.95).toFixed(1), frame_ms_max: +Math.max(...frames).toFixed(1),
    dropped: frames.filter((f) => f > 25).length };
}

const result = { graph_nodes: 10000, graph_edges: 19800, open_ms: [], pan_fit: null, pan_zoomed: null, list: {} };
for (let i = 0; i < 3; i++) result.open_ms.push(Math.round(await openBig()));
result.open_ms_median = median(result.open_ms);
await page.screenshot({ path: process.env.OUT.replace(/[^/]*$/, 'graph-10k.png') });
result.pan_fit = await pan(240);
for (let i = 0; i < 10; i++) await page.click('button[aria-label="Zoom in"]');
result.pan_zoomed = await pan(240);

// The list over 100,000 executions: API answers (median of 5, HTTP included).
const apiTime = async (query) => page.evaluate(async ([q, t]) => {
  const times = [];
  let items = 0;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const r = await fetch(`api/v1/executions?${q}`, { headers: { Authorization: `Bearer ${t}` } });
    const j = await r.json();
    times.push(performance.now() - t0);
    items = j.items.length;
  }
  times.sort((a, b) => a - b);
  return { ms: +times[2].toFixed(1), items };
}, [query, token]);
const scope = 'project=bench-list&domain=development&limit=50';
const old = new Date(Date.now() - 25 * 86400e3).toISOString().slice(0, 10);
for (const [name, q] of [['newest', scope], ['phase_failed', `${scope}&phase=FAILED`], ['phase_aborted', `${scope}&phase=ABORTED`],
  ['workflow', `${scope}&workflow=wf3`], ['created_before_25d', `${scope}&created_before=${old}`], ['phase_running_none', `${scope}&phase=RUNNING`],
  ['phase_timed_out_none', `${scope}&phase=TIMED_OUT`], ['workflow_none', `${scope}&workflow=nosuch`]]) {
  result.list[name] = await apiTime(q);
}
// Twenty pages deep through next_token.
result.list.page_20_ms = await page.evaluate(async ([s, t]) => {
  let tok = '';
  let last = 0;
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const j = await (await fetch(`api/v1/executions?${s}${tok ? `&token=${tok}` : ''}`, { headers: { Authorization: `Bearer ${t}` } })).json();
    last = performance.now() - t0;
    tok = j.next_token;
  }
  return +last.toFixed(1);
}, [scope, token]);
await page.evaluate(() => localStorage.setItem('floe.project', 'bench-list'));
await page.goto('about:blank');
await page.goto(`${base}#/executions`);
result.list.page_open_ms = Math.round(await page.evaluate(() => new Promise((resolve) => {
  const check = () => (document.querySelectorAll('table[aria-label=Executions] tbody tr[data-id]').length === 50 ? resolve(performance.now()) : requestAnimationFrame(check));
  check();
})));
await browser.close();
writeFileSync(process.env.OUT, `${JSON.stringify(result, null, 2)}\n`);
