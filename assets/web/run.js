// inference-lab serve, the page: runs. Run sends the settled config to POST /api/runs (never one
// the server has already refused: that error is beside its field), then listens to the run's
// server-sent events (queued, started, progress, points, result, cancelled, error) with an
// EventSource and shows them in the status line, the time series and, at the end, the results;
// Stop asks the server to stop the run, and a page that goes away stops its run. The body's
// data-state (idle, queued, running, done, cancelled, error) colours the progress bar, and with
// data-progress (the progress events seen) it tells the browser check where the run is.

import { state } from './app.js';
import { addTimeseriesRows, resetTimeseries } from './charts.js';
import { configSettled, fieldFor, setFieldError } from './form.js';
import { showResult } from './results.js';
import { $, api, el, fmt, fmtInt, fmtPct, getPath, hideBanner, showBanner } from './util.js';

// A page's id, sent with its runs.
const pageId = randomId();
let run = null; // the latest run: {id, source, total, failures}
let submitting = false; // Run pressed, the server's answer not yet in

function randomId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// ---- runs ----
function setRunState(s) {
  document.body.dataset.state = s;
  updateButtons();
}
export function runActive() {
  const s = document.body.dataset.state;
  return run !== null && (s === 'queued' || s === 'running');
}
export function updateButtons() {
  const active = runActive();
  $('#run').disabled = active || submitting;
  $('#stop').disabled = !active;
  $('#download-json').disabled = !state.lastResult;
}

export async function startRun() {
  if (runActive() || submitting) return;
  hideBanner();
  state.configErrorInBanner = false;
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
  if (state.localErrors.size || (state.lastReply && !state.lastReply.ok)) {
    const key = state.localErrors.size
      ? state.localErrors.keys().next().value
      : state.lastReply.error && state.lastReply.error.key;
    const field = fieldFor(key);
    if (field && field.offsetParent !== null) {
      field.scrollIntoView({ block: 'center' });
      field.focus();
    } else if (state.lastReply && state.lastReply.error) {
      showBanner(state.lastReply.error.message);
      state.configErrorInBanner = true;
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
  resetTimeseries(interval);
  document.body.dataset.progress = '0';
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
    addTimeseriesRows(d.rows || []);
  });
  source.addEventListener('result', (ev) => {
    finish();
    const d = data(ev);
    state.lastResult = d;
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

export async function stopRun() {
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

// A page that goes away stops its run.
export function stopRunOnLeave() {
  if (runActive() && navigator.sendBeacon) navigator.sendBeacon(`/api/runs/${encodeURIComponent(run.id)}/stop`);
}
