// A DAG drawn on a canvas: layered by data edges (a node one column right of its deepest
// upstream), wide layers wrapped into several columns (as tall as makes the whole closest
// to a screen's shape), pan and zoom, hit testing, search.
// Built for 10,000 nodes: the layout is linear in nodes and edges, a frame draws only
// what is on screen, one path per colour, and nothing is drawn until something changed.
const W = 168, H = 30, GX = 56, GY = 12, ASPECT = 1.6;

export const PHASE_COLORS = {
  QUEUED: ['#eef1f5', '#5b6778'], READY: ['#e3ecfb', '#2f5fb3'], RUNNING: ['#fff2cc', '#8a6100'],
  RETRYING: ['#ffe1c2', '#9a4a00'], SUCCEEDED: ['#d9f2df', '#1d6b34'], CACHED: ['#d6efef', '#1b6363'],
  RECOVERED: ['#dcefd9', '#2d6b22'], FAILED: ['#fbdcdc', '#a11d1d'], TIMED_OUT: ['#f9dfe9', '#9b1c4f'],
  ABORTED: ['#e7e1f2', '#57407f'], SKIPPED: ['#f1f1f1', '#666666'], UNKNOWN: ['#ffffff', '#5b6778'],
};

export function layout(nodes, edges) {
  const n = nodes.length;
  const down = Array.from({ length: n }, () => []);
  const indeg = new Int32Array(n);
  for (const [a, b] of edges) { down[a].push(b); indeg[b]++; }
  const rank = new Int32Array(n);
  const order = [];
  const queue = [];
  for (let i = 0; i < n; i++) if (indeg[i] === 0) queue.push(i);
  for (let q = 0; q < queue.length; q++) {
    const i = queue[q];
    order.push(i);
    for (const j of down[i]) {
      if (rank[i] + 1 > rank[j]) rank[j] = rank[i] + 1;
      if (--indeg[j] === 0) queue.push(j);
    }
  }
  const layers = [];
  for (let i = 0; i < n; i++) (layers[rank[i]] ||= []).push(i);
  // Within a layer: by the mean row of the upstream nodes (fewer crossings), stable.
  const row = new Float64Array(n);
  const ups = Array.from({ length: n }, () => []);
  for (const [a, b] of edges) ups[b].push(a);
  const xs = new Float64Array(n), ys = new Float64Array(n);
  // The tallest column: the one whose drawing comes closest to ASPECT (width / height).
  const widths = layers.filter(Boolean).map((l) => l.length);
  const widest = Math.max(1, ...widths);
  let wrap = widest, best = Infinity;
  for (let hmax = 8; hmax < widest + 8; hmax = Math.ceil(hmax * 1.15)) {
    const h = Math.min(hmax, widest);
    let c = 0;
    for (const w of widths) c += Math.ceil(w / h);
    const miss = Math.abs(Math.log(((c * (W + GX)) / (h * (H + GY))) / ASPECT));
    if (miss < best) { best = miss; wrap = h; }
  }
  let col = 0;
  const cols = [];
  for (const layer of layers) {
    if (!layer) continue;
    const key = layer.map((i) => {
      const u = ups[i];
      let s = 0;
      for (const a of u) s += row[a];
      return [u.length ? s / u.length : i, i];
    });
    key.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
    const k = Math.ceil(key.length / wrap);
    const perCol = Math.ceil(key.length / k);
    for (let c = 0; c < k; c++) cols.push(key.slice(c * perCol, (c + 1) * perCol).map((p) => p[1]));
    let r = 0;
    for (const [, i] of key) row[i] = r++ / Math.max(1, key.length - 1);
    col += k;
  }
  const tallest = cols.reduce((m, c) => Math.max(m, c.length), 0);
  cols.forEach((c, ci) => {
    const off = ((tallest - c.length) * (H + GY)) / 2;
    c.forEach((i, ri) => { xs[i] = ci * (W + GX); ys[i] = off + ri * (H + GY); });
  });
  return { xs, ys, width: cols.length * (W + GX) - GX, height: tallest * (H + GY) - GY };
}

export class GraphView {
  constructor(parent, { onSelect, label } = {}) {
    this.onSelect = onSelect || (() => {});
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'graph';
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute('role', 'img');
    this.label = label || 'Graph of the nodes (arrow keys pan, + and - zoom, 0 fits; the Nodes tab lists them).';
    this.canvas.setAttribute('aria-label', this.label);
    parent.append(this.canvas);
    this.ctx = this.canvas.getContext('2d', { alpha: false });
    this.nodes = [];
    this.edges = [];
    this.s = 1; this.tx = 0; this.ty = 0;
    this.selected = -1;
    this.matches = new Set();
    this.pending = false;
    this.index = new Map();
    this.bind();
    this.resize = new ResizeObserver(() => this.size());
    this.resize.observe(this.canvas);
  }

