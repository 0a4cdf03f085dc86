// inference-lab serve: the page. Plain JS modules, no build step; charts with the vendored
// uPlot (a classic script loaded before this module, defining the global `uPlot`).
//
// The page's state is {base, edits}: where the config starts (a shipped config or uploaded
// TOML) and the form's edits, each [path, value] with the value in `--set` syntax. Every
// change goes to POST /api/config, and the form shows the config the server says will run.
//
// This module holds that state and the rest that the modules share (`state` below), wires the
// page's controls to them, and starts the page: util.js (formats, helpers, banner, share link),
// form.js (the form and its config round trip), run.js (runs and their events), results.js
// (the results, tabs, sweeps, downloads) and charts.js (time series and histograms). The
// modules import one another, this one included; that is safe because none of them uses an
// imported binding at its top level, only inside functions, and those first run from init(),
// once every module has been evaluated and `state` below exists.

import { onResize, resetTimeseriesCharts } from './charts.js';
import { renderStartFrom, requestConfigNow, scheduleConfig, setBase, setupForm } from './form.js';
import { copyText, download, showTab } from './results.js';
import { startRun, stopRun, stopRunOnLeave, updateButtons } from './run.js';
import { $, $$, api, clearHash, fmtInt, hideBanner, showBanner, stateFromHash, writeHash } from './util.js';

// ---- state ----
export const state = {
  // The page's state (the share link carries these two).
  base: null,
  edits: [],
  catalog: null, // GET /api/catalog: shipped configs, GPUs, models, policies, limits
  uploadName: null, // what "Start from" calls an uploaded TOML (its file name)
  localErrors: new Map(), // data-key -> message (input that does not parse)
  lastReply: null, // the latest /api/config answer
  configErrorInBanner: false, // the config's error is in the banner (no field for it)
  lastResult: null, // the latest run's `result` event: its JSON, time series, histograms
  currentTab: 'results',
};

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
    const limit = state.catalog.limits && state.catalog.limits.max_body_bytes;
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
    state.base = { config: state.catalog.default_config };
    state.edits = [];
    state.uploadName = null;
    state.localErrors.clear();
    renderStartFrom();
    clearHash();
    hideBanner();
    scheduleConfig(0);
  });
  $('#share').addEventListener('click', () => {
    writeHash(state);
    const note = $('#share-note');
    copyText(location.href, note).then(() => {
      if (note.textContent.startsWith('Could not')) note.textContent = 'Share this link: ' + location.href;
      else note.textContent = 'Link copied.';
    });
  });
  $('#copy-toml').addEventListener('click', () => copyText($('#config-toml').textContent, $('#copy-note')));
  $('#download-toml').addEventListener('click', () => download('inference-lab.toml', $('#config-toml').textContent, 'application/toml'));
  $('#download-json').addEventListener('click', () => {
    if (state.lastResult) download('results.json', state.lastResult.json_text, 'application/json');
  });
  for (const b of $$('.tabs button')) b.addEventListener('click', () => showTab(b.dataset.tab));
  window.addEventListener('resize', onResize);
  window.addEventListener('hashchange', () => {
    const s = stateFromHash();
    if (!s) return;
    state.base = s.base;
    state.edits = s.edits;
    state.uploadName = null;
    state.localErrors.clear();
    renderStartFrom();
    scheduleConfig(0);
  });
  // A page that goes away stops its run.
  window.addEventListener('pagehide', stopRunOnLeave);
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
  state.catalog = reply.json;
  $('#version').textContent = state.catalog.version ? 'v' + state.catalog.version : '';
  if (state.catalog.sweeps) $('.tabs button[data-tab="sweeps"]').hidden = false;
  setupForm();
  const s = stateFromHash() || { base: { config: state.catalog.default_config }, edits: [] };
  state.base = s.base;
  state.edits = s.edits;
  if (state.base.toml !== undefined) state.uploadName = 'from the link';
  renderStartFrom();
  resetTimeseriesCharts();
  updateButtons();
  requestConfigNow();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
