// inference-lab serve, the page: what the other modules share. The constants of the form and
// the results, the number formats (3 significant digits, en-US separators: the browser check
// compares the page's text with them), a field's text to and from its config value (scaled
// units, exact decimals), small DOM helpers, the JSON call to the server, the banner, and the
// share link (the page's {base, edits} in the URL's #s=). It imports nothing and keeps no
// state, so any module may import it without an import cycle.

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

export const GIB = 1073741824;
export const DIST_PARAMS = {
  fixed: [['value', 'int']],
  uniform: [['min', 'int'], ['max', 'int']],
  normal: [['mean', 'float'], ['std_dev', 'float']],
  lognormal: [['mean', 'float'], ['std_dev', 'float']],
};
export const DIST_LABELS = { value: 'Value', min: 'Min', max: 'Max', mean: 'Mean', std_dev: 'Std dev' };
export const LATENCY = [
  ['ttft_ms', 'TTFT', 'time to first token'],
  ['e2e_ms', 'E2E', 'request latency'],
  ['tpot_ms', 'TPOT', 'time per output token'],
  ['itl_ms', 'ITL', 'inter-token latency'],
];
export const STATS = ['min', 'mean', 'p50', 'p90', 'p99'];

// ---- small helpers ----
const fmt3 = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 3 });
// A number as the page shows it: 3 significant digits, thousands separated.
export function fmt(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  return fmt3.format(v);
}
export function fmtPct(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  return fmt3.format(v * 100);
}
export function fmtInt(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  return Math.round(v).toLocaleString('en-US');
}
// A value for an input: no float noise (989.5, not 989.4999999).
export function plain(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '';
  return String(Number(v.toPrecision(12)));
}
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}
export function fillSelect(select, options) {
  select.replaceChildren(...options.map(([value, label, extra]) => {
    const o = el('option', { value, text: label });
    if (extra && extra.disabled) o.disabled = true;
    return o;
  }));
}
export function getPath(obj, path) {
  let node = obj;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = node[part];
  }
  return node;
}

// ---- a field's text and its config value ----
// The text a field shows for a config value.
export function displayValue(input, v) {
  const kind = input.dataset.kind;
  if (v === undefined || v === null) return '';
  if (kind === 'string' || kind === 'preset') return String(v);
  if (typeof v !== 'number') return String(v);
  const scale = input.dataset.scale;
  if (scale === 'gib') return plain(v / GIB);
  if (scale) return plain(v / Number(scale));
  return plain(v);
}
// The TOML value a field's text gives, or throws with a message for the field.
export function tomlValue(input) {
  const kind = input.dataset.kind;
  if (kind === 'bool') return input.checked ? 'true' : 'false';
  const text = input.value.trim();
  if (kind === 'string' || kind === 'preset') return JSON.stringify(input.value);
  if (input.tagName === 'SELECT') return text;
  if (text === '') throw new Error('enter a number');
  const n = Number(text);
  if (!Number.isFinite(n)) throw new Error(`"${text}" is not a number`);
  const scale = input.dataset.scale;
  let raw = n;
  if (scale === 'gib') raw = n * GIB;
  // "989.5" TFLOP/s is 989.5e12 exactly as written (no 989.4999… from a multiplication).
  else if (scale) raw = /e/i.test(text) ? n * Number(scale) : Number(text + 'e' + Math.round(Math.log10(Number(scale))));
  if (kind === 'int') {
    if (!Number.isInteger(raw)) throw new Error(`"${text}" is not a whole number`);
    if (!Number.isSafeInteger(raw)) throw new Error(`"${text}" is too large`);
    return String(raw);
  }
  return tomlFloat(raw);
}
function tomlFloat(x) {
  // JS writes 1e21 as "1e+21": TOML reads that too. Integral values stay integers in TOML,
  // which the config reads as floats.
  return String(x);
}

export async function api(method, url, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  let json = null;
  try {
    json = await res.json();
  } catch (_) {
    json = null;
  }
  return { status: res.status, ok: res.ok, json };
}

// ---- banner ----
export function showBanner(message) {
  $('#banner-text').textContent = message;
  $('#banner').hidden = false;
}
export function hideBanner() {
  $('#banner').hidden = true;
  $('#banner-text').textContent = '';
}

// ---- share link ----
// The link carries only {base, edits} of the page state `s`, whatever else `s` holds.
function encodeState(s) {
  const bytes = new TextEncoder().encode(JSON.stringify({ base: s.base, edits: s.edits }));
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
function decodeState(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '==='.slice((b64.length + 3) % 4));
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  const s = JSON.parse(new TextDecoder().decode(bytes));
  const baseOk = s && s.base && (typeof s.base.config === 'string' || typeof s.base.toml === 'string');
  const editsOk = Array.isArray(s.edits) && s.edits.every(
    (e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && typeof e[1] === 'string');
  if (!baseOk || !editsOk) throw new Error('not a page state');
  return { base: s.base.config !== undefined ? { config: s.base.config } : { toml: s.base.toml }, edits: s.edits };
}
// The {base, edits} in the URL, or null (with a banner when it is there but unreadable).
export function stateFromHash() {
  const m = /^#s=([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (!m) return null;
  try {
    return decodeState(m[1]);
  } catch (e) {
    showBanner('The link\'s settings could not be read (' + e.message + '); starting from the defaults.');
    return null;
  }
}
function hashFor(s) {
  return '#s=' + encodeState(s);
}
export function writeHash(s) {
  const url = location.pathname + location.search + hashFor(s);
  history.replaceState(null, '', url);
}
export function clearHash() {
  history.replaceState(null, '', location.pathname + location.search);
}
