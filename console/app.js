// The console: sign-in, the project and domain in view, the router. Pages live in their
// own modules; each renders into <main> and returns a function that stops what it
// started (feeds, timers) when the page is left.
import { api, token, setToken, clearToken, whenUnauthenticated } from './api.js';
import { h, add, clear, errorBox } from './dom.js';
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
  [['executions', ':'], (p, q, v) => executionPage(v, p[1], q)],
  [['executions'], (p, q, v) => executionsPage(v, q)],
  [['workflows', ':'], (p, q, v) => entityPage(v, 'workflows', p[1], q)],
  [['workflows'], (p, q, v) => entitiesPage(v, 'workflows', q)],
  [['tasks', ':'], (p, q, v) => entityPage(v, 'tasks', p[1], q)],
  [['tasks'], (p, q, v) => entitiesPage(v, 'tasks', q)],
  [['launchplans', ':'], (p, q, v) => launchPlanPage(v, p[1], q)],
  [['launchplans'], (p, q, v) => launchPlansPage(v, q)],
  [['lineage'], (p, q, v) => lineagePage(v, q)],
  [['cache'], (p, q, v) => cachePage(v, q)],
  [['projects'], (p, q, v) => projectsPage(v)],
];

const DOMAINS = ['development', 'staging', 'production'];

// The projects this token has a role in, each with its domains: a link sets the view's.
function projectsPage(view) {
  const grants = (ctx.me && ctx.me.grants) || [];
  const open = (project, domain) => `#/executions?project=${encodeURIComponent(project)}&domain=${encodeURIComponent(domain)}`;
  add(view, h('h1', null, 'Projects'),
    h('table', { class: 'list', 'aria-label': 'Projects' },
      h('thead', null, h('tr', null, ['Project', 'Your role', 'Domains'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, grants.map((g) => h('tr', null,
        h('td', null, g.project === '*' ? 'every project' : g.project), h('td', null, g.role),
        h('td', null, g.project === '*' ? 'choose one in the bar above' : DOMAINS.map((d) => [h('a', { href: open(g.project, d) }, d), ' '])))))));
}

let leave = null;
let generation = 0;

// Each visit renders into a view of its own: a page still loading when the next visit
// starts writes into its detached view, and what it started is stopped once it returns.
async function route() {
  const gen = ++generation;
  if (leave) { try { leave(); } catch (e) { /* the page is gone anyway */ } leave = null; }
  const { parts, query } = parseHash();
  if (!token()) { signIn(); return; }
  if (!ctx.me) {
    try { ctx.me = await api('api/v1/whoami'); } catch (e) { return; }
    if (gen !== generation) return;
  }
  if (query.get('project')) localStorage.setItem('floe.project', (ctx.project = query.get('project')));
  if (query.get('domain')) localStorage.setItem('floe.domain', (ctx.domain = query.get('domain')));
  header();
  const view = h('div', { class: 'view' });
  add(clear(main), view);
  const hit = routes.find(([pat]) => pat.length === parts.length && pat.every((s, i) => s === ':' || s === parts[i]));
  let stop = null;
  try {
    if (parts.length === 0) stop = await executionsPage(view, query);
    else if (hit) stop = await hit[1](parts, query, view);
    else add(view, h('h1', null, 'Not found'), h('p', null, 'No page here. ', link('#/', 'Executions')));
  } catch (e) {
    add(view, errorBox(e));
  }
  if (gen !== generation) { if (stop) stop(); return; }
  leave = stop;
  const h1 = view.querySelector('h1');
  document.title = h1 ? `${h1.textContent} · Floe` : 'Floe';
}

function header() {
  const nav = clear(document.getElementById('nav'));
  const here = location.hash.split('?')[0];
  for (const [href, text] of [['#/projects', 'Projects'], ['#/executions', 'Executions'], ['#/workflows', 'Workflows'], ['#/tasks', 'Tasks'], ['#/launchplans', 'Launch plans'], ['#/cache', 'Cache']]) {
    add(nav, h('a', { href, 'aria-current': here.startsWith(href) ? 'page' : null }, text));
  }
  const who = document.getElementById('who');
  if (!ctx.me) { clear(who); return; }
  // Built once per sign-in: rebuilding it would remove a focused field mid-change.
  if (who.dataset.principal === ctx.me.principal) {
    document.getElementById('ctx-project').value = ctx.project;
    document.getElementById('ctx-domain').value = ctx.domain;
    return;
  }
  clear(who);
  who.dataset.principal = ctx.me.principal;
  const grants = ctx.me.grants || [];
  const projects = [...new Set(grants.map((g) => g.project).filter((p) => p !== '*'))];
  const proj = h('input', { id: 'ctx-project', value: ctx.project, list: 'ctx-projects', size: 12, 'aria-label': 'Project' });
  const dom = h('select', { id: 'ctx-domain', 'aria-label': 'Domain' },
    DOMAINS.map((d) => h('option', { value: d, selected: d === ctx.domain }, d)));
  const apply = () => {
    const p = proj.value.trim() || 'default';
    if (p === ctx.project && dom.value === ctx.domain) return;
    ctx.project = p;
    ctx.domain = dom.value;
    localStorage.setItem('floe.project', ctx.project);
    localStorage.setItem('floe.domain', ctx.domain);
    route();
  };
  proj.addEventListener('change', apply);
  dom.addEventListener('change', apply);
  add(who, h('datalist', { id: 'ctx-projects' }, projects.map((p) => h('option', { value: p }))),
    h('label', { class: 'ctx' }, 'Project ', proj), h('label', { class: 'ctx' }, 'Domain ', dom),
    h('span', { class: 'me', title: ctx.me.principal }, ctx.me.name || ctx.me.principal),
    h('button', { type: 'button', class: 'link', onclick: () => { clearToken(); ctx.me = null; signIn(); } }, 'Sign out'));
}

function signIn(message) {
  if (leave) { leave(); leave = null; }
  clear(document.getElementById('nav'));
  const who = clear(document.getElementById('who'));
  delete who.dataset.principal;
  clear(main);
  document.title = 'Sign in · Floe';
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', required: true, size: 48 });
  const out = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card signin', onsubmit: async (e) => {
    e.preventDefault();
    setToken(input.value.trim());
    try {
      ctx.me = await api('api/v1/whoami', { signingIn: true });
      if (location.hash === '' || location.hash === '#/signin') location.hash = '#/executions';
      else route();
    } catch (err) {
      clearToken();
      add(clear(out), errorBox(err));
    }
  } },
  h('h1', null, 'Sign in to Floe'),
  h('p', null, 'Paste an API token (floectl token create) or an access token from your identity provider. It is kept in this tab only.'),
  h('label', { for: 'token' }, 'Token'), input,
  h('button', { type: 'submit' }, 'Sign in'), out);
  if (message) add(out, h('p', { class: 'error' }, message));
  add(main, form);
  input.focus();
}

whenUnauthenticated(() => { clearToken(); ctx.me = null; signIn('Your session ended: sign in again.'); });
window.addEventListener('hashchange', route);
route();
