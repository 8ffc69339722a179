// One execution: its graph (live), its nodes as a table, a timeline of attempts, and the
// panel of the node in view (attempts, inputs and outputs, logs, gate answers), with the
// execution's actions. The feed keeps phases current; the snapshot is read after `ready`.
import { api, feed } from './api.js';
import { h, add, clear, phaseBadge, fmtTime, fmtDuration, duration, toast, TERMINAL } from './dom.js';
import { GraphView } from './graph.js';
import { nodePanel } from './node.js';
import { go } from './app.js';

const FAILED = new Set(['FAILED', 'TIMED_OUT', 'ABORTED']);

// Items of an expanded map drawn at most (a larger map stays one node; its panel lists them).
const MAP_DRAWN_MAX = 10000;

// The graph of a compiled workflow: its nodes (inlined sub-workflows' as "sub.x", grouped
// by "sub" unless expanded) and edges by upstream index. An expanded map node is followed
// by its items (itemsOf(id): their ids), each between the map node and its downstream.
export function buildGraph(spec, phaseOf, expanded, itemsOf = () => []) {
  const specNodes = spec.nodes || [];
  const groupOf = (id) => { const k = id.indexOf('.'); return k > 0 ? id.slice(0, k) : null; };
  const key = specNodes.map((nd) => { const g = groupOf(nd.id); return g && !expanded.has(g) ? g : nd.id; });
  const nodes = [];
  const at = new Map();
  specNodes.forEach((nd, i) => {
    const k = key[i];
    if (!at.has(k)) {
      at.set(k, nodes.length);
      nodes.push({ id: k, label: k === nd.id ? (nd.map ? `${nd.id} [map]` : nd.id) : `${k} ▸`, phase: 'QUEUED', members: [] });
    }
    nodes[at.get(k)].members.push(nd.id);
  });
  const seen = new Set();
  const edges = [];
  const edge = (a, b) => {
    const e = `${a}>${b}`;
    if (a !== b && !seen.has(e)) { seen.add(e); edges.push([a, b]); }
  };
  specNodes.forEach((nd, i) => {
    for (const u of nd.upstream || []) edge(at.get(key[u]), at.get(key[i]));
  });
  const maps = specNodes.filter((nd) => nd.map && !groupOf(nd.id)).map((nd) => nd.id);
  for (const m of maps) {
    if (!expanded.has(m)) continue;
    const items = itemsOf(m).slice(0, MAP_DRAWN_MAX);
    const from = at.get(m);
    const down = (specNodes.find((nd) => nd.id === m).downstream || []).map((d) => at.get(key[d]));
    for (const it of items) {
      at.set(it, nodes.length);
      nodes.push({ id: it, label: it, phase: 'QUEUED', members: [it] });
      edge(from, nodes.length - 1);
      for (const d of down) edge(nodes.length - 1, d);
    }
  }
  for (const n of nodes) n.phase = groupPhase(n.members.map(phaseOf));
  return { nodes, edges, groups: [...new Set(specNodes.map((n) => groupOf(n.id)).filter(Boolean))], maps };
}

export function groupPhase(ps) {
  if (ps.length === 1) return ps[0];
  if (ps.some((p) => FAILED.has(p))) return 'FAILED';
  if (ps.some((p) => p === 'RUNNING' || p === 'RETRYING')) return 'RUNNING';
  if (ps.every((p) => TERMINAL.has(p))) return 'SUCCEEDED';
  if (ps.some((p) => p !== 'QUEUED')) return 'RUNNING';
  return 'QUEUED';
}

