// Drives the admin dashboard in Debian's headless Chromium through playwright-core.
// Run by tests/dashboard.rs:
//
//   node tests/dashboard/check.mjs URL TOKEN SCREENSHOT [POOL,POOL,... [PREVIEW_TARGET]]
//
// Steps (one line on stdout per step, so the Rust test can follow and drive it):
//   1. load URL, type TOKEN into the token form, connect;
//      wait until every POOL is on the page            -> "ready"
//   1b. the history charts: every series with its point count and last value, the event
//      markers                                          -> "charts qps=S:N:LAST pools=... health=... events=K,K"
//      the explain box: ask for www (London subnet)     -> "explain TRACE"
//      the audit view                                   -> "audit PATH PATH ..."
//   2. tick PREVIEW_TARGET (default: the first POOL), Preview -> "preview N REGION:NOW->DURING..."
//   3. wait for a line "drill ID" on stdin (the test has started a drill through the API),
//      wait until the page shows it                     -> "drill-shown ID"
//      and the drill as a marker on the charts           -> "drill-event"
//   4. screenshot the whole page                       -> "screenshot PATH"
//   5. click Stop on the page, wait until it is gone   -> "drill-stopped"
//   6. no console errors, no page errors, no failed or non-2xx requests -> "ok"
// Any failure: "FAIL: why" on stderr, exit 1. The browser may talk only to URL's origin.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const [url, token, screenshot, poolArg = '', previewArg = ''] = process.argv.slice(2);
if (!url || !token || !screenshot) {
  console.error('usage: node check.mjs URL TOKEN SCREENSHOT [POOL,POOL,... [PREVIEW_TARGET]]');
  process.exit(2);
}
const pools = poolArg.split(',').filter(Boolean);
const previewTarget = previewArg || (pools.length ? `pool:${pools[0]}` : '');
const origin = new URL(url).origin;
if (!/^http:\/\/127\.\d+\.\d+\.\d+(:\d+)?$/.test(origin)) {
  console.error(`FAIL: ${origin} is not a loopback address`);
  process.exit(2);
}
const executablePath = process.env.AYADNS_CHROMIUM || '/usr/bin/chromium';

const say = (line) => process.stdout.write(`${line}\n`);
const problems = [];
const profile = mkdtempSync(join(tmpdir(), 'ayadns-chromium-'));
let browser;

// Lines from the Rust test, one at a time.
const stdin = createInterface({ input: process.stdin });
const lines = [];
const waiters = [];
stdin.on('line', (l) => (waiters.length ? waiters.shift()(l) : lines.push(l)));
stdin.on('close', () => { while (waiters.length) waiters.shift()(null); });
const nextLine = () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((r) => waiters.push(r)));

