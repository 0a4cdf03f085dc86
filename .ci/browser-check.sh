#!/usr/bin/env bash
# Browser check of `inference-lab report`: runs a shipped sweep (sweeps/capacity.toml: a
# categorical axis, a capacity search, SLO attainment and paired comparisons, ~20 s with the
# debug binary), renders its report, opens the page in headless Debian chromium driven by
# playwright-core, and checks that the charts rendered (non-empty SVG paths/polylines, the
# expected chart titles), that the sort script works, that nothing was logged as an error and
# that nothing but the file itself was requested. Saves a screenshot of the page's top.
#
#   .ci/browser-check.sh            (as root; .ci/run runs it after the Rust tests)
#
# Uses target/debug/inference-lab (or $INFERENCE_LAB_BIN); writes the screenshot to
# docs/report-screenshot.png (or $REPORT_SCREENSHOT). Installs chromium with apt-get and
# playwright-core (pinned) from npm into a temporary folder when needed. Without them it is
# skipped with a message, unless CI=true, where that is a failure.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${INFERENCE_LAB_BIN:-$root/target/debug/inference-lab}
shot=${REPORT_SCREENSHOT:-$root/docs/report-screenshot.png}
check="browser check"
# shellcheck source=.ci/browser-lib.sh
. "$root/.ci/browser-lib.sh"
need_browser
work=$(mktemp -d /tmp/inference-lab-browser-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
install_playwright "$work/node"

"$bin" sweep "$root/sweeps/capacity.toml" -o "$work/capacity" -q
"$bin" report "$work/capacity" -o "$work/report.html" -q
mkdir -p "$(dirname "$shot")"

cat >"$work/check.js" <<'JS'
// Opens the report, checks it, screenshots it. Arguments: page, screenshot, profile folder.
const { chromium } = require('playwright-core');
const [file, shot, profile] = process.argv.slice(2);
const url = 'file://' + file;
const fail = (msg) => { console.error('browser check: FAIL: ' + msg); process.exit(1); };
(async () => {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM,
    headless: true,
    viewport: { width: 1200, height: 1500 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const errors = [];
  const requests = [];
  context.on('request', (r) => { if (r.url() !== url) requests.push(r.url()); });
  const page = context.pages()[0] || await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url, { waitUntil: 'load' });
  const charts = await page.$$eval('figure svg', (svgs) => svgs.map((svg) => ({
    text: svg.textContent,
    marks: Array.from(svg.querySelectorAll('path, polyline')).filter(
      (e) => (e.getAttribute('d') || e.getAttribute('points') || '').trim().length > 0).length,
  })));
  if (charts.length < 4) fail(`${charts.length} charts, expected at least 4`);
  charts.forEach((c, i) => { if (c.marks === 0) fail(`chart ${i} has no path or polyline`); });
  const titles = charts.map((c) => c.text).join('\n');
  for (const title of ['ttft_ms_p99 vs workload.arrival_rate', 'Pareto frontier',
    'Capacity: largest workload.arrival_rate', 'slo_attainment vs workload.arrival_rate']) {
    if (!titles.includes(title)) fail(`no chart titled "${title}"`);
  }
  const headings = await page.$$eval('h2', (h) => h.map((e) => e.textContent));
  for (const h of ['Capacity', 'SLO attainment', 'All points', 'Failed runs', 'Manifest']) {
    if (!headings.includes(h)) fail(`no section "${h}"`);
  }
  // The sort script: a click on a header sorts the table by that column.
  const sorted = await page.evaluate(() => {
    const table = document.querySelector('table.sortable');
    const th = table.querySelectorAll('th')[0];
    th.click();
    const first = Array.from(table.tBodies[0].rows).map((r) => r.cells[0].textContent);
    return th.classList.contains('asc') && first.every((v, i) => i === 0 || first[i - 1].localeCompare(v) <= 0);
  });
  if (!sorted) fail('clicking a header did not sort its table');
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: shot });
  await context.close();
  if (errors.length) fail('console errors: ' + errors.join(' | '));
  if (requests.length) fail('requests besides the file: ' + requests.join(' '));
  console.error(`browser check: ok: ${charts.length} charts, screenshot ${shot}`);
})().catch((e) => fail(String(e)));
JS
CHROMIUM=$(command -v chromium) NODE_PATH="$work/node/node_modules" \
    timeout 300 node "$work/check.js" "$work/report.html" "$shot" "$work/profile"
