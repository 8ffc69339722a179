// Workflows and tasks: the names in a project (each with its versions), one version with
// its typed interface, a workflow's graph, and the launch form its interface makes.
import { api, upload } from './api.js';
import { h, add, clear, fmtTime, errorBox } from './dom.js';
import { ctx, go } from './app.js';
import { GraphView } from './graph.js';
import { buildGraph } from './execution.js';

const KIND = { workflows: 'Workflows', tasks: 'Tasks' };

export async function entitiesPage(main, kind, q) {
  const page = await api(`api/v1/${kind}`, { query: { project: ctx.project, domain: ctx.domain, limit: 1000, token: q.get('token') } });
  const byName = new Map();
  for (const it of page.items) if (!byName.has(it.name)) byName.set(it.name, it);
  add(main, h('h1', null, KIND[kind]),
    h('table', { class: 'list', 'aria-label': KIND[kind] },
      h('thead', null, h('tr', null, ['Name', 'Latest version', 'Registered'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, [...byName.values()].map((it) => h('tr', null,
        h('td', null, h('a', { href: `#/${kind}/${encodeURIComponent(it.name)}` }, it.name)),
        h('td', null, it.version), h('td', null, fmtTime(it.created_at)))),
      byName.size ? null : h('tr', null, h('td', { colspan: 3 }, `No ${kind} in ${ctx.project}/${ctx.domain}.`)))));
  if (page.next_token) add(main, h('a', { href: `#/${kind}?token=${encodeURIComponent(page.next_token)}` }, 'More »'));
}

function ifaceTable(vars, caption) {
  return h('table', { class: 'kv' }, h('caption', null, caption),
    h('tbody', null, (vars || []).map((v) => h('tr', null, h('th', { scope: 'row' }, v.name), h('td', null, h('code', null, v.type)),
      h('td', null, 'default_value' in v ? ['default ', h('code', null, JSON.stringify(v.default_value))] : '')))));
}

export async function entityPage(main, kind, name, q) {
  const versions = await api(`api/v1/${kind}`, { query: { project: ctx.project, domain: ctx.domain, name, limit: 100 } });
  const version = q.get('version') || (versions.items[0] || {}).version;
  const base = `api/v1/${kind}/${encodeURIComponent(ctx.project)}/${encodeURIComponent(ctx.domain)}/${encodeURIComponent(name)}`;
  const ent = await api(version ? `${base}/${encodeURIComponent(version)}` : base);
  const spec = ent.spec;
  const pick = h('select', { id: 'version', onchange: () => go(`#/${kind}/${encodeURIComponent(name)}?version=${encodeURIComponent(pick.value)}`) },
    versions.items.map((v) => h('option', { value: v.version, selected: v.version === ent.version }, `${v.version} (${fmtTime(v.created_at)})`)));
  add(main, h('h1', null, `${kind === 'workflows' ? 'Workflow' : 'Task'} ${name}`),
    h('p', null, h('label', { for: 'version' }, 'Version '), pick, ' ', h('code', { title: 'digest' }, ent.digest.slice(0, 12))),
    spec.description ? h('p', null, spec.description) : null,
    h('div', { class: 'cols' }, ifaceTable(spec.interface.inputs, 'Inputs'), ifaceTable(spec.interface.outputs, 'Outputs')));
  if (kind === 'tasks') {
    add(main, h('p', null, h('a', { href: `#/cache?task=${encodeURIComponent(name)}` }, 'Cached results of this task')),
      h('details', null, h('summary', null, 'Compiled spec'), h('pre', null, JSON.stringify(spec, null, 2))));
    return null;
  }
  add(main, h('h2', null, 'Launch'), launchForm(spec.interface.inputs, async (inputs, extra) => {
    const r = await api('api/v1/executions', { method: 'POST', body: Object.assign({ project: ctx.project, domain: ctx.domain, workflow: `${name}@${ent.version}`, inputs }, extra) });
    go(`#/executions/${encodeURIComponent(r.id)}`);
  }));
  const gv = h('div', { class: 'graphview small' });
  add(main, h('h2', null, 'Graph'), gv);
  const view = new GraphView(gv, {});
  const g = buildGraph(spec, () => 'QUEUED', new Set());
  view.setGraph(g.nodes, g.edges);
  return () => view.destroy();
}

// A form with a field per input, typed; submit gets {NAME: value} of the fields filled.
export function launchForm(inputs, submit) {
  const fields = [];
  const out = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card launch', onsubmit: async (e) => {
    e.preventDefault();
    clear(out);
    const values = {};
    try {
      for (const f of fields) { const v = await f.read(); if (v !== undefined) values[f.name] = v; }
      const extra = { no_cache: form.querySelector('#no-cache').checked || undefined };
      await submit(values, extra);
    } catch (err) {
      add(out, errorBox(err));
      if (err.details && err.details.inputs) add(out, h('ul', null, err.details.inputs.map((d) => h('li', null, `${d.name || d.input || ''}: ${d.message || JSON.stringify(d)}`))));
    }
  } });
  for (const v of inputs || []) {
    const id = `in-${v.name}`;
    const has = 'default_value' in v;
    let el;
    let read;
    if (v.type === 'boolean') {
      el = h('input', { id, type: 'checkbox', checked: has && v.default_value === true });
      read = () => el.checked;
    } else if (v.type === 'integer' || v.type === 'float') {
      el = h('input', { id, type: 'number', step: v.type === 'integer' ? '1' : 'any', value: has ? v.default_value : '', required: !has });
      read = () => (el.value === '' ? undefined : Number(el.value));
    } else if (v.type === 'blob') {
      el = h('input', { id, type: 'file', required: !has });
      read = async () => (el.files.length ? upload(el.files[0]) : undefined);
    } else if (v.type === 'string' || v.type === 'datetime' || v.type === 'duration') {
      el = h('input', { id, value: has ? v.default_value : '', required: !has, size: 40 });
      read = () => (el.value === '' && has ? undefined : el.value);
    } else {
      el = h('textarea', { id, rows: 3, cols: 40, required: !has }, has ? JSON.stringify(v.default_value) : '');
      read = () => {
        if (el.value.trim() === '') return undefined;
        try { return JSON.parse(el.value); } catch (e) { throw new Error(`${v.name}: not JSON (${e.message})`); }
      };
    }
    fields.push({ name: v.name, read });
    add(form, h('div', { class: 'field' }, h('label', { for: id }, v.name, ' ', h('code', null, v.type), has ? '' : h('span', { class: 'req' }, ' required')), el));
  }
  add(form, h('div', { class: 'field' }, h('label', { for: 'no-cache' }, h('input', { id: 'no-cache', type: 'checkbox' }), ' skip the cache')),
    h('button', { type: 'submit' }, 'Launch'), out);
  return form;
}

