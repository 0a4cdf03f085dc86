// inference-lab serve, the page: the form on the left. An edit becomes [path, value] in
// state.edits (the value in `--set` syntax) and, after a short pause, goes to POST /api/config
// with state.base; the answer is the config that will run, and the form shows that (not what
// was typed), with the server's error beside the field it names, and the TOML, warnings and
// derived numbers in their places. Text that is not a number never reaches the server: its
// message stays beside its field (state.localErrors) until it is fixed. The form itself is
// built from the server's catalog (GPUs, models, policies, arrival patterns, limits).

import { state } from './app.js';
import { updateButtons } from './run.js';
import {
  $, $$, DIST_LABELS, DIST_PARAMS, GIB, api, displayValue, el, fillSelect, fmt, getPath, hideBanner, plain,
  showBanner, tomlValue, writeHash,
} from './util.js';

let configSeq = 0; // the latest /api/config request
let configTimer = null;
let configPromise = null;

// ---- edits ----
function setEdit(path, value) {
  state.edits = state.edits.filter(([p]) => p !== path);
  state.edits.push([path, value]);
  changed();
}
function choosePreset(path, value) {
  const section = path.split('.')[0] + '.';
  state.edits = state.edits.filter(([p]) => !p.startsWith(section));
  state.edits.push([path, value]);
  // The server rebuilds [hardware] from the preset, keeping the base's weight width; the
  // width shown (perhaps edited, an edit the filter above dropped) stays: a new GPU, same
  // model. A GPU preset's peak FLOP/s depends on it.
  if (path === 'hardware.preset') {
    const bits = $('[data-key="hardware.bytes_per_param"]').value;
    if (bits) state.edits.push(['hardware.bytes_per_param', bits]);
  }
  changed();
}
export function setBase(base, name) {
  state.base = base;
  state.edits = [];
  state.uploadName = name || null;
  state.localErrors.clear();
  renderStartFrom();
  changed(true);
}
function changed(now) {
  writeHash(state);
  scheduleConfig(now ? 0 : 250);
}

// ---- /api/config ----
export function scheduleConfig(delay) {
  document.body.dataset.config = 'pending';
  clearTimeout(configTimer);
  configTimer = setTimeout(() => {
    configTimer = null;
    configPromise = requestConfig();
  }, delay);
}
// Waits for the form's config to be current (a pending edit sent and answered).
export async function configSettled() {
  for (;;) {
    if (configTimer !== null) {
      clearTimeout(configTimer);
      configTimer = null;
      configPromise = requestConfig();
    }
    const p = configPromise;
    if (!p) return;
    await p;
    if (p === configPromise && configTimer === null) return;
  }
}
// The first config, at load: sent at once.
export function requestConfigNow() {
  configPromise = requestConfig();
}
async function requestConfig() {
  const seq = ++configSeq;
  document.body.dataset.config = 'pending';
  let reply;
  try {
    reply = await api('POST', '/api/config', { base: state.base, edits: state.edits });
  } catch (e) {
    if (seq === configSeq) {
      document.body.dataset.config = 'error';
      showBanner('The server did not answer: ' + e.message);
    }
    return;
  }
  if (seq !== configSeq) return; // a newer edit is on its way
  if (!reply.ok || !reply.json || typeof reply.json.ok !== 'boolean') {
    document.body.dataset.config = 'error';
    const msg = reply.json && reply.json.error ? reply.json.error.message : 'HTTP ' + reply.status;
    showBanner('The config could not be checked: ' + msg);
    return;
  }
  applyConfigReply(reply.json);
}
function applyConfigReply(r) {
  state.lastReply = r;
  if (r.config) renderForm(r.config);
  showConfigError(r.error);
  $('#config-toml').textContent = r.toml || (r.error ? `# No TOML: ${r.error.message}` : '');
  const warnings = Array.isArray(r.warnings) ? r.warnings : [];
  const list = $('#warnings');
  list.replaceChildren(...warnings.map((w) => el('li', { text: w })));
  $('#warnings-box').hidden = warnings.length === 0;
  // The sidebar shows what the KV cache holds; the Config tab all that the config implies.
  const derived = (r.derived || '').split('; ').filter(Boolean);
  $('#derived').textContent = derived.find((d) => d.startsWith('KV blocks')) || '';
  $('#derived-list').replaceChildren(...derived.map((d) => el('li', { text: d })));
  $('#derived-box').hidden = derived.length === 0;
  document.body.dataset.config = r.ok && state.localErrors.size === 0 ? 'ok' : 'error';
  updateButtons();
}