async function main() {
  // A persistent context on a fresh profile directory is how playwright passes
  // --user-data-dir=<fresh temp dir> (it refuses that flag in `args`).
  browser = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-default-apps', '--disable-extensions', '--no-default-browser-check',
      '--disable-domain-reliability',
    ],
    viewport: { width: 1440, height: 900 },
    deviceScaleFactor: 1,
    timeout: 30000,
  });
  const context = browser;
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(10000);

  // The network rule: nothing leaves for another origin (data: URLs never reach the network).
  await page.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(`${origin}/`) || u === origin) return route.continue();
    problems.push(`request to another origin blocked: ${u}`);
    return route.abort('blockedbyclient');
  });
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
  });

  // 1. Load, connect, see the pools.
  const resp = await page.goto(url, { waitUntil: 'load' });
  if (!resp || resp.status() !== 200) throw new Error(`GET ${url}: ${resp && resp.status()}`);
  await page.locator('#token-needed').waitFor({ state: 'visible' });
  await page.fill('#token-input', token);
  await page.click('#token-save');
  // The first poll; generous, for a debug build on a busy machine.
  await page.locator('#conn[data-state="live"]').waitFor({ timeout: 30000 }).catch(async () => {
    const banner = (await page.locator('#error-banner').innerText().catch(() => '')).trim();
    throw new Error(`the page never showed live data${banner ? ` (banner: ${banner})` : ''}`);
  });
  for (const p of pools) {
    await page.locator(`#health-grid [data-pool="${p}"]`).waitFor().catch(() => {
      throw new Error(`pool ${p} is not on the page`);
    });
  }
  if (await page.locator('#error-banner').isVisible()) {
    throw new Error(`error banner: ${await page.locator('#error-banner').innerText()}`);
  }
  const healths = await page.$$eval('#health-grid [data-pool]', (els) =>
    els.map((e) => `${e.dataset.pool}=${e.dataset.health}`));
  const latency = await page.$$eval('#latency [data-ms]', (els) =>
    els.map((e) => `${e.dataset.latencyRegion}>${e.dataset.latencyPool}=${e.dataset.ms}`));
  const split = await page.$$eval('.region-split [data-region]', (els) =>
    els.map((e) => `${e.dataset.region}:${[...e.querySelectorAll('[data-pool]')].map((p) => p.dataset.pool).join('+')}`));
  say(`ready ${healths.join(' ')} latency ${latency.join(' ') || '-'} split ${split.join(' ') || '-'}`);

  // 1b. History charts (two samples expected), the explain box, the audit view.
  await page.waitForFunction(() => {
    const p = document.querySelector('#chart-qps path[data-series="queries"]');
    return p && Number(p.dataset.points) >= 2;
  }, null, { timeout: 10000 }).catch(() => { throw new Error('the QPS chart never showed two samples'); });
  const series = (id) => page.$$eval(`#${id} path[data-series]`, (els) =>
    els.map((e) => `${e.dataset.series}:${e.dataset.points}:${Number(e.dataset.last).toFixed(1)}`));
  const events = await page.$$eval('#chart-qps [data-event-kind]', (els) => els.map((e) => e.dataset.eventKind));
  say(`charts qps=${(await series('chart-qps')).join(' ')} pools=${(await series('chart-pools')).join(' ')} health=${(await series('chart-health')).join(' ')} events=${events.join(',')}`);
  await page.fill('#explain-name', 'www.gslb.example.com');
  await page.fill('#explain-type', 'A');
  await page.fill('#explain-client', '81.2.69.0/24');
  await page.click('#explain-btn');
  await page.locator('#explain-trace').waitFor({ timeout: 10000 }).catch(() => { throw new Error('no explain trace shown'); });
  say(`explain ${(await page.locator('#explain-trace').innerText()).replace(/\s+/g, ' ')}`);
  await page.locator('#audit [data-audit-path]').first().waitFor({ timeout: 10000 }).catch(() => { throw new Error('no audit rows shown'); });
  const paths = await page.$$eval('#audit [data-audit-path]', (els) => els.map((e) => e.dataset.auditPath));
  say(`audit ${paths.join(' ')}`);

  // 2. Preview a drill through the form.
  if (previewTarget) {
    await page.check(`#drill-targets input[data-target="${previewTarget}"]`);
    await page.click('#drill-preview-btn');
    await page.locator('#drill-preview-result').waitFor().catch(async () => {
      const banner = (await page.locator('#error-banner').innerText().catch(() => '')).trim();
      throw new Error(`no preview shown${banner ? ` (banner: ${banner})` : ''}`);
    });
    const rows = await page.$$eval('#drill-preview-result [data-preview-region]', (els) =>
      els.map((e) => `${e.dataset.previewRegion}:${e.children[1].textContent}->${e.children[2].textContent}`));
    say(`preview ${rows.length} ${rows.join(' ')}`);
  }

  // 3. The test starts a drill through the API; the page must show it within ~10 s.
  say('waiting-for-drill');
  const line = await nextLine();
  if (!line || !line.startsWith('drill')) throw new Error(`expected "drill ID" on stdin, got ${line}`);
  const id = line.slice('drill'.length).trim();
  const sel = id ? `#drill-active[data-drill-id="${id}"]` : '#drill-active';
  await page.locator(sel).waitFor({ timeout: 10000 }).catch(() => {
    throw new Error(`the drill ${id} did not appear on the page within 10 s`);
  });
  say(`drill-shown ${id} ${(await page.locator('#drill-active').innerText()).replace(/\s+/g, ' ')}`);
  await page.locator('#chart-qps [data-event-kind="drill"]').first().waitFor({ state: 'attached', timeout: 10000 }).catch(() => {
    throw new Error('the drill is not marked on the charts within 10 s');
  });
  say('drill-event');

  // 4. Screenshot (after the countdown has ticked once).
  await page.waitForTimeout(1100);
  await page.screenshot({ path: screenshot, fullPage: true });
  say(`screenshot ${screenshot}`);

  // 5. Stop it from the page.
  await page.click('#drill-stop');
  await page.locator('#drill-none').waitFor({ timeout: 10000 }).catch(() => {
    throw new Error('the drill was still shown 10 s after clicking Stop');
  });
  say('drill-stopped');

  // 6. Nothing went wrong on the way.
  if (problems.length) throw new Error(`problems in the browser:\n  ${problems.join('\n  ')}`);
  say('ok');
}

const deadline = setTimeout(() => {
  console.error('FAIL: check.mjs did not finish within 90 s');
  process.exit(1);
}, 90000);

let code = 0;
try {
  await main();
} catch (e) {
  console.error(`FAIL: ${e && e.message ? e.message : e}`);
  if (problems.length) console.error(`browser problems:\n  ${problems.join('\n  ')}`);
  code = 1;
} finally {
  clearTimeout(deadline);
  stdin.close();
  if (browser) await browser.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