  destroy() { this.resize.disconnect(); this.canvas.remove(); }

  setGraph(nodes, edges) {
    this.nodes = nodes;
    this.edges = edges;
    this.index = new Map(nodes.map((nd, i) => [nd.id, i]));
    const t0 = performance.now();
    this.lay = layout(nodes, edges);
    this.layoutMs = performance.now() - t0;
    this.counts = {};
    for (const nd of nodes) this.counts[nd.phase] = (this.counts[nd.phase] || 0) + 1;
    this.countsDirty = true;
    this.size();
    this.fit();
  }

  setPhase(id, phase) {
    const i = this.index.get(id);
    if (i === undefined || this.nodes[i].phase === phase) return;
    this.counts[this.nodes[i].phase]--;
    this.counts[phase] = (this.counts[phase] || 0) + 1;
    this.countsDirty = true;
    this.nodes[i].phase = phase;
    this.draw();
  }

  size() {
    const r = this.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.cw = Math.max(1, r.width); this.ch = Math.max(1, r.height);
    this.canvas.width = Math.round(this.cw * dpr);
    this.canvas.height = Math.round(this.ch * dpr);
    this.dpr = dpr;
    // Until someone pans or zooms, the whole graph stays in view. Painted now: a canvas
    // given a new size is blank until then.
    if (!this.moved) this.fit();
    this.paint();
  }

  fit() {
    this.moved = false;
    if (!this.lay) return;
    const pad = 24;
    const s = Math.min((this.cw - 2 * pad) / Math.max(1, this.lay.width), (this.ch - 2 * pad) / Math.max(1, this.lay.height), 1.2);
    this.s = Math.max(s, 0.005);
    this.tx = (this.cw - this.lay.width * this.s) / 2;
    this.ty = (this.ch - this.lay.height * this.s) / 2;
    this.draw();
  }

  center(i) {
    this.moved = true;
    this.s = Math.max(this.s, 0.8);
    this.tx = this.cw / 2 - (this.lay.xs[i] + W / 2) * this.s;
    this.ty = this.ch / 2 - (this.lay.ys[i] + H / 2) * this.s;
    this.draw();
  }

  select(id, centerIt) {
    const i = this.index.get(id);
    this.selected = i === undefined ? -1 : i;
    if (centerIt && i !== undefined) this.center(i); else this.draw();
  }

  // Marks the nodes whose id contains text; centres on the first. Their ids.
  find(text) {
    this.matches = new Set();
    const t = text.trim().toLowerCase();
    if (t) this.nodes.forEach((nd, i) => { if (nd.id.toLowerCase().includes(t)) this.matches.add(i); });
    const first = this.matches.values().next();
    if (!first.done) this.center(first.value); else this.draw();
    return [...this.matches].map((i) => this.nodes[i].id);
  }

  zoom(f, cx = this.cw / 2, cy = this.ch / 2) {
    this.moved = true;
    const s = Math.min(4, Math.max(0.005, this.s * f));
    this.tx = cx - ((cx - this.tx) * s) / this.s;
    this.ty = cy - ((cy - this.ty) * s) / this.s;
    this.s = s;
    this.draw();
  }

  pan(dx, dy) { this.moved = true; this.tx += dx; this.ty += dy; this.draw(); }

  hit(px, py) {
    const x = (px - this.tx) / this.s, y = (py - this.ty) / this.s;
    const { xs, ys } = this.lay;
    for (let i = 0; i < this.nodes.length; i++) {
      if (x >= xs[i] && x <= xs[i] + W && y >= ys[i] && y <= ys[i] + H) return i;
    }
    return -1;
  }

  bind() {
    const c = this.canvas;
    let drag = null;
    c.addEventListener('pointerdown', (e) => {
      drag = { x: e.clientX, y: e.clientY, moved: 0 };
      c.setPointerCapture(e.pointerId);
    });
    c.addEventListener('pointermove', (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      drag.moved += Math.abs(dx) + Math.abs(dy);
      drag.x = e.clientX; drag.y = e.clientY;
      this.pan(dx, dy);
    });
    c.addEventListener('pointerup', (e) => {
      if (drag && drag.moved < 5) {
        const r = c.getBoundingClientRect();
        const i = this.hit(e.clientX - r.left, e.clientY - r.top);
        if (i >= 0) { this.selected = i; this.draw(); this.onSelect(this.nodes[i].id); }
      }
      drag = null;
    });
    c.addEventListener('wheel', (e) => {
      e.preventDefault();
      const r = c.getBoundingClientRect();
      this.zoom(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    c.addEventListener('keydown', (e) => {
      const step = 60;
      const k = e.key;
      if (k === 'ArrowLeft') this.pan(step, 0);
      else if (k === 'ArrowRight') this.pan(-step, 0);
      else if (k === 'ArrowUp') this.pan(0, step);
      else if (k === 'ArrowDown') this.pan(0, -step);
      else if (k === '+' || k === '=') this.zoom(1.25);
      else if (k === '-') this.zoom(0.8);
      else if (k === '0') this.fit();
      else if (k === 'Enter' && this.selected >= 0) this.onSelect(this.nodes[this.selected].id);
      else return;
      e.preventDefault();
    });
  }

  // Coalesces redraws into the next animation frame.
  draw() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.paint(); });
  }

