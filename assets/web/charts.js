// inference-lab serve, the page: the charts, drawn with uPlot (vendored; a classic script,
// /assets/vendor/uPlot.iife.min.js, that defines the global `uPlot` and is loaded before the
// page's modules). The time series fill in while a run goes, from the run's `points` events
// (one row per interval of simulated time, provisional while the run goes), and the result's
// rows replace them; the histograms are drawn from the result. Charts are drawn only while
// their tab shows, so that they take its width: data that comes in meanwhile marks them dirty,
// and opening the tab draws them. This module keeps the rows and the uPlot instances.

import { state } from './app.js';
import { runActive } from './run.js';
import { $, el, fmt, fmtInt } from './util.js';

let tsRows = [];
let tsInterval = 1;
let tsDirty = false;
let histDirty = false;
const charts = { ts: [], hist: [] };

// A new run: no rows yet, one point per `interval` s.
export function resetTimeseries(interval) {
  tsRows = [];
  tsTooMany = null;
  tsInterval = interval;
  tsDirty = true;
  drawTimeseriesSoon();
}
// Rows from a run's `points` event.
export function addTimeseriesRows(rows) {
  for (const row of rows) addRow(row);
  tsDirty = true;
  drawTimeseriesSoon();
}
// The final rows, with the run's result; `tooMany` (the server's limit on points) when the
// run had more intervals than the page is sent.
let tsTooMany = null;
export function setTimeseries(rows, interval, tooMany) {
  tsRows = tooMany ? [] : rows.slice();
  tsTooMany = tooMany || null;
  if (interval) tsInterval = interval;
  resetTimeseriesCharts();
  drawTimeseriesSoon();
}
// A new result: its histograms, drawn now if their tab shows.
export function newHistograms() {
  histDirty = true;
  if (state.currentTab === 'histograms') drawHistograms();
}
// The time-series tab opened: drawn afresh.
export function showTimeseries() {
  tsDirty = true;
  drawTimeseries();
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
    if (state.currentTab === 'timeseries') drawTimeseries();
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
  $('#ts-empty').hidden = tsRows.length > 0 || !!tsTooMany;
  const note = $('#ts-note');
  note.hidden = tsRows.length === 0 && !tsTooMany;
  note.textContent = tsTooMany
    ? `The run lasted more than ${fmtInt(tsTooMany)} intervals of ${fmt(tsInterval)} s, more ` +
      'than the page is sent: choose a longer time-series interval to see its time series.'
    : `One point per ${fmt(tsInterval)} s of simulated time` +
      (runActive() ? ', drawn as each interval closes.' : '.');
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
export function resetTimeseriesCharts() {
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
export function drawHistograms() {
  if (!histDirty) return;
  histDirty = false;
  for (const c of charts.hist) c.destroy();
  charts.hist = [];
  const box = $('#hist-charts');
  box.replaceChildren();
  const hs = state.lastResult && state.lastResult.histograms;
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

// Charts follow their container's width.
let resizeTimer = null;
export function onResize() {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    for (const c of [...charts.ts, ...charts.hist]) {
      const box = c.root.parentElement;
      if (box && box.clientWidth) c.setSize({ width: plotWidth(box), height: c.height });
    }
  }, 100);
}