// ---- errors beside fields ----
export function fieldFor(key) {
  if (!key) return null;
  let best = null;
  for (const input of $$('[data-key]')) {
    const k = input.dataset.key;
    if ((key === k || key.startsWith(k + '.')) && (!best || k.length > best.dataset.key.length)) {
      best = input;
    }
  }
  return best;
}
function errorBoxFor(key) {
  return $$('.field-error').find((e) => e.dataset.errorFor === key) || null;
}
export function setFieldError(key, message) {
  const box = errorBoxFor(key);
  if (!box) return false;
  box.textContent = message;
  box.hidden = false;
  const input = $$('[data-key]').find((i) => i.dataset.key === key);
  if (input) input.classList.add('invalid');
  // The section holding it opens, so that the message is seen.
  const details = box.closest('details');
  if (details) details.open = true;
  return true;
}
function clearFieldErrors() {
  for (const box of $$('.field-error')) {
    box.hidden = true;
    box.textContent = '';
  }
  for (const input of $$('[data-key].invalid')) input.classList.remove('invalid');
}
function showConfigError(error) {
  clearFieldErrors();
  for (const [key, message] of state.localErrors) setFieldError(key, message);
  if (state.configErrorInBanner) {
    hideBanner();
    state.configErrorInBanner = false;
  }
  if (!error) return;
  const field = fieldFor(error.key);
  if (field && setFieldError(field.dataset.key, error.message)) return;
  showBanner(error.message);
  state.configErrorInBanner = true;
}

// ---- the form ----
export function renderStartFrom() {
  const select = $('#start-from');
  const options = state.catalog.configs.map((c) => [c.name, c.name]);
  if (state.base && state.base.toml !== undefined) {
    options.unshift(['__upload__', 'Uploaded: ' + (state.uploadName || 'TOML')]);
  }
  fillSelect(select, options);
  for (const o of $$('option', select)) {
    const c = state.catalog.configs.find((x) => x.name === o.value);
    if (c && c.title) o.title = c.title;
  }
  select.value = state.base && state.base.config !== undefined ? state.base.config : '__upload__';
  if (select.value === '' && state.base && state.base.config) {
    // A shipped name this server does not have (an old link): the server's error says so.
    select.append(el('option', { value: state.base.config, text: state.base.config }));
    select.value = state.base.config;
  }
  const chosen = state.catalog.configs.find((x) => state.base && x.name === state.base.config);
  $('#start-title').textContent = chosen ? chosen.title : '';
}
function buildDistFields() {
  for (const fs of $$('fieldset.dist')) {
    const key = fs.dataset.dist;
    const typeSelect = el('select', { 'data-key': key, 'data-kind': 'dist', 'aria-label': 'Distribution' });
    fillSelect(typeSelect, (state.catalog.length_dists || Object.keys(DIST_PARAMS)).map((t) => [t, t]));
    fs.append(typeSelect, el('div', { class: 'field-error', 'data-error-for': key, hidden: true }));
    const params = el('div', { class: 'dist-params' });
    for (const name of ['value', 'min', 'max', 'mean', 'std_dev']) {
      const id = 'f-' + key.replace(/\W/g, '-') + '-' + name;
      const input = el('input', {
        id, type: 'text', inputmode: 'decimal', 'data-key': `${key}.${name}`, 'data-kind': 'distparam',
        'data-param': name,
      });
      const wrap = el('div', { 'data-param-wrap': name },
        el('label', { for: id, text: DIST_LABELS[name] }), input,
        el('div', { class: 'field-error', 'data-error-for': `${key}.${name}`, hidden: true }));
      params.append(wrap);
    }
    fs.append(params);
  }
}
export function setupForm() {
  const gpuOptions = state.catalog.gpus.map((g) => [g.key, `${g.name} (${g.key})`]);
  fillSelect($('#f-hw-preset'), [['', 'Custom (the fields below)'], ...gpuOptions]);
  const modelOptions = state.catalog.models.map((m) => [m.key, m.summary ? `${m.key}: ${m.summary}` : m.key]);
  fillSelect($('#f-hf'), [['', 'Custom (the fields below)'], ...modelOptions]);
  fillSelect($('#f-policy'), state.catalog.policies.map((p) => [p, p]));
  fillSelect($('#arrival-pattern'), state.catalog.arrival_patterns.map((p) => [p.value, p.label]));
  buildDistFields();
  const maxReq = state.catalog.limits && state.catalog.limits.max_requests;
  if (maxReq) $('#f-nreq').max = String(maxReq);
  for (const input of $$('[data-key]')) {
    const kind = input.dataset.kind;
    if (input.tagName === 'SELECT' || kind === 'bool') {
      input.addEventListener('change', () => onFieldEdit(input));
    } else {
      input.addEventListener('input', () => onFieldEdit(input));
      input.addEventListener('change', () => onFieldEdit(input));
      // Leaving a field shows what the server made of it.
      input.addEventListener('blur', () => {
        setTimeout(() => {
          if (document.body.dataset.config !== 'pending' && state.lastReply && state.lastReply.config) {
            renderForm(state.lastReply.config);
          }
        }, 0);
      });
    }
  }
}

