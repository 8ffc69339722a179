// The console: sign-in, the project and domain in view, the router. Pages live in their
// own modules; each renders into <main> and returns a function that stops what it
// started (feeds, timers) when the page is left.
import { api, token, setToken, clearToken, whenUnauthenticated } from './api.js';
import { h, clear, errorBox } from './dom.js';
import { executionsPage } from './executions.js';
import { executionPage } from './execution.js';
import { entitiesPage, entityPage } from './registry.js';
import { launchPlansPage, launchPlanPage } from './launchplans.js';
import { lineagePage, cachePage } from './data.js';

const main = document.getElementById('main');
export const ctx = {
  project: localStorage.getItem('floe.project') || 'default',
  domain: localStorage.getItem('floe.domain') || 'development',
  me: null,
};

export function go(hash) { location.hash = hash; }

export function link(hash, ...text) { return h('a', { href: hash }, ...text); }

// The hash: "#/path/a/b?k=v".
function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, q] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, query: new URLSearchParams(q || '') };
}

const routes = [
  [['executions', ':'], (p, q) => executionPage(main, p[1], q)],
  [['executions'], (p, q) => executionsPage(main, q)],
  [['workflows', ':'], (p, q) => entityPage(main, 'workflows', p[1], q)],
  [['workflows'], (p, q) => entitiesPage(main, 'workflows', q)],
  [['tasks', ':'], (p, q) => entityPage(main, 'tasks', p[1], q)],
  [['tasks'], (p, q) => entitiesPage(main, 'tasks', q)],
  [['launchplans', ':'], (p, q) => launchPlanPage(main, p[1], q)],
  [['launchplans'], (p, q) => launchPlansPage(main, q)],
  [['lineage'], (p, q) => lineagePage(main, q)],
  [['cache'], (p, q) => cachePage(main, q)],
];

let leave = null;

async function route() {
  if (leave) { try { leave(); } catch (e) { /* the page is gone anyway */ } leave = null; }
  const { parts, query } = parseHash();
  if (!token()) { signIn(); return; }
  if (!ctx.me) {
    try { ctx.me = await api('api/v1/whoami'); } catch (e) { if (e.status === 401) return; }
    header();
  }
  if (query.get('project')) ctx.project = query.get('project');
  if (query.get('domain')) ctx.domain = query.get('domain');
  header();
  const hit = routes.find(([pat]) => pat.length === parts.length && pat.every((s, i) => s === ':' || s === parts[i]));
  clear(main);
  try {
    if (parts.length === 0) leave = await executionsPage(main, query);
    else if (hit) leave = await hit[1](parts, query);
    else main.append(h('h1', null, 'Not found'), h('p', null, 'No page here. ', link('#/', 'Executions')));
  } catch (e) {
    main.append(errorBox(e));
  }
  const h1 = main.querySelector('h1');
  document.title = h1 ? `${h1.textContent} · Floe` : 'Floe';
}

function header() {
  const nav = clear(document.getElementById('nav'));
  const here = location.hash.split('?')[0];
  for (const [href, text] of [['#/executions', 'Executions'], ['#/workflows', 'Workflows'], ['#/tasks', 'Tasks'], ['#/launchplans', 'Launch plans'], ['#/cache', 'Cache']]) {
    nav.append(h('a', { href, 'aria-current': here.startsWith(href) ? 'page' : null }, text));
  }
  const who = clear(document.getElementById('who'));
  if (!ctx.me) return;
  const grants = ctx.me.grants || [];
  const projects = [...new Set(grants.map((g) => g.project).filter((p) => p !== '*'))];
  const proj = h('input', { id: 'ctx-project', value: ctx.project, list: 'ctx-projects', size: 12, 'aria-label': 'Project' });
  const dom = h('select', { id: 'ctx-domain', 'aria-label': 'Domain' },
    ['development', 'staging', 'production'].map((d) => h('option', { value: d, selected: d === ctx.domain }, d)));
  const apply = () => {
    ctx.project = proj.value.trim() || 'default';
    ctx.domain = dom.value;
    localStorage.setItem('floe.project', ctx.project);
    localStorage.setItem('floe.domain', ctx.domain);
    route();
  };
  proj.addEventListener('change', apply);
  dom.addEventListener('change', apply);
  who.append(h('datalist', { id: 'ctx-projects' }, projects.map((p) => h('option', { value: p }))),
    h('label', { class: 'ctx' }, 'Project ', proj), h('label', { class: 'ctx' }, 'Domain ', dom),
    h('span', { class: 'me', title: ctx.me.principal }, ctx.me.name || ctx.me.principal),
    h('button', { type: 'button', class: 'link', onclick: () => { clearToken(); ctx.me = null; signIn(); } }, 'Sign out'));
}

function signIn(message) {
  if (leave) { leave(); leave = null; }
  clear(document.getElementById('nav'));
  clear(document.getElementById('who'));
  clear(main);
  document.title = 'Sign in · Floe';
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', required: true, size: 48 });
  const out = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card signin', onsubmit: async (e) => {
    e.preventDefault();
    setToken(input.value.trim());
    try {
      ctx.me = await api('api/v1/whoami');
      if (location.hash === '' || location.hash === '#/signin') location.hash = '#/executions';
      else route();
    } catch (err) {
      clearToken();
      clear(out).append(errorBox(err));
    }
  } },
  h('h1', null, 'Sign in to Floe'),
  h('p', null, 'Paste an API token (floectl token create) or an access token from your identity provider. It is kept in this tab only.'),
  h('label', { for: 'token' }, 'Token'), input,
  h('button', { type: 'submit' }, 'Sign in'), out);
  if (message) out.append(h('p', { class: 'error' }, message));
  main.append(form);
  input.focus();
}

whenUnauthenticated(() => { clearToken(); ctx.me = null; signIn('Your session ended: sign in again.'); });
window.addEventListener('hashchange', route);
route();
