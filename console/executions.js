// Executions: newest first, filtered in the url (phase, workflow, launch plan, time,
// label), paged with the API's tokens, kept live by the project's feed.
import { api, feed } from './api.js';
import { h, add, clear, phaseBadge, fmtTime, fmtDuration, duration, errorBox } from './dom.js';
import { ctx } from './app.js';

const PHASES = ['', 'QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT'];

export async function executionsPage(main, q) {
  const f = {
    phase: q.get('phase') || '', workflow: q.get('workflow') || '', launch_plan: q.get('launch_plan') || '',
    created_after: q.get('created_after') || '', created_before: q.get('created_before') || '',
    label: q.get('label') || '', token: q.get('token') || '',
  };
  const field = (name, label, el) => h('label', null, label, ' ', el);
  const phase = h('select', { name: 'phase' }, PHASES.map((p) => h('option', { value: p, selected: p === f.phase }, p || 'any')));
  const workflow = h('input', { name: 'workflow', value: f.workflow, size: 14, placeholder: 'name' });
  const lp = h('input', { name: 'launch_plan', value: f.launch_plan, size: 14, placeholder: 'name' });
  const after = h('input', { name: 'created_after', type: 'date', value: f.created_after });
  const before = h('input', { name: 'created_before', type: 'date', value: f.created_before });
  const label = h('input', { name: 'label', value: f.label, size: 14, placeholder: 'key=value' });
  const form = h('form', { class: 'filters', role: 'search', onsubmit: (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    for (const el of form.querySelectorAll('[name]')) if (el.value) p.set(el.name, el.value);
    location.hash = `#/executions?${p}`;
  } },
  field('phase', 'Phase', phase), field('workflow', 'Workflow', workflow), field('lp', 'Launch plan', lp),
  field('after', 'From', after), field('before', 'Before', before), field('label', 'Label', label),
  h('button', { type: 'submit' }, 'Filter'));
  const live = h('span', { class: 'live', 'aria-live': 'polite' }, '');
  const body = h('tbody');
  const table = h('table', { class: 'list', 'aria-label': 'Executions' },
    h('thead', null, h('tr', null, ['Execution', 'Workflow', 'Launch plan', 'Phase', 'Created', 'Duration', 'By'].map((t) => h('th', { scope: 'col' }, t)))),
    body);
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  const status = h('div');
  add(main, h('div', { class: 'titlebar' }, h('h1', null, 'Executions'), live,
    h('a', { class: 'button', href: '#/workflows' }, 'Launch…')), form, status, table, pager);

  const rows = new Map();
  function row(ex) {
    const tr = h('tr', { dataset: { id: ex.id } },
      h('td', null, h('a', { href: `#/executions/${encodeURIComponent(ex.id)}` }, ex.id)),
      h('td', null, ex.workflow ? `${ex.workflow.name}@${ex.workflow.version}` : '—'),
      h('td', null, ex.launch_plan ? ex.launch_plan.name || JSON.stringify(ex.launch_plan) : '—'),
      h('td', { class: 'ph' }, phaseBadge(ex.phase)),
      h('td', null, fmtTime(ex.created_at)),
      h('td', { class: 'dur' }, fmtDuration(duration(ex.started_at, ex.finished_at))),
      h('td', null, ex.requested_by || '—'));
    rows.set(ex.id, { tr, ex });
    return tr;
  }
  const query = () => ({ project: ctx.project, domain: ctx.domain, phase: f.phase, workflow: f.workflow,
    launch_plan: f.launch_plan, created_after: f.created_after, created_before: f.created_before,
    label: f.label, token: f.token, limit: 50 });
  async function load() {
    try {
      const page = await api('api/v1/executions', { query: query() });
      clear(body);
      rows.clear();
      clear(status);
      for (const ex of page.items) add(body, row(ex));
      if (!page.items.length) add(body, h('tr', null, h('td', { colspan: 7 }, 'No executions match.')));
      clear(pager);
      const p = new URLSearchParams(location.hash.split('?')[1] || '');
      if (f.token) { p.delete('token'); add(pager, h('a', { href: `#/executions?${p}` }, '« Newest')); }
      if (page.next_token) { p.set('token', page.next_token); add(pager, h('a', { href: `#/executions?${p}`, rel: 'next' }, 'Older »')); }
    } catch (e) {
      add(clear(status), errorBox(e));
    }
  }
  await load();
  let again = null;
  const sub = feed({ project: ctx.project, domain: ctx.domain }, {
    onReady: load,
    onState: (s) => { live.textContent = s === 'live' ? '● live' : '○ reconnecting…'; },
    onPhase: (c) => {
      const r = rows.get(c.execution);
      if (r) {
        r.ex.phase = c.phase;
        if (c.phase === 'RUNNING' && !r.ex.started_at) r.ex.started_at = c.at;
        if (['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT'].includes(c.phase)) r.ex.finished_at = c.at;
        add(clear(r.tr.querySelector('.ph')), phaseBadge(c.phase));
        r.tr.querySelector('.dur').textContent = fmtDuration(duration(r.ex.started_at, r.ex.finished_at));
      } else if (!f.token && !again) {
        // A new execution on the first page: read the page again, once a second at most.
        again = setTimeout(() => { again = null; load(); }, 1000);
      }
    },
  });
  return () => { sub.close(); clearTimeout(again); };
}
