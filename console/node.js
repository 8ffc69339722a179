// The panel of one node: its phase and error, the answers a waiting gate takes, a map's
// items, inputs (read through the node's bindings) and outputs with blob downloads, and
// each attempt with its worker, timing and logs (followed while the attempt runs).
import { api, blobText, blobHex, download } from './api.js';
import { h, add, clear, phaseBadge, fmtTime, fmtDuration, duration, showValue, toast, TERMINAL } from './dom.js';

const LOG_MAX = 1 << 20;

function valueView(v, name) {
  if (v && typeof v === 'object' && typeof v.uri === 'string' && blobHex(v.uri)) {
    return h('span', null, h('code', null, `blob ${v.size ?? '?'} bytes`), ' ',
      h('button', { type: 'button', class: 'link', onclick: () => download(v.uri, name).catch((e) => toast(e.message, 'bad')) }, 'download'));
  }
  if (typeof v === 'string' && blobHex(v)) {
    return h('button', { type: 'button', class: 'link', onclick: () => download(v, name).catch((e) => toast(e.message, 'bad')) }, 'download blob');
  }
  return h('code', null, showValue(v));
}

function valuesTable(obj, caption) {
  const names = Object.keys(obj || {});
  if (!names.length) return h('p', { class: 'hint' }, `No ${caption.toLowerCase()}.`);
  return h('table', { class: 'kv' }, h('caption', null, caption),
    h('tbody', null, names.map((k) => h('tr', null, h('th', { scope: 'row' }, k), h('td', null, valueView(obj[k], k))))));
}

// What a node reads: each binding's value from the execution's inputs, an upstream node's
// outputs, or the literal.
function inputsOf(state, sn) {
  const out = {};
  for (const b of (sn && sn.inputs) || []) {
    if ('workflow_input' in b) out[b.name] = (state.ex.inputs || {})[b.workflow_input];
    else if (b.node_output) out[b.name] = ((state.nodes.get(b.node_output.node) || {}).outputs || {})[b.node_output.output];
    else if ('literal' in b) out[b.name] = b.literal;
  }
  return out;
}

function logViewer(state, nid, attempt, stream, entry, running) {
  const pre = h('pre', { class: 'log', tabindex: '0', 'aria-label': `${stream} of attempt ${attempt}` });
  const status = h('p', { class: 'hint', 'aria-live': 'polite' }, 'loading…');
  const box = h('div', { class: 'logbox' }, h('h3', null, `${stream} · attempt ${attempt}`), status, pre);
  let stop = false;
  let timer = null;
  const append = (t) => {
    pre.textContent += t;
    if (pre.textContent.length > LOG_MAX) pre.textContent = pre.textContent.slice(-LOG_MAX);
    pre.scrollTop = pre.scrollHeight;
  };
  async function whole(uri) {
    if (!uri) { status.textContent = `Nothing on ${stream}.`; return; }
    append(await blobText(uri, LOG_MAX));
    status.textContent = '';
  }
  async function follow(from) {
    if (stop) return;
    const r = await api(`api/v1/executions/${encodeURIComponent(state.ex.id)}/nodes/${encodeURIComponent(nid)}/logs`, { query: { attempt, stream, from } });
    for (const e of r.entries) append(await blobText(e.uri, LOG_MAX));
    if (r.complete) {
      status.textContent = r.entries.length || pre.textContent ? '' : `Nothing on ${stream}.`;
      return;
    }
    status.textContent = 'following…';
    timer = setTimeout(() => follow(r.next).catch((e) => { status.textContent = e.message; }), 1000);
  }
  (running ? follow(0) : whole(entry && entry[stream])).catch((e) => { status.textContent = e.message; });
  return { box, close() { stop = true; clearTimeout(timer); } };
}

