// Data pages: the lineage of an output as a graph (upstream or downstream), and a task's
// cached results with deletion.
import { api } from './api.js';
import { h, add, clear, fmtTime, showValue, errorBox, toast } from './dom.js';
import { ctx, go } from './app.js';
import { GraphView } from './graph.js';

export async function lineagePage(main, q) {
  const params = { execution: q.get('execution'), node: q.get('node'), output: q.get('output'), artifact: q.get('artifact'),
    direction: q.get('direction') || 'upstream', depth: q.get('depth') || 5 };
  const dir = h('select', { id: 'direction', onchange: () => { const p = new URLSearchParams(q); p.set('direction', dir.value); go(`#/lineage?${p}`); } },
    ['upstream', 'downstream'].map((d) => h('option', { value: d, selected: d === params.direction }, d)));
  add(main, h('h1', null, 'Lineage'), h('p', null, params.execution ? `${params.execution} / ${params.node || ''}${params.output ? ` / ${params.output}` : ''}` : params.artifact || '',
    ' ', h('label', { for: 'direction' }, 'Direction '), dir));
  const r = await api('api/v1/lineage', { query: params });
  const nodes = (r.nodes || []).map((n) => ({ id: n.id, label: n.label || n.name || n.id, phase: n.kind === 'artifact' ? 'CACHED' : 'SUCCEEDED', raw: n }));
  const at = new Map(nodes.map((n, i) => [n.id, i]));
  const edges = (r.edges || []).map((e) => [at.get(e.from), at.get(e.to)]).filter(([a, b]) => a !== undefined && b !== undefined);
  const detail = h('div', { class: 'panel', 'aria-live': 'polite' });
  const gv = h('div', { class: 'graphview' });
  add(main, h('p', { class: 'hint' }, `${nodes.length} nodes, ${edges.length} edges${r.truncated ? ' (cut at the depth)' : ''}.`), gv, detail);
  const view = new GraphView(gv, { label: 'Lineage graph', onSelect: (id) => {
    const n = nodes[at.get(id)].raw;
    add(clear(detail), h('h2', null, n.label || n.id), h('pre', null, JSON.stringify(n, null, 2)),
      n.execution ? h('a', { href: `#/executions/${encodeURIComponent(n.execution)}${n.node ? `?node=${encodeURIComponent(n.node)}` : ''}` }, 'Open its execution') : null);
  } });
  view.setGraph(nodes, edges);
  return () => view.destroy();
}

export async function cachePage(main, q) {
  const task = q.get('task') || '';
  const input = h('input', { id: 'cache-task', value: task, size: 20 });
  add(main, h('h1', null, 'Cache'), h('form', { class: 'filters', role: 'search', onsubmit: (e) => { e.preventDefault(); go(`#/cache?task=${encodeURIComponent(input.value)}`); } },
    h('label', { for: 'cache-task' }, 'Task '), input, h('button', { type: 'submit' }, 'Show')));
  const out = h('div');
  add(main, out);
  try {
    const r = await api('api/v1/cache', { query: { project: ctx.project, domain: ctx.domain, task: task || undefined, limit: 200 } });
    const del = async (query, what) => {
      if (!confirm(`Delete ${what}?`)) return;
      try { const d = await api('api/v1/cache', { method: 'DELETE', query: Object.assign({ project: ctx.project, domain: ctx.domain }, query) }); toast(`${d.deleted} deleted`); go(`#/cache?task=${encodeURIComponent(task)}&t=${Date.now()}`); } catch (e) { toast(e.message, 'bad'); }
    };
    add(out, task && r.items.length ? h('button', { type: 'button', class: 'danger', onclick: () => del({ task }, `every cached result of ${task}`) }, `Delete all of ${task}`) : null,
      h('table', { class: 'list', 'aria-label': 'Cached results' },
        h('thead', null, h('tr', null, ['Task', 'Outputs', 'From', 'Hits', 'Created', 'Expires', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', null, r.items.map((it) => h('tr', null, h('td', null, `${it.task.name}@${it.task.version}`), h('td', null, h('code', null, showValue(it.outputs, 120))),
          h('td', null, it.execution ? h('a', { href: `#/executions/${encodeURIComponent(it.execution)}?node=${encodeURIComponent(it.node)}` }, `${it.execution}/${it.node}`) : '—'),
          h('td', null, it.hits), h('td', null, fmtTime(it.created_at)), h('td', null, fmtTime(it.expires_at)),
          h('td', null, h('button', { type: 'button', class: 'link danger', onclick: () => del({ key: it.key }, 'this result') }, 'Delete')))),
        r.items.length ? null : h('tr', null, h('td', { colspan: 7 }, 'Nothing cached.')))));
  } catch (e) { add(out, errorBox(e)); }
}