export async function executionPage(main, id, q) {
  const ex = await api(`api/v1/executions/${encodeURIComponent(id)}`);
  const wf = await api(`api/v1/workflows/${encodeURIComponent(ex.project)}/${encodeURIComponent(ex.domain)}/${encodeURIComponent(ex.workflow.name)}/${encodeURIComponent(ex.workflow.version)}`);
  const spec = wf.spec;
  const specById = new Map((spec.nodes || []).map((n) => [n.id, n]));
  const state = { ex, spec, specById, nodes: new Map(), expanded: new Set(), selected: q.get('node') || null };
  const phaseOf = (nid) => (state.nodes.get(nid) || {}).phase || 'QUEUED';

  const head = h('div');
  const actions = h('div', { class: 'actions' });
  const live = h('span', { class: 'live', 'aria-live': 'polite' });
  const tabs = h('div', { role: 'tablist', class: 'tabs', 'aria-label': 'Views' });
  const views = {};
  const panels = h('div', { class: 'views' });
  const aside = h('aside', { class: 'panel', 'aria-label': 'Node' }, h('p', { class: 'hint' }, 'Select a node in the graph or the table.'));
  add(main, h('div', { class: 'titlebar' }, h('h1', null, `Execution ${ex.id}`), live), head, actions, tabs,
    h('div', { class: 'split' }, panels, aside));

  function tab(name, label, el) {
    const b = h('button', { type: 'button', role: 'tab', id: `tab-${name}`, 'aria-controls': `view-${name}`, 'aria-selected': 'false', onclick: () => show(name) }, label);
    el.id = `view-${name}`;
    el.setAttribute('role', 'tabpanel');
    el.setAttribute('aria-labelledby', `tab-${name}`);
    el.hidden = true;
    add(tabs, b);
    add(panels, el);
    views[name] = { b, el };
  }
  let current = null;
  function show(name) {
    current = name;
    for (const [k, v] of Object.entries(views)) { v.el.hidden = k !== name; v.b.setAttribute('aria-selected', String(k === name)); }
    if (name === 'graph') graph.size();
    if (name === 'timeline') drawTimeline();
    if (name === 'table') drawTable();
  }

  // --- the graph
  const gview = h('div', { class: 'graphview' });
  const search = h('input', { type: 'search', placeholder: 'find a node', 'aria-label': 'Find a node', size: 16 });
  const found = h('span', { class: 'hint', 'aria-live': 'polite' });
  const groupBar = h('span', { class: 'groups' });
  const tools = h('div', { class: 'tools' }, search, found,
    h('button', { type: 'button', onclick: () => graph.fit() }, 'Fit'),
    h('button', { type: 'button', 'aria-label': 'Zoom in', onclick: () => graph.zoom(1.25) }, '+'),
    h('button', { type: 'button', 'aria-label': 'Zoom out', onclick: () => graph.zoom(0.8) }, '−'), groupBar);
  search.addEventListener('input', () => {
    const m = graph.find(search.value);
    found.textContent = search.value ? `${m.length} found` : '';
  });
  search.addEventListener('keydown', (e) => { if (e.key === 'Enter') { const m = graph.find(search.value); if (m.length) select(m[0]); } });
  tab('graph', 'Graph', h('div', null, tools, gview));
  const graph = new GraphView(gview, { onSelect: (nid) => select(nid) });
  let built = null;
  const itemsOf = (m) => {
    const out = [];
    for (const nid of state.nodes.keys()) if (nid.startsWith(`${m}.`) && !specById.has(nid)) out.push(nid);
    return out.sort((a, b) => Number(a.slice(m.length + 1)) - Number(b.slice(m.length + 1)));
  };
  function rebuild() {
    built = buildGraph(spec, phaseOf, state.expanded, itemsOf);
    graph.setGraph(built.nodes, built.edges);
    clear(groupBar);
    const toggles = [...built.groups.map((g) => [g, g]), ...built.maps.map((m) => [m, `${m} (map items)`])];
    for (const [g, text] of toggles) {
      const open = state.expanded.has(g);
      add(groupBar, h('button', { type: 'button', 'aria-pressed': String(open), onclick: () => {
        if (open) state.expanded.delete(g); else state.expanded.add(g);
        rebuild();
      } }, `${open ? '▾' : '▸'} ${text}`));
    }
  }
  function repaintPhases() {
    if (!built) return;
    for (const n of built.nodes) graph.setPhase(n.id, groupPhase(n.members.map(phaseOf)));
  }

  // --- the table
  const tbody = h('tbody');
  tab('table', 'Nodes', h('table', { class: 'list', 'aria-label': 'Nodes' },
    h('thead', null, h('tr', null, ['Node', 'Kind', 'Phase', 'Attempts', 'Error'].map((t) => h('th', { scope: 'col' }, t)))), tbody));
  function drawTable() {
    clear(tbody);
    const ids = [...specById.keys()];
    for (const nid of state.nodes.keys()) if (!specById.has(nid)) ids.push(nid);
    const shown = ids.slice(0, 2000);
    for (const nid of shown) {
      const n = state.nodes.get(nid) || {};
      add(tbody, h('tr', null,
        h('td', null, h('button', { type: 'button', class: 'link', onclick: () => select(nid) }, nid)),
        h('td', null, (specById.get(nid) || {}).kind || 'item'),
        h('td', null, phaseBadge(n.phase || 'QUEUED')),
        h('td', null, n.attempts || 0),
        h('td', null, n.error ? `${n.error.kind || ''} ${n.error.code || ''}: ${n.error.message || ''}` : '')));
    }
    if (ids.length > shown.length) add(tbody, h('tr', null, h('td', { colspan: 5 }, `${ids.length - shown.length} more: find them by name in the graph.`)));
  }

  // --- the timeline
  const tl = h('div', { class: 'timeline' });
  tab('timeline', 'Timeline', tl);
  function drawTimeline() {
    clear(tl);
    const t0 = new Date(ex.started_at || ex.created_at).getTime();
    const t1 = ex.finished_at ? new Date(ex.finished_at).getTime() : Date.now();
    const span = Math.max(1, t1 - t0);
    const bars = [];
    for (const [nid, n] of state.nodes) {
      for (const a of n.attempt_log || []) if (a.started_at) bars.push({ nid, a: a.attempt, phase: a.phase, s: new Date(a.started_at).getTime(), e: a.finished_at ? new Date(a.finished_at).getTime() : t1, worker: a.worker });
    }
    bars.sort((x, y) => x.s - y.s);
    add(tl, h('p', { class: 'hint' }, `${bars.length} attempts over ${fmtDuration(span)}${bars.length > 1000 ? ': the first 1000 shown' : ''}.`));
    for (const b of bars.slice(0, 1000)) {
      const left = ((b.s - t0) / span) * 100, width = Math.max(0.3, ((b.e - b.s) / span) * 100);
      add(tl, h('div', { class: 'tl-row' },
        h('button', { type: 'button', class: 'link tl-name', onclick: () => select(b.nid) }, `${b.nid} #${b.a}`),
        h('div', { class: 'tl-track' }, h('div', { class: `tl-bar phase-${b.phase.toLowerCase()}`, style: null, title: `${b.phase} ${fmtDuration(b.e - b.s)} on ${b.worker || '?'}`, dataset: { left: left.toFixed(2), width: width.toFixed(2) } }))));
    }
    // Positions through CSSOM (the policy allows no inline style attributes).
    for (const el of tl.querySelectorAll('.tl-bar')) { el.style.left = `${el.dataset.left}%`; el.style.width = `${el.dataset.width}%`; }
  }

  // --- head and actions
  function drawHead() {
    add(clear(head), h('dl', { class: 'facts' },
      h('dt', null, 'Phase'), h('dd', { id: 'exec-phase' }, phaseBadge(ex.phase)),
      h('dt', null, 'Workflow'), h('dd', null, h('a', { href: `#/workflows/${encodeURIComponent(ex.workflow.name)}?version=${encodeURIComponent(ex.workflow.version)}` }, `${ex.workflow.name}@${ex.workflow.version}`)),
      ex.launch_plan ? [h('dt', null, 'Launch plan'), h('dd', null, h('a', { href: `#/launchplans/${encodeURIComponent(ex.launch_plan.name)}` }, ex.launch_plan.name))] : null,
      h('dt', null, 'Project'), h('dd', null, `${ex.project} / ${ex.domain}`),
      h('dt', null, 'Created'), h('dd', null, fmtTime(ex.created_at)),
      h('dt', null, 'Duration'), h('dd', null, fmtDuration(duration(ex.started_at, ex.finished_at))),
      h('dt', null, 'By'), h('dd', null, ex.requested_by || '—'),
      ex.parent ? [h('dt', null, 'Parent'), h('dd', null, h('a', { href: `#/executions/${encodeURIComponent(ex.parent.execution)}?node=${encodeURIComponent(ex.parent.node)}` }, `${ex.parent.execution} / ${ex.parent.node}`))] : null,
      ex.source_execution ? [h('dt', null, 'From'), h('dd', null, h('a', { href: `#/executions/${encodeURIComponent(ex.source_execution)}` }, ex.source_execution))] : null,
      (ex.children || []).length ? [h('dt', null, 'Children'), h('dd', null, ex.children.map((c) => h('a', { class: 'child', href: `#/executions/${encodeURIComponent(c.id)}` }, `${c.node}: ${c.phase}`)))] : null,
      h('dt', null, 'Inputs'), h('dd', null, h('code', null, JSON.stringify(ex.inputs || {}))),
      ex.outputs ? [h('dt', null, 'Outputs'), h('dd', { id: 'exec-outputs' }, h('code', null, JSON.stringify(ex.outputs)))] : null,
      ex.error ? [h('dt', null, 'Error'), h('dd', { class: 'error', id: 'exec-error' }, typeof ex.error === 'string' ? ex.error : JSON.stringify(ex.error))] : null));
    clear(actions);
    const act = async (what, path, body, then) => {
      try {
        const r = await api(path, { method: 'POST', body });
        toast(`${what}: done`);
        if (then) then(r);
      } catch (e) { toast(`${what}: ${e.message}`, 'bad'); }
    };
    if (!TERMINAL.has(ex.phase)) {
      add(actions, h('button', { type: 'button', class: 'danger', onclick: () => {
        if (confirm(`Terminate ${ex.id}?`)) act('Terminate', `api/v1/executions/${encodeURIComponent(ex.id)}/terminate`, { reason: 'terminated from the console' });
      } }, 'Terminate'));
    }
    add(actions, h('button', { type: 'button', onclick: () => act('Relaunch', `api/v1/executions/${encodeURIComponent(ex.id)}/relaunch`, {}, (r) => go(`#/executions/${encodeURIComponent(r.id)}`)) }, 'Relaunch'));
    if (TERMINAL.has(ex.phase) && ex.phase !== 'SUCCEEDED') {
      add(actions, h('button', { type: 'button', onclick: () => act('Recover', `api/v1/executions/${encodeURIComponent(ex.id)}/recover`, {}, (r) => go(`#/executions/${encodeURIComponent(r.id)}`)) }, 'Recover'));
    }
  }

  // --- nodes
  let panel = null;
  function select(nid) {
    state.selected = nid;
    const top = specById.has(nid) ? nid : nid.split('.')[0];
    if (graph.index.has(top)) graph.select(top); else if (graph.index.has(nid)) graph.select(nid);
    const p = new URLSearchParams(location.hash.split('?')[1] || '');
    p.set('node', nid);
    history.replaceState(null, '', `#/executions/${encodeURIComponent(ex.id)}?${p}`);
    if (panel) panel.close();
    panel = nodePanel(clear(aside), state, nid);
  }

  async function snapshot() {
    const [e2, ns] = await Promise.all([api(`api/v1/executions/${encodeURIComponent(id)}`), api(`api/v1/executions/${encodeURIComponent(id)}/nodes`)]);
    Object.assign(ex, e2);
    state.nodes = new Map(ns.items.map((n) => [n.id, n]));
    drawHead();
    repaintPhases();
    if (current === 'table') drawTable();
    if (current === 'timeline') drawTimeline();
    if (panel) panel.refresh();
  }
  function onPhase(c) {
    if (!c.node) {
      ex.phase = c.phase;
      if (TERMINAL.has(c.phase)) snapshot(); else drawHead();
      return;
    }
    const n = state.nodes.get(c.node) || { id: c.node, attempts: 0 };
    // An older change than the one held (the snapshot raced it) is ignored.
    if ((n.attempts || 0) > c.attempt || (n.attempts === c.attempt && TERMINAL.has(n.phase) && !TERMINAL.has(c.phase))) return;
    n.phase = c.phase;
    n.attempts = Math.max(n.attempts || 0, c.attempt);
    if (c.error_kind) n.error = { kind: c.error_kind, message: c.message };
    state.nodes.set(c.node, n);
    if (built) {
      if (graph.index.has(c.node) && !specById.has(c.node)) {
        graph.setPhase(c.node, c.phase); /* an item of an expanded map */
      } else if (specById.has(c.node)) {
        const g = built.nodes.find((x) => x.members.includes(c.node));
        if (g) graph.setPhase(g.id, groupPhase(g.members.map(phaseOf)));
      }
    }
    if (panel && (state.selected === c.node || (state.selected && c.node.startsWith(`${state.selected}.`)))) panel.refresh();
  }

  // The nodes first, so that the graph's first picture is already the right one.
  await snapshot();
  rebuild();
  show('graph');
  if (state.selected) select(state.selected);
  const sub = TERMINAL.has(ex.phase) ? null : feed({ execution: ex.id }, {
    onReady: snapshot,
    onPhase,
    onState: (s) => { live.textContent = s === 'live' ? '● live' : '○ reconnecting…'; },
  });
  return () => { if (sub) sub.close(); if (panel) panel.close(); graph.destroy(); };
}
