#!/usr/bin/env bash
# Browser check of `inference-lab serve`: starts the server (its embedded page, on a free
# port), drives the page in headless Debian chromium with playwright-core the way a person
# would, and checks it end to end:
#
#   - the page loads with no console error, no page error and no request to another origin;
#   - a shipped config chosen in "Start from", edited in the form (closed loop, 8 users, 40
#     requests), runs to the end, and the numbers the page shows are exactly those of
#     `inference-lab -c <the TOML the Config tab shows> -o cli.json` (and Download JSON is
#     that file byte for byte);
#   - the time-series charts and the histograms drew (uPlot canvases);
#   - an invalid value (0 users) shows the CLI's error beside its field;
#   - a long run at real-time speed reports progress and stops within 5 s of Stop;
#   - the share link restores the form in a new tab;
#   - the Sweeps tab lists a sweep's results folder (--results) and shows its report;
#   - Ctrl-C (SIGINT) stops the server with exit status 0 within 5 s.
#
# Saves docs/serve-results.png and docs/serve-timeseries.png (1280x900; or into
# $SERVE_SCREENSHOT_DIR).
#
#   .ci/serve-check.sh            (as root to install chromium; .ci/run can run it after the tests)
#
# Uses target/debug/inference-lab (or $INFERENCE_LAB_BIN). Installs chromium with apt-get and
# playwright-core (pinned) from npm into a temporary folder when needed. Without them it is
# skipped with a message, unless CI=true, where that is a failure.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${INFERENCE_LAB_BIN:-$root/target/debug/inference-lab}
shots=${SERVE_SCREENSHOT_DIR:-$root/docs}
check="serve check"
# shellcheck source=.ci/browser-lib.sh
. "$root/.ci/browser-lib.sh"
need_browser
work=$(mktemp -d /tmp/inference-lab-serve-check.XXXXXX)
server=
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
install_playwright "$work/node"
mkdir -p "$shots"
started=$SECONDS

# A sweep's results for the Sweeps tab: two policies over the tests' tiny config (a second).
mkdir -p "$work/results"
cat >"$work/policies.toml" <<TOML
name = "policies"
base = "$root/tests/fixtures/tiny.toml"
seeds = 1
[axes]
scheduler.policy = ["fcfs", "sof"]
TOML
"$bin" sweep "$work/policies.toml" -o "$work/results/policies" -q || fail "the sweep for the Sweeps tab failed"

# The server, with the page embedded in the binary (not a folder of assets).
env -u INFERENCE_LAB_WEB_ASSETS "$bin" serve --port 0 --results "$work/results" \
    >"$work/serve.out" 2>"$work/serve.err" &
server=$!
url=
for _ in $(seq 100); do
    url=$(sed -n 's/^serving on \(http:[^ ]*\)$/\1/p' "$work/serve.out")
    [ -n "$url" ] && break
    kill -0 "$server" 2>/dev/null || fail "the server exited at start: $(cat "$work/serve.err")"
    sleep 0.1
done
[ -n "$url" ] || fail "the server printed no 'serving on URL' line in 10 s"
say "server at $url"

cat >"$work/check.js" <<'JS'
// Drives the page. Arguments: page URL, the binary, a work folder, the screenshot folder.
const { chromium } = require('playwright-core');
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const [url, bin, work, shots] = process.argv.slice(2);
const origin = new URL(url).origin;
const fail = (msg) => { console.error('serve check: FAIL: ' + msg); process.exit(1); };
const say = (msg) => console.error('serve check: ' + msg);
// The page's number format: 3 significant digits, en-US separators.
const fmt = (v) => new Intl.NumberFormat('en-US', { maximumSignificantDigits: 3 }).format(v);
const get = (obj, p) => p.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);