function distTable(fs) {
  const key = fs.dataset.dist;
  const type = $(`select[data-key="${key}"]`, fs).value;
  const parts = [`type = ${JSON.stringify(type)}`];
  for (const [name, kind] of DIST_PARAMS[type] || []) {
    const input = $(`input[data-param="${name}"]`, fs);
    const text = input.value.trim();
    const n = Number(text);
    if (text === '' || !Number.isFinite(n)) {
      const err = new Error(text === '' ? 'enter a number' : `"${text}" is not a number`);
      err.key = input.dataset.key;
      throw err;
    }
    if (kind === 'int' && !Number.isInteger(n)) {
      const err = new Error(`"${text}" is not a whole number`);
      err.key = input.dataset.key;
      throw err;
    }
    parts.push(`${name} = ${String(n)}`);
  }
  return `{ ${parts.join(', ')} }`;
}
// A new distribution type keeps the current one's typical length.
function distDefaults(fs, newType) {
  const old = state.lastReply && state.lastReply.config ? getPath(state.lastReply.config, fs.dataset.dist) : null;
  let center = 512;
  if (old && typeof old === 'object') {
    if (old.type === 'fixed') center = old.value;
    else if (old.type === 'uniform') center = (old.min + old.max) / 2;
    else if (old.type === 'normal') center = old.mean;
    else if (old.type === 'lognormal') center = Math.exp(old.mean);
  }
  center = Math.max(1, Math.round(center || 512));
  switch (newType) {
    case 'fixed': return { value: center };
    case 'uniform': return { min: Math.max(1, Math.round(center / 2)), max: Math.round(center * 1.5) };
    case 'normal': return { mean: center, std_dev: Math.max(1, Math.round(center / 4)) };
    case 'lognormal': return { mean: Number(Math.log(center).toFixed(2)), std_dev: 0.5 };
    default: return {};
  }
}

function onFieldEdit(input) {
  const key = input.dataset.key;
  const kind = input.dataset.kind;
  if (kind === 'preset') {
    if (input.value === '') return; // "Custom" only shows that no preset is in use
    choosePreset(key, JSON.stringify(input.value));
    return;
  }
  if (kind === 'dist' || kind === 'distparam') {
    const fs = input.closest('fieldset.dist');
    if (kind === 'dist') {
      const defaults = distDefaults(fs, input.value);
      for (const [name, v] of Object.entries(defaults)) $(`input[data-param="${name}"]`, fs).value = String(v);
      showDistParams(fs, input.value);
    }
    for (const p of $$('input[data-param]', fs)) state.localErrors.delete(p.dataset.key);
    try {
      setEdit(fs.dataset.dist, distTable(fs));
    } catch (e) {
      state.localErrors.set(e.key, e.message);
      showConfigError(state.lastReply ? state.lastReply.error : null);
      document.body.dataset.config = 'error';
      updateButtons();
    }
    return;
  }
  state.localErrors.delete(key);
  let value;
  try {
    value = tomlValue(input);
  } catch (e) {
    state.localErrors.set(key, e.message);
    showConfigError(state.lastReply ? state.lastReply.error : null);
    document.body.dataset.config = 'error';
    updateButtons();
    return;
  }
  setEdit(key, value);
  if (key === 'workload.arrival_pattern') showPatternFields(input.value);
}

function showDistParams(fs, type) {
  const names = (DIST_PARAMS[type] || []).map(([n]) => n);
  for (const wrap of $$('[data-param-wrap]', fs)) wrap.hidden = !names.includes(wrap.dataset.paramWrap);
}
function showPatternFields(pattern) {
  const info = state.catalog.arrival_patterns.find((p) => p.value === pattern);
  const show = {
    rate: !!(info && info.uses_rate),
    cv: pattern === 'gamma' || pattern === 'weibull',
    closed_loop: pattern === 'closed_loop',
    burst: pattern === 'burst',
  };
  for (const w of $$('.when')) w.hidden = !show[w.dataset.show];
}

