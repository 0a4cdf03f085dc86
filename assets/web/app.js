// inference-lab serve: the page. Plain JS, no build step; charts with the vendored uPlot.
//
// The page's state is {base, edits}: where the config starts (a shipped config or uploaded
// TOML) and the form's edits, each [path, value] with the value in `--set` syntax. Every
// change goes to POST /api/config, and the form shows the config the server says will run.
'use strict';

(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  const GIB = 1073741824;
  const DIST_PARAMS = {
    fixed: [['value', 'int']],
    uniform: [['min', 'int'], ['max', 'int']],
    normal: [['mean', 'float'], ['std_dev', 'float']],
    lognormal: [['mean', 'float'], ['std_dev', 'float']],
  };
  const DIST_LABELS = { value: 'Value', min: 'Min', max: 'Max', mean: 'Mean', std_dev: 'Std dev' };
  const LATENCY = [
    ['ttft_ms', 'TTFT', 'time to first token'],
    ['e2e_ms', 'E2E', 'request latency'],
    ['tpot_ms', 'TPOT', 'time per output token'],
    ['itl_ms', 'ITL', 'inter-token latency'],
  ];
  const STATS = ['min', 'mean', 'p50', 'p90', 'p99'];

  // ---- state ----
  const pageId = randomId();
  let catalog = null;
  let state = { base: null, edits: [] };
  let configSeq = 0; // the latest /api/config request
  let configTimer = null;
  let configPromise = null;
  let lastReply = null;
  let uploadName = null;
  const localErrors = new Map(); // data-key -> message (input that does not parse)
  let run = null; // the latest run: {id, source, total, failures}
  let submitting = false; // Run pressed, the server's answer not yet in
  let lastResult = null;
  let tsRows = [];
  let tsInterval = 1;
  let tsDirty = false;
  let histDirty = false;
  let currentTab = 'results';
  const charts = { ts: [], hist: [] };

  // ---- small helpers ----
  function randomId() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  const fmt3 = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 3 });
  // A number as the page shows it: 3 significant digits, thousands separated.
  function fmt(v) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
    return fmt3.format(v);
  }
  function fmtPct(v) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
    return fmt3.format(v * 100);
  }
  function fmtInt(v) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
    return Math.round(v).toLocaleString('en-US');
  }
  // A value for an input: no float noise (989.5, not 989.4999999).
  function plain(v) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return '';
    return String(Number(v.toPrecision(12)));
  }
  function el(tag, attrs = {}, ...children) {
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
  function getPath(obj, path) {
    let node = obj;
    for (const part of path.split('.')) {
      if (node === null || typeof node !== 'object') return undefined;
      node = node[part];
    }
    return node;
  }

  async function api(method, url, body) {
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
  function showBanner(message) {
    $('#banner-text').textContent = message;
    $('#banner').hidden = false;
  }
  function hideBanner() {
    $('#banner').hidden = true;
    $('#banner-text').textContent = '';
  }

  // ---- share link ----
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
  function stateFromHash() {
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
  function writeHash() {
    const url = location.pathname + location.search + hashFor(state);
    history.replaceState(null, '', url);
  }
  function clearHash() {
    history.replaceState(null, '', location.pathname + location.search);
  }

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
    // The server rebuilds [hardware] from the preset alone, and a GPU preset's peak FLOP/s
    // depends on the weights' width: the width chosen so far stays (a new GPU, same model).
    if (path === 'hardware.preset') {
      const bits = $('[data-key="hardware.bytes_per_param"]').value;
      if (bits) state.edits.push(['hardware.bytes_per_param', bits]);
    }
    changed();
  }
  function setBase(base, name) {
    state = { base, edits: [] };
    uploadName = name || null;
    localErrors.clear();
    renderStartFrom();
    changed(true);
  }
  function changed(now) {
    writeHash();
    scheduleConfig(now ? 0 : 250);
  }

  // ---- /api/config ----
  function scheduleConfig(delay) {
    document.body.dataset.config = 'pending';
    clearTimeout(configTimer);
    configTimer = setTimeout(() => {
      configTimer = null;
      configPromise = requestConfig();
    }, delay);
  }
  // Waits for the form's config to be current (a pending edit sent and answered).
  async function configSettled() {
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
    lastReply = r;
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
    document.body.dataset.config = r.ok && localErrors.size === 0 ? 'ok' : 'error';
    updateButtons();
  }

  // ---- errors beside fields ----
  function fieldFor(key) {
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
  function setFieldError(key, message) {
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
  let configErrorInBanner = false;
  function showConfigError(error) {
    clearFieldErrors();
    for (const [key, message] of localErrors) setFieldError(key, message);
    if (configErrorInBanner) {
      hideBanner();
      configErrorInBanner = false;
    }
    if (!error) return;
    const field = fieldFor(error.key);
    if (field && setFieldError(field.dataset.key, error.message)) return;
    showBanner(error.message);
    configErrorInBanner = true;
  }

  // ---- the form ----
  function fillSelect(select, options) {
    select.replaceChildren(...options.map(([value, label, extra]) => {
      const o = el('option', { value, text: label });
      if (extra && extra.disabled) o.disabled = true;
      return o;
    }));
  }
  function renderStartFrom() {
    const select = $('#start-from');
    const options = catalog.configs.map((c) => [c.name, c.name]);
    if (state.base && state.base.toml !== undefined) {
      options.unshift(['__upload__', 'Uploaded: ' + (uploadName || 'TOML')]);
    }
    fillSelect(select, options);
    for (const o of $$('option', select)) {
      const c = catalog.configs.find((x) => x.name === o.value);
      if (c && c.title) o.title = c.title;
    }
    select.value = state.base && state.base.config !== undefined ? state.base.config : '__upload__';
    if (select.value === '' && state.base && state.base.config) {
      // A shipped name this server does not have (an old link): the server's error says so.
      select.append(el('option', { value: state.base.config, text: state.base.config }));
      select.value = state.base.config;
    }
    const chosen = catalog.configs.find((x) => state.base && x.name === state.base.config);
    $('#start-title').textContent = chosen ? chosen.title : '';
  }
  function buildDistFields() {
    for (const fs of $$('fieldset.dist')) {
      const key = fs.dataset.dist;
      const typeSelect = el('select', { 'data-key': key, 'data-kind': 'dist', 'aria-label': 'Distribution' });
      fillSelect(typeSelect, (catalog.length_dists || Object.keys(DIST_PARAMS)).map((t) => [t, t]));
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
  function setupForm() {
    const gpuOptions = catalog.gpus.map((g) => [g.key, `${g.name} (${g.key})`]);
    fillSelect($('#f-hw-preset'), [['', 'Custom (the fields below)'], ...gpuOptions]);
    const modelOptions = catalog.models.map((m) => [m.key, m.summary ? `${m.key}: ${m.summary}` : m.key]);
    fillSelect($('#f-hf'), [['', 'Custom (the fields below)'], ...modelOptions]);
    fillSelect($('#f-policy'), catalog.policies.map((p) => [p, p]));
    fillSelect($('#arrival-pattern'), catalog.arrival_patterns.map((p) => [p.value, p.label]));
    buildDistFields();
    const maxReq = catalog.limits && catalog.limits.max_requests;
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
            if (document.body.dataset.config !== 'pending' && lastReply && lastReply.config) {
              renderForm(lastReply.config);
            }
          }, 0);
        });
      }
    }
  }

  // The text a field shows for a config value.
  function displayValue(input, v) {
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
  function tomlValue(input) {
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
    const old = lastReply && lastReply.config ? getPath(lastReply.config, fs.dataset.dist) : null;
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
      for (const p of $$('input[data-param]', fs)) localErrors.delete(p.dataset.key);
      try {
        setEdit(fs.dataset.dist, distTable(fs));
      } catch (e) {
        localErrors.set(e.key, e.message);
        showConfigError(lastReply ? lastReply.error : null);
        document.body.dataset.config = 'error';
        updateButtons();
      }
      return;
    }
    localErrors.delete(key);
    let value;
    try {
      value = tomlValue(input);
    } catch (e) {
      localErrors.set(key, e.message);
      showConfigError(lastReply ? lastReply.error : null);
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
    const info = catalog.arrival_patterns.find((p) => p.value === pattern);
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
      if (localErrors.has(key)) continue; // keep what was typed until it is fixed
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
      if (input === focused || localErrors.has(input.dataset.key)) continue;
      const v = dist[input.dataset.param];
      input.value = v === undefined ? '' : plain(v);
    }
  }
  function renderGpuHint(config) {
    const key = getPath(config, 'hardware.preset');
    const g = key && catalog.gpus.find((x) => x.key === key);
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
    const pat = catalog.arrival_patterns.find((p) => p.value === w.arrival_pattern);
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

  // ---- runs ----
  function setRunState(s) {
    document.body.dataset.state = s;
    updateButtons();
  }
  function runActive() {
    const s = document.body.dataset.state;
    return run !== null && (s === 'queued' || s === 'running');
  }
  function updateButtons() {
    const active = runActive();
    $('#run').disabled = active || submitting;
    $('#stop').disabled = !active;
    $('#download-json').disabled = !lastResult;
  }

  async function startRun() {
    if (runActive() || submitting) return;
    hideBanner();
    configErrorInBanner = false;
    // From the click on, the page is waiting for its run: no stale "done" in between.
    const before = document.body.dataset.state;
    run = null;
    submitting = true;
    setRunState('queued');
    const giveUp = (s) => {
      submitting = false;
      setRunState(s);
    };
    await configSettled();
    // A config the server has already refused is not sent: its error is beside its field.
    if (localErrors.size || (lastReply && !lastReply.ok)) {
      const key = localErrors.size ? localErrors.keys().next().value : lastReply.error && lastReply.error.key;
      const field = fieldFor(key);
      if (field && field.offsetParent !== null) {
        field.scrollIntoView({ block: 'center' });
        field.focus();
      } else if (lastReply && lastReply.error) {
        showBanner(lastReply.error.message);
        configErrorInBanner = true;
      }
      giveUp(before);
      return;
    }
    const speedText = $('#speed').value;
    const interval = Number($('#interval').value);
    if (!(interval > 0)) {
      showBanner('The time-series interval must be a positive number of seconds.');
      giveUp(before);
      return;
    }
    const body = {
      page: pageId,
      base: state.base,
      edits: state.edits,
      speed: speedText === '' ? null : Number(speedText),
      interval,
    };
    let reply;
    try {
      reply = await api('POST', '/api/runs', body);
    } catch (e) {
      showBanner('The server did not answer: ' + e.message);
      giveUp('error');
      return;
    }
    if (reply.status !== 202 || !reply.json || !reply.json.id) {
      const err = reply.json && reply.json.error ? reply.json.error : { key: null, message: `HTTP ${reply.status}` };
      const field = reply.status === 400 ? fieldFor(err.key) : null;
      if (!(field && setFieldError(field.dataset.key, err.message))) showBanner(err.message);
      giveUp('error');
      return;
    }
    submitting = false;
    run = { id: reply.json.id, source: null, total: null, failures: 0 };
    tsRows = [];
    tsInterval = interval;
    document.body.dataset.progress = '0';
    tsDirty = true;
    drawTimeseriesSoon();
    showStatus('Queued', [['runs ahead', reply.json.position ?? 0]], 0);
    setRunState('queued');
    listen(run);
  }

  function listen(r) {
    const source = new EventSource(`/api/runs/${encodeURIComponent(r.id)}/events`);
    r.source = source;
    const data = (ev) => {
      try {
        return JSON.parse(ev.data);
      } catch (_) {
        return {};
      }
    };
    const finish = () => {
      source.close();
      if (run === r) run.source = null;
    };
    source.addEventListener('queued', (ev) => {
      const d = data(ev);
      showStatus('Queued', [['runs ahead', d.position ?? 0]], null);
      setRunState('queued');
    });
    source.addEventListener('started', (ev) => {
      const d = data(ev);
      r.total = d.total ?? null;
      showStatus('Running', [['simulated', '0 s'], ['done', `0 / ${r.total ?? '?'}`]], r.total ? 0 : -1);
      setRunState('running');
    });
    source.addEventListener('progress', (ev) => {
      const d = data(ev);
      if (document.body.dataset.state === 'queued') setRunState('running');
      const total = d.total ?? r.total;
      showStatus('Running', [
        ['simulated', `${fmt(d.now)} s`],
        ['done', `${fmtInt(d.completed)} / ${total == null ? '?' : fmtInt(total)}`],
        ['running', fmtInt(d.running)],
        ['waiting', fmtInt(d.waiting)],
        ['KV use', `${fmtPct(d.kv_cache_util)} %`],
        ['steps', fmtInt(d.steps)],
        ['wall', `${fmt(d.wall_s)} s`],
      ], total ? d.completed / total : -1);
      const n = Number(document.body.dataset.progress || 0);
      document.body.dataset.progress = String(n + 1);
    });
    source.addEventListener('points', (ev) => {
      const d = data(ev);
      for (const row of d.rows || []) addRow(row);
      tsDirty = true;
      drawTimeseriesSoon();
    });
    source.addEventListener('result', (ev) => {
      finish();
      const d = data(ev);
      lastResult = d;
      showResult(d);
      const done = getPath(d, 'json.requests.completed');
      const total = getPath(d, 'json.requests.total');
      showStatus('Done', [
        ['simulated', `${fmt(getPath(d, 'json.simulation.simulated_seconds'))} s`],
        ['done', `${fmtInt(done)} / ${fmtInt(total)}`],
        ['wall', `${fmt(d.wall_s)} s`],
      ], 1);
      setRunState('done');
    });
    source.addEventListener('cancelled', (ev) => {
      finish();
      const d = data(ev);
      showStatus('Stopped', [['at', `${fmt(d.now)} s simulated`], ['completed', fmtInt(d.completed)]], null);
      setRunState('cancelled');
    });
    // `error` is both the run's own event (with data) and EventSource's connection error.
    source.addEventListener('error', (ev) => {
      if (typeof ev.data === 'string') {
        finish();
        const d = data(ev);
        showBanner('The run failed: ' + (d.message || ev.data));
        showStatus('Failed', [], null);
        setRunState('error');
        return;
      }
      if (run !== r || !runActive()) return;
      r.failures += 1;
      if (source.readyState === EventSource.CLOSED || r.failures >= 3) {
        finish();
        showBanner('Lost the connection to the server while the run was going.');
        setRunState('error');
      }
    });
  }

  async function stopRun() {
    if (!run) return;
    $('#stop').disabled = true;
    try {
      const reply = await api('POST', `/api/runs/${encodeURIComponent(run.id)}/stop`);
      if (!reply.ok) {
        showBanner('Stop: ' + (reply.json && reply.json.error ? reply.json.error.message : `HTTP ${reply.status}`));
        updateButtons();
      }
    } catch (e) {
      showBanner('The server did not answer: ' + e.message);
      updateButtons();
    }
  }

  function showStatus(title, items, fraction) {
    $('#status').hidden = false;
    $('#status-title').textContent = title;
    $('#status-items').replaceChildren(...items.map(([k, v]) => el('span', {}, k + ' ', el('b', { text: String(v) }))));
    const bar = $('#progress-bar');
    if (fraction === -1) {
      bar.classList.add('indeterminate');
      bar.style.width = '';
    } else {
      bar.classList.remove('indeterminate');
      bar.style.width = fraction === null ? bar.style.width : `${Math.max(0, Math.min(1, fraction)) * 100}%`;
    }
  }

  // ---- results ----
  function metricSpan(name, v, text) {
    const attrs = { class: 'num', 'data-metric': name, text };
    if (typeof v === 'number') attrs['data-value'] = String(v);
    return el('span', attrs);
  }
  function card(label, name, v, text, unit) {
    return el('div', { class: 'card' },
      el('div', { class: 'label', text: label }),
      el('div', { class: 'value' }, metricSpan(name, v, text), unit ? el('span', { class: 'unit', text: unit }) : null));
  }
  function strip(stats) {
    const vals = STATS.map((s) => stats[s]).filter((v) => typeof v === 'number' && Number.isFinite(v));
    const box = el('div', { class: 'strip' });
    if (!vals.length) return box;
    const lo = Math.min(...vals);
    const hi = Math.max(...vals);
    const pos = (v) => (hi > lo ? ((v - lo) / (hi - lo)) * 96 + 2 : 50);
    box.append(el('div', { class: 'axis' }));
    if (typeof stats.p50 === 'number' && typeof stats.p90 === 'number') {
      const a = pos(stats.p50);
      box.append(el('div', { class: 'range', style: `left:${a}%;width:${pos(stats.p90) - a}%` }));
    }
    for (const s of STATS) {
      const v = stats[s];
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      box.append(el('div', { class: `mark ${s}`, style: `left:${pos(v)}%`, title: `${s} ${fmt(v)} ms` }));
    }
    box.append(el('span', { class: 'lo', text: fmt(lo) }), el('span', { class: 'hi', text: `${fmt(hi)} ms` }));
    return box;
  }
  function showResult(d) {
    const j = d.json || {};
    $('#results-empty').hidden = true;
    $('#results-body').hidden = false;

    const lat = $('#latency');
    const nodes = [el('span', { class: 'head' })];
    for (const s of STATS) nodes.push(el('span', { class: 'head num', text: s }));
    nodes.push(el('span', { class: 'head key' }, 'min–p99: ',
      ...['mean', 'p50', 'p90', 'p99'].map((k) => el('span', { class: `swatch ${k}`, text: k }))));
    for (const [key, label, what] of LATENCY) {
      const stats = getPath(j, `latency_metrics.${key}`);
      if (!stats) continue;
      nodes.push(el('div', { class: 'row-line' }));
      nodes.push(el('span', { class: 'name' }, label, el('small', { text: what })));
      for (const s of STATS) nodes.push(metricSpan(`${key}.${s}`, stats[s], fmt(stats[s])));
      nodes.push(strip(stats));
    }
    lat.replaceChildren(...nodes);

    const tp = j.throughput_metrics || {};
    $('#throughput').replaceChildren(
      card('Requests', 'throughput_metrics.requests_per_sec', tp.requests_per_sec, fmt(tp.requests_per_sec), 'req/s'),
      card('Output tokens', 'throughput_metrics.output_tokens_per_sec', tp.output_tokens_per_sec,
        fmt(tp.output_tokens_per_sec), 'tok/s'),
      card('Input tokens', 'throughput_metrics.input_tokens_per_sec', tp.input_tokens_per_sec,
        fmt(tp.input_tokens_per_sec), 'tok/s'),
      card('Output per GPU', 'metrics.output_tokens_per_s_per_gpu', getPath(j, 'metrics.output_tokens_per_s_per_gpu'),
        fmt(getPath(j, 'metrics.output_tokens_per_s_per_gpu')), 'tok/s'),
    );
    const u = j.utilization || {};
    $('#utilization').replaceChildren(
      card('Compute (FLOPs)', 'utilization.avg_flops_util', u.avg_flops_util, fmtPct(u.avg_flops_util), '%'),
      card('Memory bandwidth', 'utilization.avg_bandwidth_util', u.avg_bandwidth_util, fmtPct(u.avg_bandwidth_util), '%'),
      card('KV cache', 'utilization.avg_kv_cache_util', u.avg_kv_cache_util, fmtPct(u.avg_kv_cache_util), '%'),
      card('Busy', 'utilization.busy_fraction', u.busy_fraction, fmtPct(u.busy_fraction), '%'),
    );
    const req = j.requests || {};
    const sim = j.simulation || {};
    const completed = el('div', { class: 'card' },
      el('div', { class: 'label', text: 'Requests completed' }),
      el('div', { class: 'value' },
        metricSpan('requests.completed', req.completed, fmtInt(req.completed)),
        el('span', { class: 'unit', text: ' / ' }),
        metricSpan('requests.total', req.total, fmtInt(req.total))));
    $('#runinfo').replaceChildren(
      completed,
      card('Simulated time', 'simulation.simulated_seconds', sim.simulated_seconds, fmt(sim.simulated_seconds), 's'),
      card('Preemptions', 'preemptions.total', getPath(j, 'preemptions.total'), fmtInt(getPath(j, 'preemptions.total'))),
      card('Prefix cache hits', 'prefix_cache.hit_rate', getPath(j, 'prefix_cache.hit_rate'),
        fmtPct(getPath(j, 'prefix_cache.hit_rate')), '%'),
      card('Steps', 'simulation.steps', sim.steps, fmtInt(sim.steps)),
    );
    $('#step-model').textContent = j.step_model || '';
    const over = $('#overload-note');
    over.hidden = !j.overloaded;
    over.textContent = j.overloaded
      ? 'Overloaded: requests arrived faster than they were served, so latencies grew through the run' +
        (getPath(j, 'metrics.load_verdict') ? ` (${getPath(j, 'metrics.load_verdict')}).` : '.')
      : '';

    if (d.timeseries && Array.isArray(d.timeseries.rows)) {
      tsRows = d.timeseries.rows.slice();
      if (d.timeseries.interval_s) tsInterval = d.timeseries.interval_s;
      tsDirty = true;
      drawTimeseriesSoon();
    }
    histDirty = true;
    if (currentTab === 'histograms') drawHistograms();
    updateButtons();
  }

  // ---- time series ----
  function addRow(row) {
    const last = tsRows[tsRows.length - 1];
    if (!last || row.time_s > last.time_s) {
      tsRows.push(row);
      return;
    }
    const i = tsRows.findIndex((r) => r.time_s === row.time_s);
    if (i >= 0) tsRows[i] = row;
    else {
      tsRows.push(row);
      tsRows.sort((a, b) => a.time_s - b.time_s);
    }
  }
  const TS_CHARTS = [
    { title: 'Requests running and waiting', y: 'requests',
      series: [['running', 'running', '#2563eb'], ['waiting', 'waiting', '#d97706']] },
    { title: 'KV cache use', y: '%',
      series: [['kv_cache_util', 'KV cache use %', '#7c3aed', 100]] },
    { title: 'Tokens per interval', y: 'tokens',
      series: [['prefill_tokens', 'prefill', '#0891b2'], ['decode_tokens', 'decode', '#16a34a']] },
    { title: 'Throughput', y: 'tokens/s',
      series: [['input_tokens_per_s', 'input tok/s', '#0891b2'], ['output_tokens_per_s', 'output tok/s', '#16a34a']] },
    { title: 'Latency over time', y: 'ms',
      series: [['ttft_ms_mean', 'TTFT mean ms', '#dc2626'], ['tpot_ms_mean', 'TPOT mean ms', '#2563eb']] },
  ];
  let tsFrame = 0;
  function drawTimeseriesSoon() {
    if (tsFrame) return;
    tsFrame = requestAnimationFrame(() => {
      tsFrame = 0;
      if (currentTab === 'timeseries') drawTimeseries();
    });
  }
  function plotWidth(box) {
    return Math.max(240, Math.floor(box.clientWidth || box.parentElement.clientWidth || 400));
  }
  function tsData(spec) {
    const xs = tsRows.map((r) => r.time_s);
    const ys = spec.series.map(([col, , , mult]) => tsRows.map((r) => {
      const v = r[col];
      return typeof v === 'number' && Number.isFinite(v) ? (mult ? v * mult : v) : null;
    }));
    return [xs, ...ys];
  }
  function drawTimeseries() {
    if (!tsDirty && charts.ts.length) return;
    tsDirty = false;
    const box = $('#ts-charts');
    $('#ts-empty').hidden = tsRows.length > 0;
    const note = $('#ts-note');
    note.hidden = tsRows.length === 0;
    note.textContent = `One point per ${fmt(tsInterval)} s of simulated time` +
      (runActive() ? ' (provisional while the run goes).' : '.');
    if (!charts.ts.length) {
      if (!tsRows.length) return;
      box.replaceChildren();
      for (const spec of TS_CHARTS) {
        const plot = el('div', { class: 'plot' });
        box.append(el('div', { class: 'chart' }, el('h3', { text: spec.title }), plot));
        const opts = {
          width: plotWidth(plot),
          height: 220,
          scales: { x: { time: false } },
          axes: [{ label: 'simulated time (s)', size: 40 }, { label: spec.y, size: 60 }],
          series: [{ label: 't (s)', value: (u, v) => (v == null ? '—' : fmt(v)) },
            ...spec.series.map(([, label, color]) => ({
              label, stroke: color, width: 1.5, spanGaps: false,
              value: (u, v) => (v == null ? '—' : fmt(v)),
            }))],
        };
        charts.ts.push(new uPlot(opts, tsData(spec), plot));
      }
      return;
    }
    TS_CHARTS.forEach((spec, i) => charts.ts[i].setData(tsData(spec)));
  }
  function resetTimeseriesCharts() {
    for (const c of charts.ts) c.destroy();
    charts.ts = [];
    $('#ts-charts').replaceChildren();
    tsDirty = true;
  }

  // ---- histograms ----
  const HISTS = [
    ['ttft_ms', 'TTFT', 'ms', '#dc2626'],
    ['e2e_ms', 'End-to-end latency', 'ms', '#d97706'],
    ['tpot_ms', 'Time per output token', 'ms', '#2563eb'],
    ['prompt_tokens', 'Prompt length', 'tokens', '#0891b2'],
    ['output_tokens', 'Output length', 'tokens', '#16a34a'],
  ];
  function drawHistograms() {
    if (!histDirty) return;
    histDirty = false;
    for (const c of charts.hist) c.destroy();
    charts.hist = [];
    const box = $('#hist-charts');
    box.replaceChildren();
    const hs = lastResult && lastResult.histograms;
    $('#hist-empty').hidden = !!hs;
    if (!hs) return;
    for (const [key, title, unit, color] of HISTS) {
      const h = hs[key];
      const plot = el('div', { class: 'plot' });
      let sub = '';
      if (h && h.samples < h.of) sub = `sample of ${fmtInt(h.samples)} of ${fmtInt(h.of)} requests`;
      else if (h) sub = `${fmtInt(h.of)} requests`;
      box.append(el('div', { class: 'chart', 'data-hist': key },
        el('h3', { text: `${title} (${unit})` }), el('p', { class: 'sub', text: sub }), plot));
      if (!h || !h.counts || !h.counts.length) {
        plot.textContent = 'no values';
        plot.classList.add('empty');
        continue;
      }
      const edges = h.edges;
      const xs = h.counts.map((_, i) => (edges[i] + edges[i + 1]) / 2);
      const ys = h.counts.map((c) => (c > 0 ? c : null)); // an empty bin draws nothing
      const width = edges[edges.length - 1] - edges[0];
      // One bin (every value the same): room either side, so the bar reads as one value.
      const pad = h.counts.length === 1 ? Math.max(1, width) * 2 : 0;
      const lo = edges[0] - pad;
      const hi = edges[edges.length - 1] + pad;
      const opts = {
        width: plotWidth(plot),
        height: 200,
        legend: { show: false },
        cursor: { points: { show: false } },
        scales: { x: { time: false, range: () => [lo, hi] }, y: { range: (u, mn, mx) => [0, Math.max(1, mx) * 1.05] } },
        axes: [{ label: unit, size: 40 }, { label: 'requests', size: 60 }],
        series: [{}, {
          label: 'requests', stroke: color, fill: color + '99', width: 1,
          paths: uPlot.paths.bars({ size: [1, 80], gap: 1 }),
          points: { show: false },
        }],
      };
      charts.hist.push(new uPlot(opts, [xs, ys], plot));
    }
  }

  // ---- tabs ----
  function showTab(name) {
    currentTab = name;
    for (const b of $$('.tabs button')) b.setAttribute('aria-selected', String(b.dataset.tab === name));
    for (const p of $$('.panel')) p.hidden = p.id !== `tab-${name}`;
    if (name === 'timeseries') {
      tsDirty = true;
      drawTimeseries();
    } else if (name === 'histograms') {
      drawHistograms();
    } else if (name === 'sweeps') {
      loadSweeps();
    }
  }
  // Charts follow their container's width.
  let resizeTimer = null;
  function onResize() {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const c of [...charts.ts, ...charts.hist]) {
        const box = c.root.parentElement;
        if (box && box.clientWidth) c.setSize({ width: plotWidth(box), height: c.height });
      }
    }, 100);
  }

  // ---- sweeps ----
  async function loadSweeps() {
    const list = $('#sweeps-list');
    let reply;
    try {
      reply = await api('GET', '/api/sweeps');
    } catch (e) {
      showBanner('The server did not answer: ' + e.message);
      return;
    }
    if (!reply.ok || !reply.json) {
      showBanner('Sweeps: ' + (reply.json && reply.json.error ? reply.json.error.message : `HTTP ${reply.status}`));
      return;
    }
    $('#sweeps-root').textContent = reply.json.root || '';
    const folders = reply.json.folders || [];
    if (!folders.length) {
      list.replaceChildren(el('li', { class: 'muted', text: 'No sweep results there yet: run inference-lab sweep -o into it.' }));
      return;
    }
    list.replaceChildren(...folders.map((f) => {
      const meta = [];
      if (typeof f.runs === 'number') meta.push(`${fmtInt(f.runs)} runs`);
      if (typeof f.points === 'number') meta.push(`${fmtInt(f.points)} points`);
      if (f.modified) meta.push(String(f.modified));
      else if (typeof f.modified_unix_s === 'number') meta.push(new Date(f.modified_unix_s * 1000).toLocaleString());
      const b = el('button', { type: 'button' }, el('b', { text: f.name }),
        el('span', { class: 'meta', text: meta.join(', ') }));
      b.addEventListener('click', () => {
        for (const x of $$('button', list)) x.classList.toggle('active', x === b);
        const frame = $('#sweep-frame');
        frame.hidden = false;
        frame.src = `/sweeps/${encodeURIComponent(f.name)}/report.html`;
      });
      return el('li', {}, b);
    }));
  }

  // ---- downloads, copy, share ----
  function download(name, text, type) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const a = el('a', { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }
  async function copyText(text, note) {
    try {
      await navigator.clipboard.writeText(text);
      note.textContent = 'Copied.';
    } catch (_) {
      note.textContent = 'Could not copy here: select the text and copy it.';
    }
    note.hidden = false;
    setTimeout(() => { note.textContent = ''; }, 4000);
  }

  // ---- wiring ----
  function wire() {
    $('#banner-close').addEventListener('click', hideBanner);
    $('#start-from').addEventListener('change', (ev) => {
      const v = ev.target.value;
      if (v === '__upload__') return;
      setBase({ config: v });
    });
    $('#upload').addEventListener('change', async (ev) => {
      const file = ev.target.files && ev.target.files[0];
      if (!file) return;
      const limit = catalog.limits && catalog.limits.max_body_bytes;
      if (limit && file.size > limit) {
        showBanner(`${file.name} is larger than the server takes (${fmtInt(limit / 1024)} KiB).`);
        ev.target.value = '';
        return;
      }
      const text = await file.text();
      ev.target.value = '';
      hideBanner();
      setBase({ toml: text }, file.name);
    });
    $('#run').addEventListener('click', startRun);
    $('#stop').addEventListener('click', stopRun);
    $('#reset').addEventListener('click', () => {
      state = { base: { config: catalog.default_config }, edits: [] };
      uploadName = null;
      localErrors.clear();
      renderStartFrom();
      clearHash();
      hideBanner();
      scheduleConfig(0);
    });
    $('#share').addEventListener('click', () => {
      writeHash();
      const note = $('#share-note');
      copyText(location.href, note).then(() => {
        if (note.textContent.startsWith('Could not')) note.textContent = 'Share this link: ' + location.href;
        else note.textContent = 'Link copied.';
      });
    });
    $('#copy-toml').addEventListener('click', () => copyText($('#config-toml').textContent, $('#copy-note')));
    $('#download-toml').addEventListener('click', () => download('inference-lab.toml', $('#config-toml').textContent, 'application/toml'));
    $('#download-json').addEventListener('click', () => {
      if (lastResult) download('results.json', lastResult.json_text, 'application/json');
    });
    for (const b of $$('.tabs button')) b.addEventListener('click', () => showTab(b.dataset.tab));
    window.addEventListener('resize', onResize);
    window.addEventListener('hashchange', () => {
      const s = stateFromHash();
      if (!s) return;
      state = s;
      uploadName = null;
      localErrors.clear();
      renderStartFrom();
      scheduleConfig(0);
    });
    // A page that goes away stops its run.
    window.addEventListener('pagehide', () => {
      if (runActive() && navigator.sendBeacon) navigator.sendBeacon(`/api/runs/${encodeURIComponent(run.id)}/stop`);
    });
    $('#form').addEventListener('submit', (ev) => ev.preventDefault());
  }

  async function init() {
    wire();
    let reply;
    try {
      reply = await api('GET', '/api/catalog');
    } catch (e) {
      showBanner('Cannot reach the server: ' + e.message);
      return;
    }
    if (!reply.ok || !reply.json) {
      showBanner('The catalog did not load: HTTP ' + reply.status);
      return;
    }
    catalog = reply.json;
    $('#version').textContent = catalog.version ? 'v' + catalog.version : '';
    if (catalog.sweeps) $('.tabs button[data-tab="sweeps"]').hidden = false;
    setupForm();
    state = stateFromHash() || { base: { config: catalog.default_config }, edits: [] };
    if (state.base.toml !== undefined) uploadName = 'from the link';
    renderStartFrom();
    resetTimeseriesCharts();
    updateButtons();
    configPromise = requestConfig();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