(async () => {
  const context = await chromium.launchPersistentContext(path.join(work, 'profile'), {
    executablePath: process.env.CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const errors = [];
  const foreign = [];
  context.on('request', (r) => {
    const u = r.url();
    if (!(u === origin || u.startsWith(origin + '/') || u.startsWith('blob:' + origin + '/') || u.startsWith('data:'))) {
      foreign.push(u);
    }
  });
  const watch = (page) => {
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
  };
  const page = context.pages()[0] || await context.newPage();
  watch(page);
  const checkClean = (when) => {
    if (errors.length) fail(`console errors ${when}: ${errors.join(' | ')}`);
    if (foreign.length) fail(`requests to another origin ${when}: ${foreign.join(' ')}`);
  };
  const state = () => page.evaluate(() => document.body.dataset.state);
  // Waits for the page's config round trip (an edit sent to /api/config and its answer shown).
  const configSettled = (want = 'ok', timeout = 10000) => page.waitForFunction(
    (w) => document.body.dataset.config === w, want, { timeout })
    .catch(() => page.evaluate(() => document.body.dataset.config + ': ' +
      (document.querySelector('#banner').hidden ? '' : document.querySelector('#banner').textContent))
      .then((s) => fail(`config did not settle to ${want} (${s})`)));
  const screenshot = async (name) => {
    await page.evaluate(() => { window.scrollTo(0, 0); document.querySelector('.sidebar').scrollTop = 0; });
    await page.screenshot({ path: path.join(shots, name) });
  };
  const typeInto = async (locator, text) => {
    await locator.fill(text);
    await locator.blur();
  };

  await page.goto(url, { waitUntil: 'load' });
  await configSettled();
  checkClean('at load');
  for (const id of ['section-hardware', 'section-model', 'section-scheduler', 'section-workload']) {
    if (!(await page.$(`details#${id}`))) fail(`no section #${id}`);
  }
  if (!(await page.$eval('#section-hardware', (d) => d.open))) fail('Hardware is not open at load');
  if (await page.$eval('#section-workload', (d) => d.open)) fail('Workload is open at load');
  if (!(await page.$eval('#stop', (b) => b.disabled))) fail('Stop is enabled with no run');

  // 3. A shipped config, then the workload edited the way a person would.
  const shipped = 'configs/chat-llama3-8b-h100.toml';
  await page.selectOption('#start-from', 'configs/debug-closed-loop.toml');
  await configSettled();
  await page.selectOption('#start-from', shipped);
  await configSettled();
  const hwName = await page.inputValue('[data-key="hardware.name"]');
  if (hwName !== 'H100 SXM') fail(`hardware.name shows ${JSON.stringify(hwName)} for ${shipped}`);
  await page.click('#section-workload > summary');
  await page.selectOption('#arrival-pattern', { label: 'Closed Loop (N concurrent users)' });
  const users = page.getByLabel('Concurrent Users', { exact: true });
  const requests = page.getByLabel('Number of Requests', { exact: true });
  await users.waitFor({ state: 'visible' });
  await configSettled();
  await typeInto(users, '8');
  await typeInto(requests, '40');
  await configSettled();
  let toml = await page.textContent('#config-toml');
  if (!/num_concurrent_users = 8\b/.test(toml) || !/num_requests = 40\b/.test(toml)) {
    fail('the Config tab\'s TOML lacks the edits:\n' + toml);
  }
  const t0 = Date.now();
  await page.click('#run');
  await page.waitForSelector('body[data-state=done]', { timeout: 120000 })
    .catch(async () => fail(`the run did not finish (state ${await state()})`));
  const runMs = Date.now() - t0;
  checkClean('after the run');

  // 4. The page's numbers are the CLI's for the TOML the page shows.
  toml = await page.textContent('#config-toml');
  const tomlFile = path.join(work, 'page.toml');
  const cliFile = path.join(work, 'cli.json');
  fs.writeFileSync(tomlFile, toml);
  execFileSync(bin, ['-c', tomlFile, '-q', '-o', cliFile], { stdio: ['ignore', 'inherit', 'inherit'] });
  const cliText = fs.readFileSync(cliFile, 'utf8');
  const cli = JSON.parse(cliText);
  const metric = async (name) => {
    const loc = page.locator(`[data-metric="${name}"]`);
    if ((await loc.count()) !== 1) fail(`${await loc.count()} elements with data-metric="${name}"`);
    return { value: await loc.getAttribute('data-value'), text: (await loc.textContent()).trim() };
  };
  for (const [name, cliPath] of [['ttft_ms.p50', 'latency_metrics.ttft_ms.p50'],
    ['throughput_metrics.output_tokens_per_sec', 'throughput_metrics.output_tokens_per_sec']]) {
    const shown = await metric(name);
    const want = get(cli, cliPath);
    if (typeof want !== 'number') fail(`the CLI's JSON has no number at ${cliPath}`);
    if (Number(shown.value) !== want) fail(`${name}: page data-value ${shown.value}, CLI ${want}`);
    if (shown.text !== fmt(want)) fail(`${name}: page shows "${shown.text}", expected "${fmt(want)}"`);
  }
  // Every number the results show, against the same path of the CLI's JSON.
  const all = await page.$$eval('[data-metric][data-value]', (els) => els.map((e) => [e.dataset.metric, e.dataset.value]));
  let compared = 0;
  for (const [name, value] of all) {
    const cliPath = /^(ttft|e2e|tpot|itl)_ms\./.test(name) ? 'latency_metrics.' + name : name;
    const want = get(cli, cliPath);
    if (Number(value) !== want) fail(`${name}: page ${value}, CLI ${cliPath} = ${want}`);
    compared += 1;
  }
  if (compared < 20) fail(`only ${compared} numbers on the results tab`);
  // Download JSON is the CLI's document, byte for byte.
  await page.click('button[data-tab="config"]');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-json')]);
  if (download.suggestedFilename() !== 'results.json') fail(`Download JSON names ${download.suggestedFilename()}`);
  const downloaded = path.join(work, 'results.json');
  await download.saveAs(downloaded);
  if (fs.readFileSync(downloaded, 'utf8') !== cliText) fail('Download JSON differs from the CLI\'s -o file');
  await page.click('button[data-tab="results"]');
  await screenshot('serve-results.png');

  // 5. The charts drew.
  await page.click('button[data-tab="timeseries"]');
  await page.waitForFunction(() => document.querySelectorAll('#ts-charts canvas').length >= 5, null, { timeout: 10000 })
    .catch(() => fail('the time-series tab has fewer than 5 uPlot canvases'));
  const tsCharts = await page.$$eval('#ts-charts .uplot canvas', (c) => c.filter((x) => x.width > 0).length);
  await screenshot('serve-timeseries.png');
  await page.click('button[data-tab="histograms"]');
  await page.waitForFunction(() => document.querySelectorAll('#hist-charts canvas').length >= 5, null, { timeout: 10000 })
    .catch(() => fail('the histograms tab has fewer than 5 uPlot canvases'));
  const histCharts = await page.$$eval('#hist-charts .uplot canvas', (c) => c.filter((x) => x.width > 0).length);
  await page.click('button[data-tab="results"]');
  checkClean('drawing the charts');

  // 6. An invalid value: the CLI's error beside its field.
  await typeInto(users, '0');
  await configSettled('error');
  const errBox = page.locator('.field-error[data-error-for="workload.num_concurrent_users"]');
  await errBox.waitFor({ state: 'visible', timeout: 5000 })
    .catch(() => fail('no visible error beside Concurrent Users for 0 users'));
  const errText = await errBox.textContent();
  if (!errText.includes('num_concurrent_users')) fail(`the error beside Concurrent Users says "${errText}"`);

  // 7. A long run at real-time speed, stopped.
  await typeInto(users, '64');
  await typeInto(requests, '200000');
  await configSettled();
  if (await errBox.isVisible()) fail('the error beside Concurrent Users stayed after a valid value');
  await page.selectOption('#speed', { label: '1× (real time)' });
  await page.click('#run');
  await page.waitForSelector('body[data-state=running]', { timeout: 30000 })
    .catch(async () => fail(`the long run did not start (state ${await state()})`));
  await page.waitForFunction(() => Number(document.body.dataset.progress || 0) >= 1, null, { timeout: 15000 })
    .catch(() => fail('no progress event within 15 s of the start'));
  const live = await page.textContent('#status-items');
  if (!/simulated/.test(live) || !/running/.test(live)) fail(`the live status reads "${live}"`);
  if (await page.$eval('#stop', (b) => b.disabled)) fail('Stop is disabled during a run');
  const s0 = Date.now();
  await page.click('#stop');
  await page.waitForSelector('body[data-state=cancelled]', { timeout: 5000 })
    .catch(async () => fail(`not cancelled within 5 s of Stop (state ${await state()})`));
  const stopMs = Date.now() - s0;
  if (!(await page.$eval('#stop', (b) => b.disabled))) fail('Stop is still enabled after the run stopped');
  checkClean('after Stop');

  // The share link restores the form.
  const shared = page.url();
  if (!/#s=[A-Za-z0-9_-]+$/.test(shared)) fail(`the page's URL carries no state: ${shared}`);
  const other = await context.newPage();
  watch(other);
  await other.goto(shared, { waitUntil: 'load' });
  await other.waitForFunction(() => document.body.dataset.config === 'ok', null, { timeout: 10000 })
    .catch(() => fail('the shared link\'s config did not load'));
  const restored = [await other.inputValue('[data-key="workload.num_concurrent_users"]'),
    await other.inputValue('[data-key="workload.num_requests"]'),
    await other.inputValue('#arrival-pattern')];
  if (restored.join() !== '64,200000,closed_loop') fail(`the shared link restored ${restored.join()}`);
  await other.close();

  // The Sweeps tab lists the results folder and shows its report.
  await page.click('[data-tab=sweeps]');
  await page.click('#sweeps-list button:has-text("policies")', { timeout: 10000 })
    .catch(() => fail('the Sweeps tab does not list the policies sweep'));
  const report = page.frameLocator('#sweep-frame');
  await report.locator('figure svg').first().waitFor({ timeout: 30000 })
    .catch(() => fail('the sweep\'s report shows no chart'));
  const reportTitle = await report.locator('h1').first().textContent();
  if (!/policies/.test(reportTitle || '')) fail(`the report's title is "${reportTitle}"`);

  checkClean('at the end');
  await context.close();
  console.log(JSON.stringify({ runMs, stopMs, compared, tsCharts, histCharts }));
})().catch((e) => fail(e && e.stack ? e.stack : String(e)));
JS

summary=$(CHROMIUM=$(command -v chromium) NODE_PATH="$work/node/node_modules" \
    timeout 300 node "$work/check.js" "$url" "$bin" "$work" "$shots") || fail "the browser part failed (above)"

# Ctrl-C stops the server, with exit status 0, within 5 s.
kill -INT "$server"
for _ in $(seq 50); do
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$server" 2>/dev/null; then
    fail "the server is still running 5 s after SIGINT"
fi
status=0
wait "$server" || status=$?
server=
[ "$status" = 0 ] || fail "the server exited with status $status after SIGINT (want 0)"

read -r run_ms stop_ms compared ts hist < <(node -e '
const s = JSON.parse(process.argv[1]);
console.log(s.runMs, s.stopMs, s.compared, s.tsCharts, s.histCharts);' "$summary")
echo "serve check: ok (page loaded clean; closed-loop 8 users x 40 requests ran in ${run_ms} ms and" \
    "its ${compared} numbers equal the CLI's for the TOML shown, Download JSON byte-identical;" \
    "${ts} time-series and ${hist} histogram canvases; 0 users errs beside its field;" \
    "a real-time run stopped ${stop_ms} ms after Stop; share link restores the form;" \
    "the Sweeps tab shows a sweep's report; SIGINT exits 0; screenshots in ${shots}; $((SECONDS - started)) s)"
