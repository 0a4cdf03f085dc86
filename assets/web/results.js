// inference-lab serve, the page: the results and the tabs. A finished run's JSON (the CLI's
// `-o` document, the same numbers) fills the Results tab: the latency table with a strip per
// metric, and the throughput, utilisation and run cards. Every number shown carries
// data-metric (its path in that JSON) and data-value (the exact number), so the browser check
// compares each one with the CLI's. Also here: switching tabs, the Sweeps tab (the server's
// sweep folders and their reports), and downloads and copying to the clipboard.

import { state } from './app.js';
import { drawHistograms, newHistograms, setTimeseries, showTimeseries } from './charts.js';
import { updateButtons } from './run.js';
import { $, $$, LATENCY, STATS, api, el, fmt, fmtInt, fmtPct, getPath, showBanner } from './util.js';

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
export function showResult(d) {
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
    setTimeseries(d.timeseries.rows, d.timeseries.interval_s, d.timeseries.too_many);
  }
  newHistograms();
  updateButtons();
}

// ---- tabs ----
export function showTab(name) {
  state.currentTab = name;
  for (const b of $$('.tabs button')) b.setAttribute('aria-selected', String(b.dataset.tab === name));
  for (const p of $$('.panel')) p.hidden = p.id !== `tab-${name}`;
  if (name === 'timeseries') {
    showTimeseries();
  } else if (name === 'histograms') {
    drawHistograms();
  } else if (name === 'sweeps') {
    loadSweeps();
  }
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
export function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
export async function copyText(text, note) {
  try {
    await navigator.clipboard.writeText(text);
    note.textContent = 'Copied.';
  } catch (_) {
    note.textContent = 'Could not copy here: select the text and copy it.';
  }
  note.hidden = false;
  setTimeout(() => { note.textContent = ''; }, 4000);
}
