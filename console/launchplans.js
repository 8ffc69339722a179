// Launch plans: each with its workflow, schedule or triggers, whether it is active, the
// next fire times, recent firings, the datasets it awaits; activate and deactivate.
import { api } from './api.js';
import { h, add, fmtTime, phaseBadge, toast } from './dom.js';
import { ctx, go } from './app.js';

export async function launchPlansPage(main, q) {
  const page = await api('api/v1/launchplans', { query: { project: ctx.project, domain: ctx.domain, limit: 1000, token: q.get('token') } });
  const byName = new Map();
  for (const it of page.items) if (!byName.has(it.name) || it.active) byName.set(it.name, it);
  add(main, h('h1', null, 'Launch plans'), h('table', { class: 'list', 'aria-label': 'Launch plans' },
    h('thead', null, h('tr', null, ['Name', 'Version', 'Workflow', 'Active'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, [...byName.values()].map((lp) => h('tr', null,
      h('td', null, h('a', { href: `#/launchplans/${encodeURIComponent(lp.name)}` }, lp.name)), h('td', null, lp.version),
      h('td', null, `${lp.workflow.name}@${lp.workflow.version}`), h('td', null, lp.active ? 'active' : '—'))),
    byName.size ? null : h('tr', null, h('td', { colspan: 4 }, 'No launch plans here.')))));
}

export async function launchPlanPage(main, name, q) {
  const base = `api/v1/launchplans/${encodeURIComponent(ctx.project)}/${encodeURIComponent(ctx.domain)}/${encodeURIComponent(name)}`;
  const lp = await api(q.get('version') ? `${base}/${encodeURIComponent(q.get('version'))}` : base);
  const st = lp.status || {};
  const spec = lp.spec;
  const toggle = async () => {
    try {
      await api(`${base}/${encodeURIComponent(lp.version)}/${lp.active ? 'deactivate' : 'activate'}`, { method: 'POST' });
      toast(`${name}@${lp.version} ${lp.active ? 'deactivated' : 'activated'}`);
      go(`#/launchplans/${encodeURIComponent(name)}?version=${encodeURIComponent(lp.version)}&t=${Date.now()}`);
    } catch (e) { toast(e.message, 'bad'); }
  };
  add(main, h('h1', null, `Launch plan ${name}`),
    h('p', null, `version ${lp.version} of `, h('a', { href: `#/workflows/${encodeURIComponent(lp.workflow.name)}?version=${encodeURIComponent(lp.workflow.version)}` }, `${lp.workflow.name}@${lp.workflow.version}`),
      ' · ', lp.active ? 'active' : 'inactive', ' ', h('button', { type: 'button', onclick: toggle }, lp.active ? 'Deactivate' : 'Activate')),
    spec.description ? h('p', null, spec.description) : null,
    spec.schedule ? h('p', null, 'Schedule ', h('code', null, spec.schedule.cron || `every ${spec.schedule.rate || '?'}`), spec.schedule.time_zone ? ` (${spec.schedule.time_zone})` : '') : null,
    spec.triggers ? h('details', { open: true }, h('summary', null, 'Triggers'), h('pre', null, JSON.stringify(spec.triggers, null, 2))) : null,
    h('h2', null, 'Next fires'), h('ul', null, (st.next_fires || []).map((t) => h('li', null, fmtTime(t)))),
    (st.next_fires || []).length ? null : h('p', { class: 'hint' }, 'None (no schedule, or inactive).'),
    h('p', null, `launched ${st.launched ?? 0}, pending ${st.pending ?? 0}, skipped ${st.skipped ?? 0}, missed ${st.missed ?? 0}`),
    h('h2', null, 'Recent firings'),
    h('table', { class: 'list' }, h('thead', null, h('tr', null, ['Fired for', 'Execution', 'Phase'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, (st.firings || []).map((f) => h('tr', null, h('td', null, fmtTime(f.instant || f.fire_time || f.at)),
        h('td', null, f.execution ? h('a', { href: `#/executions/${encodeURIComponent(f.execution)}` }, f.execution) : '—'),
        h('td', null, f.phase ? phaseBadge(f.phase) : '—'))))),
    h('h2', null, 'Awaiting datasets'),
    (st.awaiting || []).length ? h('table', { class: 'list' }, h('thead', null, h('tr', null, ['Partition', 'Published', 'Awaited', 'Since'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, st.awaiting.map((a) => h('tr', null, h('td', null, h('code', null, JSON.stringify(a.partition || a.key || ''))),
        h('td', null, (a.published || []).join(', ')), h('td', null, (a.awaited || []).join(', ')), h('td', null, fmtTime(a.since))))))
      : h('p', { class: 'hint' }, 'Nothing awaited.'),
    h('p', null, h('a', { href: `#/executions?launch_plan=${encodeURIComponent(name)}` }, 'Its executions')));
}