// Shows the effective config in the form, leaving alone the field being typed in.
function renderForm(config) {
  const focused = document.activeElement;
  for (const input of $$('[data-key]')) {
    if (input === focused && input.tagName === 'INPUT' && input.type !== 'checkbox') continue;
    const key = input.dataset.key;
    const kind = input.dataset.kind;
    if (state.localErrors.has(key)) continue; // keep what was typed until it is fixed
    if (kind === 'distparam') continue; // below, with their distribution
    if (kind === 'dist') {
      renderDist(input.closest('fieldset.dist'), getPath(config, key), focused);
      continue;
    }
    let v;
    if (key === 'parallel.tensor_parallel_size') v = getPath(config, key) ?? 1;
    else v = getPath(config, key);
    if (kind === 'bool') {
      input.checked = !!v;
    } else if (kind === 'preset') {
      const custom = input.querySelector('option[value=""]');
      custom.disabled = !!v;
      if (v && !input.querySelector(`option[value="${CSS.escape(String(v))}"]`)) {
        input.append(el('option', { value: String(v), text: String(v) }));
      }
      input.value = v ? String(v) : '';
    } else if (input.tagName === 'SELECT') {
      const text = v === undefined || v === null ? '' : plain(v) || String(v);
      if (text !== '' && !$$('option', input).some((o) => o.value === text)) {
        const label = key === 'hardware.bytes_per_param' ? `${text} bytes/param` : text;
        input.append(el('option', { value: text, text: label }));
      }
      input.value = text;
    } else {
      input.value = displayValue(input, v);
    }
  }
  showPatternFields(getPath(config, 'workload.arrival_pattern'));
  renderGpuHint(config);
  renderSummaries(config);
}
function renderDist(fs, dist, focused) {
  const typeSelect = $('select[data-kind="dist"]', fs);
  let empty = $('option[value=""]', typeSelect);
  if (!dist) {
    if (!empty) {
      empty = el('option', { value: '', text: '(default)' });
      empty.disabled = true;
      typeSelect.prepend(empty);
    }
    typeSelect.value = '';
    showDistParams(fs, '');
    return;
  }
  if (empty) empty.remove();
  if (typeSelect !== focused) typeSelect.value = dist.type;
  showDistParams(fs, dist.type);
  for (const input of $$('input[data-param]', fs)) {
    if (input === focused || state.localErrors.has(input.dataset.key)) continue;
    const v = dist[input.dataset.param];
    input.value = v === undefined ? '' : plain(v);
  }
}
function renderGpuHint(config) {
  const key = getPath(config, 'hardware.preset');
  const g = key && state.catalog.gpus.find((x) => x.key === key);
  if (!g) {
    $('#gpu-hint').textContent = '';
    return;
  }
  const tf = (x) => (x ? fmt(x / 1e12) : '—');
  $('#gpu-hint').textContent = `${fmt(g.memory_bytes / GIB)} GiB, ${fmt(g.memory_bandwidth / 1e12)} TB/s; ` +
    `TFLOP/s BF16 ${tf(g.flops.bf16)}, FP8 ${tf(g.flops.fp8)}, FP4 ${tf(g.flops.fp4)}`;
}
function renderSummaries(config) {
  const tp = getPath(config, 'parallel.tensor_parallel_size') || 1;
  const hw = config.hardware || {};
  const bits = hw.bytes_per_param ? `${Math.round(hw.bytes_per_param * 8)}-bit` : '';
  const m = config.model || {};
  const s = config.scheduler || {};
  const w = config.workload || {};
  const pat = state.catalog.arrival_patterns.find((p) => p.value === w.arrival_pattern);
  let load = pat ? pat.label : w.arrival_pattern || '';
  if (w.arrival_pattern === 'closed_loop') load = `${w.num_concurrent_users} users`;
  else if (pat && pat.uses_rate && w.arrival_rate != null) load = `${pat.label} ${plain(w.arrival_rate)}/s`;
  const notes = {
    hardware: [hw.name, tp > 1 ? `TP=${tp}` : null, bits].filter(Boolean).join(', '),
    model: m.name || '',
    scheduler: [s.policy, s.max_num_batched_tokens != null ? `${s.max_num_batched_tokens} tok` : null]
      .filter(Boolean).join(', '),
    workload: [load, w.num_requests != null ? `${w.num_requests} req` : null].filter(Boolean).join(', '),
  };
  for (const span of $$('[data-summary]')) span.textContent = notes[span.dataset.summary] || '';
}
