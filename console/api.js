// The API from the browser: every request carries the signed-in token; errors are the
// API's {code, message, details}. Paths are relative to the page, so the console works
// behind a path prefix.
const TOKEN_KEY = 'floe.token';

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code ? body.code : 'unknown';
    this.details = body && body.details ? body.details : null;
  }
}

export function token() { return sessionStorage.getItem(TOKEN_KEY); }
export function setToken(t) { sessionStorage.setItem(TOKEN_KEY, t); }
export function clearToken() { sessionStorage.removeItem(TOKEN_KEY); }

let onUnauthenticated = () => {};
export function whenUnauthenticated(fn) { onUnauthenticated = fn; }

export function url(path, query) {
  const u = new URL(path.replace(/^\//, ''), document.baseURI);
  if (query) {
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, String(v));
    }
  }
  return u;
}

function headers(extra) {
  const h = Object.assign({}, extra || {});
  const t = token();
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

export async function api(path, { method = 'GET', query, body, raw, signal, signingIn } = {}) {
  const init = { method, headers: headers(), signal, cache: 'no-store' };
  if (body !== undefined) {
    if (raw) {
      init.body = body;
    } else {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
  }
  const res = await fetch(url(path, query), init);
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = { message: text.slice(0, 300) }; }
  if (!res.ok) {
    if (res.status === 401 && !signingIn) onUnauthenticated();
    throw new ApiError(res.status, json);
  }
  return json;
}

// A blob's bytes (up to max) as text, through the API.
export async function blobText(uri, max = 1 << 20) {
  const hex = blobHex(uri);
  if (!hex) throw new Error(`not a blob: ${uri}`);
  const res = await fetch(url(`api/v1/blobs/sha256/${hex}`),
    { headers: headers({ Range: `bytes=0-${max - 1}` }), cache: 'no-store' });
  if (!res.ok && res.status !== 206) throw new ApiError(res.status, await res.json().catch(() => null));
  return res.text();
}

export function blobHex(uri) {
  const m = /^floe:\/\/blobs\/sha256\/([0-9a-f]{64})$/.exec(String(uri || ''));
  return m ? m[1] : null;
}

// Saves a blob as a file: fetched with the token, handed to the browser as an object url.
export async function download(uri, name) {
  const hex = blobHex(uri);
  const res = await fetch(url(`api/v1/blobs/sha256/${hex}`), { headers: headers() });
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
  const obj = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = obj;
  a.download = name || hex.slice(0, 12);
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(obj), 10000);
}

// Stores a file's bytes as a blob; its uri.
export async function upload(file) {
  const r = await api('api/v1/blobs', { method: 'POST', body: file, raw: true });
  return r.uri;
}

// The live feed (docs/api.md#the-live-feed): server-sent events read with fetch (an
// EventSource cannot send the token). onReady runs when the stream starts and after each
// reconnection: read the snapshot then; onPhase gets every change after it.
export function feed(query, { onReady, onPhase, onState }) {
  let closed = false;
  let ctrl = null;
  let delay = 500;
  const state = (s) => { if (onState) onState(s); };
  async function run() {
    while (!closed) {
      ctrl = new AbortController();
      try {
        const res = await fetch(url('api/v1/feed', query),
          { headers: headers({ Accept: 'text/event-stream' }), signal: ctrl.signal, cache: 'no-store' });
        if (res.status === 401) { onUnauthenticated(); return; }
        if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let cut;
          while ((cut = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            let ev = 'message';
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) ev = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
            }
            if (ev === 'ready') { delay = 500; state('live'); await onReady(); }
            else if (ev === 'phase') onPhase(JSON.parse(data));
            else if (ev === 'error') throw new Error(JSON.parse(data).message);
          }
        }
      } catch (e) {
        if (closed) return;
        state('reconnecting');
      }
      if (closed) return;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15000);
    }
  }
  run();
  return { close() { closed = true; if (ctrl) ctrl.abort(); } };
}
