// The console in a real browser (Debian's chromium, driven by playwright-core) against a
// real scheduler and worker: sign in, launch from the form, the graph turns green live,
// approve the gate, open the failed node and read its stderr, recover it, follow lineage,
// and the executions list updating live. Each wait is bounded and says what it waited for.
// usage: node console.test.mjs   (env: FLOE_API_URL, FLOE_TOKEN_FILE, CONSOLE_MARKER,
//        CHROMIUM, NPM_HOME; CONSOLE_SHOTS=DIR also saves the screenshots of docs/console.md)
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';

const require = createRequire(`${process.env.NPM_HOME}/`);
const { chromium } = require('playwright-core');
const base = process.env.FLOE_API_URL.replace(/\/?$/, '/');
const token = readFileSync(process.env.FLOE_TOKEN_FILE, 'utf8').trim();
const shots = process.env.CONSOLE_SHOTS || '';
const WAIT = 30000;

let step = 'starting';
async function waitFor(what, fn) {
  step = what;
  const t0 = Date.now();
  try { return await fn(); } catch (e) {
    throw new Error(`waited ${Date.now() - t0} ms for ${what}: ${e.message.split('\n')[0]}`);
  }
}
const shot = async (page, name) => { if (shots) await page.screenshot({ path: `${shots}/${name}.png` }); };

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage'] });
const errors = [];
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
try {
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (e) => errors.push(e.message));
  if (process.env.CONSOLE_DEBUG) page.on('response', (r) => console.error(`${r.status()} ${r.request().method()} ${r.url()}`));
  const phases = async () => JSON.parse((await page.getAttribute('canvas.graph', 'data-phases')) || '{}');
  const execPhase = () => page.textContent('#exec-phase');

  // Sign in: a wrong token is refused with the API's message, the right one lets in.
  await page.goto(base);
  await waitFor('the sign-in form', () => page.waitForSelector('#token'));
  await page.fill('#token', 'not-a-token');
  await page.click('form.signin button[type=submit]');
  await waitFor('the refusal of a wrong token', () => page.waitForSelector('form.signin .error'));
  assert.match(await page.textContent('form.signin .error'), /unauthenticated/);
  await shot(page, 'signin');
  await page.fill('#token', token);
  await page.click('form.signin button[type=submit]');
  await waitFor('the executions page', () => page.waitForSelector('h1:text("Executions")'));
  await page.fill('#ctx-project', process.env.FLOE_PROJECT);
  await page.dispatchEvent('#ctx-project', 'change');

  // Launch from the form generated from the workflow's interface.
  await page.goto(`${base}#/workflows/console_flow`);
  await waitFor('the launch form', () => page.waitForSelector('#in-n'));
  assert.equal(await page.getAttribute('#in-n', 'type'), 'number');
  assert.equal(await page.inputValue('#in-n'), '3');
  await page.fill('#in-n', '20');
  await shot(page, 'launch');
  await page.click('form.launch button[type=submit]');
  await waitFor('the new execution page', () => page.waitForFunction(() => location.hash.startsWith('#/executions/') && document.querySelector('#exec-phase')));
  const first = decodeURIComponent(page.url().split('#/executions/')[1].split('?')[0]);

  // Live: prep turns green and the gate waits, with no reload.
  await waitFor('prep and the map SUCCEEDED and the gate RUNNING on the graph', () => page.waitForFunction(() => {
    const p = JSON.parse(document.querySelector('canvas.graph').dataset.phases || '{}');
    return p.SUCCEEDED === 2 && p.RUNNING === 1;
  }));
  // The map drawn with its items: three more nodes, all green.
  await page.click('button:text("each (map items)")');
  await waitFor("the map's three items on the graph", () => page.waitForFunction(() => {
    const p = JSON.parse(document.querySelector('canvas.graph').dataset.phases || '{}');
    return p.SUCCEEDED === 5;
  }));
  await page.click('button:text("each (map items)")');
  await page.click('#tab-table');
  await page.click('table[aria-label=Nodes] button:text-is("review")');
  await waitFor('the gate form', () => page.waitForSelector('#gate-comment'));
  await page.fill('#gate-comment', 'looks right');
  await shot(page, 'gate');
  await page.click('form.gate button:text("Approve")');

  // The task after the gate fails (its first try): the node and the execution turn red.
  await waitFor('the execution FAILED, live', () => page.waitForFunction(() => document.querySelector('#exec-phase').textContent === 'FAILED'));
  await page.click('#tab-graph');
  await waitFor('the failed node on the graph', () => page.waitForFunction(() => JSON.parse(document.querySelector('canvas.graph').dataset.phases).FAILED === 1));
  await page.click('#tab-table');
  await page.click('table[aria-label=Nodes] button:text-is("work")');
  await waitFor('the failed attempt', () => page.waitForSelector('.panel table.attempts button:text("stderr")'));
  assert.match(await page.textContent('.panel .error'), /exit|3/);
  if (process.env.CONSOLE_DEBUG) console.error(await page.innerHTML('aside.panel'), await page.innerHTML('dl.facts'));
  await page.click('.panel table.attempts button:text("stderr")');
  await waitFor('its stderr', () => page.waitForFunction(() => /boom: the first try of x=40 fails/.test(document.querySelector('pre.log')?.textContent || '')));
  await page.click('#tab-graph');
  await shot(page, 'failed');

  // Recover: a new execution takes over prep and the approved gate, runs work again.
  await page.click('.actions button:text("Recover")');
  await waitFor('the recovered execution page', () => page.waitForFunction((id) => location.hash.startsWith('#/executions/') && !location.hash.includes(id), first));
  await waitFor('the recovered execution SUCCEEDED, live', () => page.waitForFunction(() => document.querySelector('#exec-phase')?.textContent === 'SUCCEEDED'));
  assert.match(await page.textContent('#exec-outputs'), /"result":41/);
  assert.match(await page.textContent('#exec-outputs'), /"doubled":\[2,4,6\]/);
  await page.click('#tab-table');
  const rows = await page.$$eval('table[aria-label=Nodes] tbody tr', (trs) => trs.map((tr) => tr.innerText.replace(/\s+/g, ' ')));
  assert.ok(rows.some((r) => /prep task RECOVERED/.test(r)), rows.join(' | '));
  await page.click('#tab-timeline');
  await waitFor('the timeline', () => page.waitForSelector('.tl-bar'));
  await shot(page, 'timeline');
  await page.click('#tab-graph');
  await shot(page, 'execution');

  // Lineage of work's output: upstream reaches prep's output.
  await page.click('#tab-table');
  await page.click('table[aria-label=Nodes] button:text-is("work")');
  await page.click('.panel a:text("Lineage of its outputs")');
  await waitFor('the lineage graph', () => page.waitForSelector('canvas.graph[data-state=ready]'));
  const lineage = await page.textContent('main .hint');
  assert.match(lineage, /^[1-9]\d* nodes, [1-9]\d* edges/);
  await shot(page, 'lineage');

  // The list: an execution launched elsewhere appears and ends without a reload.
  await page.goto(`${base}#/executions`);
  await waitFor('the list live', () => page.waitForFunction(() => document.querySelector('.live')?.textContent.includes('live')));
  const launched = await page.evaluate(async ([project, tok]) => {
    const r = await fetch('api/v1/executions', { method: 'POST', headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ project, domain: 'development', workflow: 'console_flow', inputs: { n: 1 } }) });
    return (await r.json()).id;
  }, [process.env.FLOE_PROJECT, token]);
  await waitFor(`${launched} in the list`, () => page.waitForSelector(`tr[data-id="${launched}"]`));
  await waitFor(`${launched} RUNNING in the list`, () => page.waitForFunction((id) => document.querySelector(`tr[data-id="${id}"] .phase`).textContent === 'RUNNING', launched));
  await shot(page, 'executions');
  await page.evaluate(async ([id, tok]) => {
    await fetch(`api/v1/executions/${id}/terminate`, { method: 'POST', headers: { Authorization: `Bearer ${tok}` } });
  }, [launched, token]);
  await waitFor(`${launched} ABORTED in the list`, () => page.waitForFunction((id) => document.querySelector(`tr[data-id="${id}"] .phase`).textContent === 'ABORTED', launched));

  // The security headers on the page.
  const res = await page.request.get(base);
  assert.match(res.headers()['content-security-policy'], /script-src 'self'/);
  assert.deepEqual(errors, []);
  console.log(`ok: console flow (${first}, lineage "${lineage}")`);
} catch (e) {
  console.error(`FAIL at "${step}": ${e.message}`);
  const where = `${process.env.TMPDIR || '/tmp'}/console-failure.png`;
  await page.screenshot({ path: where }).catch(() => {});
  const said = await page.textContent('main').catch(() => '');
  console.error(`the page then: ${where} (${page.url()}); it said: ${said.slice(0, 600)}`);
  if (errors.length) console.error(`page errors: ${errors.join('; ')}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