  paint() {
    const { ctx, s, tx, ty, dpr } = this;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#fbfcfe';
    ctx.fillRect(0, 0, this.cw, this.ch);
    if (!this.lay) return;
    const { xs, ys } = this.lay;
    const n = this.nodes.length;
    const x0 = -tx / s - W, x1 = (this.cw - tx) / s, y0 = -ty / s - H, y1 = (this.ch - ty) / s;
    ctx.setTransform(dpr * s, 0, 0, dpr * s, dpr * tx, dpr * ty);
    // Edges: one path; curves when few are on screen, lines when many.
    ctx.beginPath();
    let drawn = 0;
    const curves = this.edges.length < 3000;
    for (const [a, b] of this.edges) {
      const ax = xs[a] + W, ay = ys[a] + H / 2, bx = xs[b], by = ys[b] + H / 2;
      if ((ax < x0 && bx < x0) || (ax > x1 + W && bx > x1 + W) || (ay < y0 && by < y0) || (ay > y1 + H && by > y1 + H)) continue;
      ctx.moveTo(ax, ay);
      if (curves) { const mx = (ax + bx) / 2; ctx.bezierCurveTo(mx, ay, mx, by, bx, by); } else ctx.lineTo(bx, by);
      drawn++;
    }
    // Zoomed far out, edges are a haze behind the nodes: light and hairline.
    const far = s * H < 8;
    ctx.strokeStyle = far ? 'rgba(154, 166, 184, 0.35)' : '#9aa6b8';
    ctx.lineWidth = (far ? 0.5 : 1) / s;
    ctx.stroke();
    // Nodes by phase colour.
    const visible = [];
    for (let i = 0; i < n; i++) if (xs[i] >= x0 && xs[i] <= x1 && ys[i] >= y0 && ys[i] <= y1) visible.push(i);
    const byPhase = new Map();
    for (const i of visible) {
      const p = PHASE_COLORS[this.nodes[i].phase] ? this.nodes[i].phase : 'UNKNOWN';
      (byPhase.get(p) || byPhase.set(p, []).get(p)).push(i);
    }
    for (const [p, list] of byPhase) {
      ctx.beginPath();
      for (const i of list) ctx.rect(xs[i], ys[i], W, H);
      // Far out a node is a few pixels: its phase's strong colour, no outline.
      ctx.fillStyle = PHASE_COLORS[p][far ? 1 : 0];
      ctx.fill();
      if (!far) {
        ctx.strokeStyle = PHASE_COLORS[p][1];
        ctx.lineWidth = 1 / s;
        ctx.stroke();
      }
    }
    if (this.matches.size || this.selected >= 0) {
      ctx.lineWidth = Math.max(3, 3 / s);
      ctx.strokeStyle = '#d97706';
      ctx.beginPath();
      for (const i of this.matches) ctx.rect(xs[i] - 3, ys[i] - 3, W + 6, H + 6);
      ctx.stroke();
      if (this.selected >= 0) {
        ctx.strokeStyle = '#111827';
        ctx.strokeRect(xs[this.selected] - 4, ys[this.selected] - 4, W + 8, H + 8);
      }
    }
    // Labels only where they can be read.
    if (s * W > 70 && visible.length < 3000) {
      ctx.font = '12px system-ui, sans-serif';
      ctx.textBaseline = 'middle';
      for (const i of visible) {
        const nd = this.nodes[i];
        const p = PHASE_COLORS[nd.phase] ? nd.phase : 'UNKNOWN';
        ctx.fillStyle = PHASE_COLORS[p][1];
        let t = nd.label || nd.id;
        if (t.length > 24) t = `${Array.from(t).slice(0, 23).join('')}…`;
        ctx.fillText(t, xs[i] + 8, ys[i] + H / 2);
      }
    }
    this.lastDrawn = { nodes: visible.length, edges: drawn };
    if (this.countsDirty) {
      // What the picture shows, in words: for screen readers, and for the browser tests.
      this.countsDirty = false;
      const parts = Object.entries(this.counts).filter(([, c]) => c > 0).map(([p, c]) => `${c} ${p.toLowerCase()}`);
      this.canvas.dataset.phases = JSON.stringify(Object.fromEntries(Object.entries(this.counts).filter(([, c]) => c > 0)));
      this.canvas.setAttribute('aria-label', `${this.label} ${n} nodes: ${parts.join(', ')}.`);
    }
    this.canvas.dataset.state = 'ready';
  }
}