function gateForm(state, nid, sn) {
  const gate = sn.gate || {};
  const type = typeof gate.type === 'string' ? gate.type : gate.type ? JSON.stringify(gate.type) : '';
  const comment = h('input', { id: 'gate-comment', size: 24 });
  const value = h('input', { id: 'gate-value', size: 16 });
  const send = async (verb, body) => {
    try {
      await api(`api/v1/executions/${encodeURIComponent(state.ex.id)}/nodes/${encodeURIComponent(nid)}/${verb}`, { method: 'POST', body });
      toast(`${nid}: ${verb} sent`);
    } catch (e) { toast(`${verb}: ${e.message}`, 'bad'); }
  };
  const parse = (s) => { try { return JSON.parse(s); } catch (e) { return s; } };
  if (gate.kind === 'signal') {
    return h('form', { class: 'gate', onsubmit: (e) => { e.preventDefault(); send('signal', { value: parse(value.value) }); } },
      h('label', { for: 'gate-value' }, `Value${type ? ` (${type})` : ''}`), value, h('button', { type: 'submit' }, 'Send signal'));
  }
  if (gate.kind === 'approve') {
    const body = () => { const b = { comment: comment.value }; if (value.value) b.value = parse(value.value); return b; };
    return h('form', { class: 'gate', onsubmit: (e) => e.preventDefault() },
      h('label', { for: 'gate-comment' }, 'Comment'), comment,
      type ? [h('label', { for: 'gate-value' }, `Value (${type})`), value] : null,
      h('button', { type: 'button', onclick: () => send('approve', body()) }, 'Approve'),
      h('button', { type: 'button', class: 'danger', onclick: () => send('reject', { comment: comment.value }) }, 'Reject'));
  }
  return null;
}

export function nodePanel(aside, state, nid) {
  const info = h('div');
  const logs = h('div');
  add(aside, info, logs);
  let viewer = null;
  const openLog = (attempt, stream, entry, running) => {
    if (viewer) viewer.close();
    viewer = logViewer(state, nid, attempt, stream, entry, running);
    add(clear(logs), viewer.box);
  };
  function render() {
    const n = state.nodes.get(nid) || { id: nid, phase: 'QUEUED', attempts: 0 };
    const sn = state.specById.get(nid);
    const items = [...state.nodes.values()].filter((x) => x.id.startsWith(`${nid}.`) && !state.specById.has(x.id));
    const counts = {};
    for (const it of items) counts[it.phase] = (counts[it.phase] || 0) + 1;
    const done = new Set((n.attempt_log || []).map((a) => a.attempt));
    const running = n.attempts && !done.has(n.attempts) && !TERMINAL.has(n.phase) ? n.attempts : 0;
    add(clear(info), 
      h('h2', null, nid, ' ', phaseBadge(n.phase)),
      h('p', { class: 'hint' }, sn ? `${sn.kind}` : 'an item of a map', n.map ? ` · ${n.map.items} items` : ''),
      n.error ? h('p', { class: 'error', role: 'alert' }, `${n.error.kind || ''} ${n.error.code || ''}: ${n.error.message || ''}`) : null,
      sn && sn.kind === 'gate' && n.phase === 'RUNNING' ? gateForm(state, nid, sn) : null,
      items.length ? h('div', { class: 'items' }, h('h3', null, `Items (${items.length})`),
        h('p', null, Object.entries(counts).map(([p, c]) => [phaseBadge(p), ` ${c} `])),
        h('ul', { class: 'itemlist' }, items.slice(0, 200).map((it) => h('li', null, h('button', { type: 'button', class: 'link', onclick: () => { state.selected = it.id; location.hash = `#/executions/${encodeURIComponent(state.ex.id)}?node=${encodeURIComponent(it.id)}`; } }, it.id), ' ', phaseBadge(it.phase))))) : null,
      valuesTable(inputsOf(state, sn), 'Inputs'),
      valuesTable(n.outputs, 'Outputs'),
      h('h3', null, 'Attempts'),
      h('table', { class: 'list attempts' },
        h('thead', null, h('tr', null, ['#', 'Phase', 'Worker', 'Started', 'Took', 'Error', 'Logs'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', null,
          (n.attempt_log || []).map((a) => h('tr', null, h('td', null, a.attempt), h('td', null, phaseBadge(a.phase)), h('td', null, a.worker || '—'),
            h('td', null, fmtTime(a.started_at)), h('td', null, fmtDuration(duration(a.started_at, a.finished_at))),
            h('td', { title: a.message || null }, a.error_code ? `${a.error_kind} ${a.error_code}` : ''),
            h('td', null, ['stdout', 'stderr'].map((s) => h('button', { type: 'button', class: 'link', onclick: () => openLog(a.attempt, s, a, false) }, s))))),
          running ? h('tr', null, h('td', null, running), h('td', null, phaseBadge(n.phase)), h('td', { colspan: 4 }, 'running'),
            h('td', null, ['stdout', 'stderr'].map((s) => h('button', { type: 'button', class: 'link', onclick: () => openLog(running, s, null, true) }, s)))) : null)));
    if (sn && sn.kind === 'task' && n.outputs) {
      add(info, h('p', null, h('a', { href: `#/lineage?execution=${encodeURIComponent(state.ex.id)}&node=${encodeURIComponent(nid)}` }, 'Lineage of its outputs')));
    }
  }
  render();
  return { refresh: render, close() { if (viewer) viewer.close(); } };
}
