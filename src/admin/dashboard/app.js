// ayadns dashboard: polls GET /api/v1/status with a bearer token and renders it.
// Plain JS, no dependencies, no network beyond this origin. Every field of the status JSON is
// optional here: a missing or odd field renders as "nothing yet", never as an exception.
'use strict';

(() => {
  const POLL_MS = 2000;
  const TIMEOUT_MS = 8000;
  const STALE_MS = 7000;
  const TRAFFIC_WINDOW_MS = 30000;
  const TOKEN_KEY = 'ayadns.dashboard.token';
  const MAX_TRANSITIONS = 40;
  const PALETTE = ['#58a6ff', '#f0883e', '#a371f7', '#3fb950', '#db61a2', '#39c5cf',
    '#d29922', '#8b949e', '#ff7b72', '#7ee787'];

  // ---------------------------------------------------------------------------------------
  // Small helpers
  // ---------------------------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);
  const arr = (x) => (Array.isArray(x) ? x : []);
  const obj = (x) => (x && typeof x === 'object' && !Array.isArray(x) ? x : {});
  const num = (x) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
  const str = (x) => (x === null || x === undefined ? '' : typeof x === 'string' ? x : String(x));
  const nameOf = (x) => (typeof x === 'string' ? x : str(obj(x).name));

  // h('div', {class: 'x', dataset: {pool: 'a'}, style: {width: '3%'}}, child, 'text', ...)
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'dataset') {
        for (const [dk, dv] of Object.entries(v)) {
          if (dv !== undefined && dv !== null) el.dataset[dk] = String(dv);
        }
      } else if (k === 'style') {
        for (const [sk, sv] of Object.entries(v)) el.style.setProperty(sk, sv);
      } else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  function fill(id, ...children) {
    const el = $(id);
    if (!el) return;
    el.replaceChildren();
    append(el, children);
  }

  const empty = (text) => h('p', { class: 'empty' }, text);

  // Server clock (from the Date header) minus ours, in ms; 0 unless clearly off.
  let skewMs = 0;
  const nowS = () => (Date.now() + skewMs) / 1000;

  function fmtDuration(s) {
    s = Math.max(0, Math.round(s));
    const d = Math.floor(s / 86400);
    const hh = Math.floor((s % 86400) / 3600);
    const mm = Math.floor((s % 3600) / 60);
    const ss = s % 60;
    const p2 = (n) => String(n).padStart(2, '0');
    if (d > 0) return `${d}d ${hh}h`;
    if (hh > 0) return `${hh}:${p2(mm)}:${p2(ss)}`;
    return `${mm}:${p2(ss)}`;
  }

  function fmtAgo(at) {
    const s = Math.max(0, nowS() - at);
    if (s < 60) return `${Math.round(s)} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return `${Math.floor(s / 86400)} d ago`;
  }

  function fmtTime(at) {
    const t = num(at);
    if (t === null) return '';
    const d = new Date(t * 1000);
    return Number.isNaN(d.getTime()) ? '' : d.toLocaleString();
  }

  function fmtMs(ms) {
    if (ms < 10) return ms.toFixed(1);
    return String(Math.round(ms));
  }

  function fmtPct(x) {
    const p = x * 100;
    if (p > 0 && p < 1) return '<1%';
    return `${Math.round(p)}%`;
  }

  function fmtCount(n) {
    if (n >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
    if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
    if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
    return String(Math.round(n));
  }

  // A countdown: the 1 s ticker rewrites every element with data-until.
  const countdown = (until, cls) =>
    h('span', { class: `countdown ${cls || ''}`, dataset: { until }, title: fmtTime(until) },
      fmtDuration(until - nowS()));

  // A relative time: the ticker rewrites every element with data-since.
  const ago = (at) => h('time', { class: 'ago', dataset: { since: at }, title: fmtTime(at) }, fmtAgo(at));

  // ---------------------------------------------------------------------------------------
  // API
  // ---------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  let token = '';
  try {
    token = localStorage.getItem(TOKEN_KEY) || '';
  } catch (_) {
    token = '';
  }

  async function api(method, path, body) {
    if (!token) throw new ApiError(401, 'no token: enter one above');
    const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
    let resp;
    try {
      resp = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: ctl.signal,
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch (e) {
      const why = e && e.name === 'AbortError' ? 'timed out' : str(e && e.message);
      throw new ApiError(0, `cannot reach the server (${why})`);
    } finally {
      clearTimeout(timer);
    }
    const text = await resp.text().catch(() => '');
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (_) {
      data = null;
    }
    if (!resp.ok) {
      const detail = str(obj(data).error) || text.slice(0, 200) || resp.statusText;
      let msg;
      if (resp.status === 401) msg = 'token rejected';
      else if (resp.status === 403) msg = `not allowed with this token: ${detail}`;
      else if (resp.status === 404) msg = `${method} ${path}: not available on this server (404)`;
      else msg = `${method} ${path}: HTTP ${resp.status}: ${detail}`;
      throw new ApiError(resp.status, msg);
    }
    const date = Date.parse(resp.headers.get('Date') || '');
    if (!Number.isNaN(date)) {
      const skew = date - Date.now();
      skewMs = Math.abs(skew) > 2000 ? skew : 0;
    }
    return data;
  }

  // ---------------------------------------------------------------------------------------
  // Error banner: one message per source ("poll", "action")
  // ---------------------------------------------------------------------------------------

  const errors = new Map();

  function setError(source, message, status) {
    if (message) errors.set(source, { message, status });
    else errors.delete(source);
    const banner = $('error-banner');
    banner.replaceChildren();
    if (errors.size === 0) {
      banner.hidden = true;
      delete banner.dataset.status;
      return;
    }
    banner.hidden = false;
    const first = errors.values().next().value;
    banner.dataset.status = String(first.status ?? '');
    for (const [src, e] of errors) {
      banner.append(h('div', { class: 'banner-line', dataset: { source: src } },
        h('span', { class: 'banner-text' }, e.message),
        src === 'poll' ? null
          : h('button', { type: 'button', class: 'ghost small', title: 'dismiss',
            onclick: () => setError(src, null) }, '×')));
    }
  }

  // ---------------------------------------------------------------------------------------
  // Polling
  // ---------------------------------------------------------------------------------------

  let status = null;
  let lastOk = 0;
  let pollTimer = null;
  let generation = 0; // bumped when the token changes: late answers of an old poll are dropped
  const trafficHistory = []; // [{t, traffic}]

  function schedule(ms) {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, ms);
  }

  async function poll() {
    clearTimeout(pollTimer);
    if (!token) return;
    const gen = generation;
    try {
      const data = await api('GET', '/api/v1/status');
      if (gen !== generation) return;
      status = obj(data);
      lastOk = Date.now();
      setError('poll', null);
      recordTraffic(status);
      render();
      await refreshExtras(gen);
    } catch (e) {
      if (gen !== generation) return;
      setError('poll', e.message, e.status);
      if (e.status === 401) $('token-input').focus();
      renderConn();
      // A rejected token stays rejected until the tokens file changes: ask less often.
      if (gen === generation) schedule(e.status === 401 || e.status === 403 ? 5 * POLL_MS : POLL_MS);
      return;
    }
    if (gen === generation) schedule(POLL_MS);
  }

  function setToken(t) {
    token = t;
    generation += 1;
    try {
      if (t) localStorage.setItem(TOKEN_KEY, t);
      else localStorage.removeItem(TOKEN_KEY);
    } catch (_) {
      /* storage disabled: keep the token for this page only */
    }
    status = null;
    lastOk = 0;
    trafficHistory.length = 0;
    setError('poll', null);
    setError('action', null);
    $('token-needed').hidden = Boolean(t);
    document.body.dataset.connected = 'false';
    renderConn();
    if (t) poll();
    else clearTimeout(pollTimer);
  }

  // ---------------------------------------------------------------------------------------
  // Derived data
  // ---------------------------------------------------------------------------------------

  function pools() {
    return arr(status && status.pools).filter((p) => nameOf(p));
  }

  function endpoints() {
    return arr(status && status.endpoints).filter((e) => nameOf(e));
  }

  // Regions in config order: `regions` when the server sends it, then any region a pool names.
  function regions() {
    const out = [];
    const seen = new Map();
    const add = (name, info) => {
      if (!name) return;
      if (seen.has(name)) {
        Object.assign(seen.get(name), info || {});
        return;
      }
      const r = { name, ...(info || {}) };
      seen.set(name, r);
      out.push(r);
    };
    for (const r of arr(status && status.regions)) add(nameOf(r), typeof r === 'object' ? r : {});
    for (const p of pools()) add(str(p.region));
    return out;
  }

  function poolHealth(p) {
    const up = num(p.endpoints_up);
    const n = num(p.endpoints);
    if (up === null || n === null) return 'unknown';
    if (n === 0 || up <= 0) return 'down';
    if (up >= n) return 'healthy';
    return 'degraded';
  }

  // A pool's place in the configuration (unknown names last).
  function poolRank(name) {
    const i = pools().findIndex((p) => nameOf(p) === name);
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  }

  function poolColour(name) {
    const i = pools().findIndex((p) => nameOf(p) === name);
    if (i >= 0) return PALETTE[i % PALETTE.length];
    let hash = 0;
    for (const c of name) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
    return PALETTE[hash % PALETTE.length];
  }

  function activeDrill() {
    const d = status && status.drill;
    return d && typeof d === 'object' && !Array.isArray(d) ? d : null;
  }

  function overrides() {
    return arr(status && status.overrides).filter((o) => o && typeof o === 'object');
  }

  // Drill and override markers for a target ("pool:NAME", "region:NAME", "endpoint:NAME").
  function markers(kind, name) {
    const target = `${kind}:${name}`;
    const out = [];
    const d = activeDrill();
    if (d && arr(d.fail).map(str).includes(target)) out.push(h('span', { class: 'tag drill' }, 'drill'));
    for (const o of overrides()) {
      if (str(o.target) === target && !o.drill) {
        out.push(h('span', { class: 'tag override', title: str(o.reason) }, str(o.action) || 'override'));
      }
    }
    return out;
  }

  function recordTraffic(s) {
    const t = s.traffic;
    if (!t || typeof t !== 'object' || Array.isArray(t)) return;
    const now = Date.now();
    const last = trafficHistory[trafficHistory.length - 1];
    if (last && totalOf(t) < totalOf(last.traffic)) trafficHistory.length = 0; // counters reset
    trafficHistory.push({ t: now, traffic: t });
    while (trafficHistory.length > 2 && now - trafficHistory[1].t >= TRAFFIC_WINDOW_MS) {
      trafficHistory.shift();
    }
  }

  function totalOf(traffic) {
    let n = 0;
    for (const per of Object.values(obj(traffic))) {
      for (const c of Object.values(obj(per))) n += num(c) || 0;
    }
    return n;
  }

  // ---------------------------------------------------------------------------------------
  // Rendering
  // ---------------------------------------------------------------------------------------

  function render() {
    document.body.dataset.connected = 'true';
    const steps = [renderConn, renderSummary, renderHealth, renderLatency, renderTraffic,
      renderOverrides, renderScheduled, renderTransitions, renderDrill, renderDrillTargets, renderFooter];
    for (const step of steps) {
      try {
        step();
      } catch (e) {
        // One section's surprise must not take the others down.
        console.warn(`dashboard: ${step.name}:`, e);
      }
    }
    updateDrillButtons();
  }

  function renderConn() {
    const el = $('conn');
    let state = 'idle';
    let text = 'not connected';
    if (token && lastOk) {
      const age = Date.now() - lastOk;
      state = errors.has('poll') ? 'error' : age > STALE_MS ? 'stale' : 'live';
      text = state === 'live' ? 'live' : `last update ${Math.round(age / 1000)} s ago`;
    } else if (token) {
      state = errors.has('poll') ? 'error' : 'connecting';
      text = errors.has('poll') ? 'no data' : 'connecting…';
    }
    el.dataset.state = state;
    $('conn-text').textContent = text;
  }

  function stat(label, value, cls, id) {
    return h('div', { class: `stat ${cls || ''}`, id },
      h('div', { class: 'stat-value' }, value),
      h('div', { class: 'stat-label' }, label));
  }

  function renderSummary() {
    const ps = pools();
    const eps = endpoints();
    const healthy = ps.filter((p) => poolHealth(p) === 'healthy').length;
    const down = ps.filter((p) => poolHealth(p) === 'down').length;
    const epUp = eps.filter((e) => e.up === true).length;
    const services = arr(status.services);
    const d = activeDrill();
    const ov = overrides().length;
    fill('summary',
      stat('pools healthy', `${healthy}/${ps.length}`,
        down > 0 ? 'bad' : healthy < ps.length ? 'warn' : 'good', 'stat-pools'),
      stat('endpoints up', `${epUp}/${eps.length}`,
        epUp < eps.length ? (epUp === 0 && eps.length ? 'bad' : 'warn') : 'good', 'stat-endpoints'),
      stat('services', String(services.length), '', 'stat-services'),
      stat('regions', String(regions().length), '', 'stat-regions'),
      stat('overrides', String(ov), ov ? 'warn' : '', 'stat-overrides'),
      stat('drill', d ? 'running' : 'none', d ? 'drill' : '', 'stat-drill'));
  }

  function endpointChip(e) {
    const up = e.up === true ? 'up' : e.up === false ? 'down' : 'unknown';
    const detail = obj(e.regions);
    const order = regions().map((r) => r.name);
    const rank = (r) => (order.indexOf(r) < 0 ? order.length : order.indexOf(r));
    const votes = Object.entries(detail).filter(([r]) => r !== '*')
      .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
    const weight = num(e.weight);
    const title = [
      `${nameOf(e)}: ${up}`,
      weight !== null ? `weight ${weight}` : '',
      str(e.check) ? `check ${str(e.check)}` : '',
      ...votes.map(([r, v]) => {
        const vv = obj(v);
        const rtt = num(vv.ewma_ms) ?? num(vv.rtt_ms);
        return `${r}: ${vv.up === true ? 'up' : vv.up === false ? 'down' : '?'}${rtt !== null ? ` ${fmtMs(rtt)} ms` : ''}${vv.fresh === false ? ' (stale)' : ''}${vv.error ? ` – ${str(vv.error)}` : ''}`;
      }),
    ].filter(Boolean).join('\n');
    return h('li', { class: `ep ${up}`, dataset: { endpoint: nameOf(e), up }, title },
      h('span', { class: 'dot' }),
      h('span', { class: 'ep-name' }, nameOf(e)),
      weight === 0 ? h('span', { class: 'tag muted' }, 'drained') : null,
      markers('endpoint', nameOf(e)),
      votes.length
        ? h('span', { class: 'votes' }, votes.map(([r, v]) => {
          const vv = obj(v);
          const s = vv.up === true ? 'up' : vv.up === false ? 'down' : 'unknown';
          return h('span', { class: `vote ${s}${vv.fresh === false ? ' stale' : ''}`, dataset: { region: r } }, r);
        }))
        : null);
  }

  function renderHealth() {
    const ps = pools();
    const rs = regions();
    if (ps.length === 0) {
      fill('health-grid', empty('No pools configured.'));
      return;
    }
    const eps = endpoints();
    const rows = rs.map((r) => {
      const mine = ps.filter((p) => str(p.region) === r.name);
      return h('div', { class: 'region-row', dataset: { region: r.name } },
        h('div', { class: 'region-label' },
          h('span', { class: 'region-name' }, r.name),
          r.default === true ? h('span', { class: 'tag muted' }, 'default') : null,
          markers('region', r.name)),
        h('div', { class: 'pool-tiles' },
          mine.length === 0 ? h('span', { class: 'empty' }, 'no pools')
            : mine.map((p) => {
              const health = poolHealth(p);
              const pe = eps.filter((e) => str(e.pool) === nameOf(p));
              const up = num(p.endpoints_up);
              const n = num(p.endpoints);
              return h('div', { class: `pool ${health}`, dataset: { pool: nameOf(p), health } },
                h('div', { class: 'pool-head' },
                  h('span', { class: 'pool-name' }, nameOf(p)),
                  markers('pool', nameOf(p)),
                  h('span', { class: `pill ${health}` },
                    up !== null && n !== null ? `${up}/${n} up` : health),
                  num(p.ramp_admitted) !== null
                    ? h('span', { class: 'tag', dataset: { ramp: 'true' } }, `ramping ${fmtPct(num(p.ramp_admitted))}`) : null,
                  num(p.capacity_admitted) !== null
                    ? h('span', { class: 'tag', dataset: { capacity: 'true' } }, `over capacity: ${fmtPct(num(p.capacity_admitted))} admitted`) : null),
                pe.length ? h('ul', { class: 'eps' }, pe.map(endpointChip)) : null);
            })));
    });
    fill('health-grid', rows);
  }

  // Green (fast) through amber to red (slow), on a log scale from 2 ms to 300 ms.
  const HEAT_STOPS = [[46, 160, 67], [187, 128, 9], [218, 54, 51]];
  function heat(ms) {
    const t = Math.min(1, Math.max(0, Math.log(Math.max(ms, 2) / 2) / Math.log(150)));
    const x = t * (HEAT_STOPS.length - 1);
    const i = Math.min(HEAT_STOPS.length - 2, Math.floor(x));
    const f = x - i;
    const rgb = HEAT_STOPS[i].map((c, k) => Math.round(c + (HEAT_STOPS[i + 1][k] - c) * f));
    return { bg: `rgba(${rgb.join(', ')}, 0.4)`, border: `rgba(${rgb.join(', ')}, 0.8)` };
  }

  function renderLatency() {
    const ps = pools();
    const rs = regions();
    if (ps.length === 0 || rs.length === 0) {
      fill('latency', empty('No pools configured.'));
      return;
    }
    let any = false;
    const head = h('tr', {}, h('th', { class: 'corner' }, 'from \\ to'),
      ps.map((p) => h('th', { scope: 'col', dataset: { pool: nameOf(p) } },
        h('span', { class: 'swatch', style: { background: poolColour(nameOf(p)) } }), nameOf(p))));
    const body = rs.map((r) => {
      const vals = ps.map((p) => num(obj(p.latency_ms)[r.name]));
      const present = vals.filter((v) => v !== null);
      const best = present.length ? Math.min(...present) : null;
      return h('tr', {},
        h('th', { scope: 'row' }, r.name),
        ps.map((p, i) => {
          const ms = vals[i];
          const attrs = { dataset: { latencyRegion: r.name, latencyPool: nameOf(p) } };
          if (ms === null) return h('td', { ...attrs, class: 'heat none' }, '—');
          any = true;
          const c = heat(ms);
          attrs.dataset.ms = ms;
          return h('td', {
            ...attrs,
            class: `heat${ms === best ? ' best' : ''}${str(p.region) === r.name ? ' local' : ''}`,
            style: { background: c.bg, 'border-color': c.border },
            title: `${r.name} → ${nameOf(p)}: ${ms} ms`,
          }, fmtMs(ms));
        }));
    });
    fill('latency',
      h('div', { class: 'scroll' }, h('table', { class: 'heatmap', id: 'latency-table' },
        h('thead', {}, head), h('tbody', {}, body))),
      any ? null : h('p', { class: 'hint' },
        'No round-trip times measured yet (they come from the probing regions and agents).'));
  }

  // Per client region: the share of each pool in its answers since start (small bars).
  function regionSplit(svc) {
    const byRegion = obj(obj(status.region_traffic)[svc]);
    const regionNames = Object.keys(byRegion).sort();
    if (regionNames.length === 0) return null;
    return h('table', { class: 'region-split' }, h('tbody', {}, regionNames.map((r) => {
      const pools = obj(byRegion[r]);
      const names = Object.keys(pools).sort((a, b) => poolRank(a) - poolRank(b) || a.localeCompare(b));
      const sum = names.reduce((a, p) => a + (num(pools[p]) || 0), 0);
      return h('tr', { dataset: { region: r } },
        h('th', {}, r),
        h('td', {}, h('div', { class: 'bar thin' }, sum > 0
          ? names.filter((p) => (num(pools[p]) || 0) > 0).map((p) => h('span', {
            class: 'seg',
            dataset: { pool: p, share: ((num(pools[p]) || 0) / sum).toFixed(4) },
            style: { width: `${(100 * (num(pools[p]) || 0)) / sum}%`, background: poolColour(p) },
            title: `${r} → ${p || '(none)'}: ${fmtPct((num(pools[p]) || 0) / sum)}`,
          })) : null)),
        h('td', { class: 'lg-count' }, fmtCount(sum)));
    })));
  }

  function renderTraffic() {
    const t = status.traffic;
    if (!t || typeof t !== 'object' || Array.isArray(t)) {
      fill('traffic', empty('No traffic data from this server.'));
      $('traffic-hint').textContent = 'answers per pool';
      return;
    }
    const first = trafficHistory[0];
    const last = trafficHistory[trafficHistory.length - 1];
    const dt = first && last ? (last.t - first.t) / 1000 : 0;
    const services = Object.keys(t).sort();
    if (services.length === 0) {
      fill('traffic', empty('No answers given yet.'));
      return;
    }
    let windowed = false;
    const blocks = services.map((svc) => {
      const now = obj(t[svc]);
      const before = first && dt > 0 ? obj(obj(first.traffic)[svc]) : {};
      const names = Object.keys(now);
      const deltas = names.map((p) => Math.max(0, (num(now[p]) || 0) - (num(before[p]) || 0)));
      const dsum = deltas.reduce((a, b) => a + b, 0);
      const totals = names.map((p) => num(now[p]) || 0);
      const tsum = totals.reduce((a, b) => a + b, 0);
      const useRate = dt > 0 && dsum > 0;
      if (useRate) windowed = true;
      const vals = useRate ? deltas : totals;
      const sum = useRate ? dsum : tsum;
      // Pools in config order, so the bar's segments keep their places from poll to poll.
      const order = names.map((p, i) => ({ p, v: vals[i], total: totals[i] }))
        .sort((a, b) => poolRank(a.p) - poolRank(b.p) || a.p.localeCompare(b.p));
      const headline = useRate ? `${(dsum / dt).toFixed(dsum / dt < 10 ? 1 : 0)} answers/s`
        : `${fmtCount(tsum)} answers`;
      return h('div', { class: 'svc', dataset: { service: svc } },
        h('div', { class: 'svc-head' }, h('span', { class: 'svc-name' }, svc),
          h('span', { class: 'svc-rate' }, headline)),
        h('div', { class: 'bar' }, sum > 0
          ? order.filter((o) => o.v > 0).map((o) => h('span', {
            class: 'seg',
            dataset: { pool: o.p, share: (o.v / sum).toFixed(4) },
            style: { width: `${(100 * o.v) / sum}%`, background: poolColour(o.p) },
            title: `${o.p}: ${fmtPct(o.v / sum)}`,
          }))
          : h('span', { class: 'bar-empty' }, 'no answers')),
        h('ul', { class: 'split-legend' }, order.map((o) => h('li', { dataset: { pool: o.p } },
          h('span', { class: 'swatch', style: { background: poolColour(o.p) } }),
          h('span', { class: 'lg-name' }, o.p),
          h('span', { class: 'lg-share' }, sum > 0 ? fmtPct(o.v / sum) : '–'),
          h('span', { class: 'lg-count', title: 'answers since start' }, fmtCount(o.total))))),
        regionSplit(svc));
    });
    $('traffic-hint').textContent = windowed
      ? `answers per pool, last ${Math.round(dt)} s` : 'answers per pool, since start';
    fill('traffic', blocks);
  }

  function renderOverrides() {
    if (!('overrides' in status)) {
      fill('overrides', empty('This server does not report overrides.'));
      return;
    }
    const list = overrides();
    if (list.length === 0) {
      fill('overrides', empty('None: every answer follows the configured policy.'));
      return;
    }
    fill('overrides', h('div', { class: 'scroll' }, h('table', { class: 'list', id: 'overrides-table' },
      h('thead', {}, h('tr', {}, ['target', 'action', 'reason', 'by', 'expires in'].map((c) => h('th', {}, c)))),
      h('tbody', {}, list.map((o) => h('tr', { dataset: { override: str(o.id), target: str(o.target) } },
        h('td', { class: 'nowrap' }, h('code', {}, str(o.target)), o.drill ? h('span', { class: 'tag drill' }, 'drill') : null),
        h('td', {}, h('span', { class: 'tag action' }, str(o.action))),
        h('td', { class: 'reason' }, str(o.reason)),
        h('td', { class: 'muted' }, str(o.created_by)),
        h('td', {}, num(o.expires_at) !== null ? countdown(o.expires_at) : h('span', { class: 'muted' }, 'never'))))))));
  }

  // What happens next by schedule: later overrides and drills, maintenance windows, weights.
  function renderScheduled() {
    if (!('scheduled' in status)) {
      fill('scheduled', empty('This server does not report schedules.'));
      return;
    }
    const sc = obj(status.scheduled);
    const rows = [];
    const when = (t) => (num(t) !== null ? h('span', { title: fmtTime(t) }, countdown(t)) : h('span', { class: 'muted' }, '—'));
    for (const o of arr(sc.overrides)) {
      rows.push(h('tr', { dataset: { scheduled: 'override', target: str(o.target) } },
        h('td', {}, 'override'), h('td', {}, h('code', {}, str(o.target))),
        h('td', {}, h('span', { class: 'tag action' }, str(o.action))),
        h('td', {}, when(o.starts_at)), h('td', { class: 'reason' }, str(o.reason))));
    }
    for (const d of arr(sc.drills)) {
      rows.push(h('tr', { dataset: { scheduled: 'drill' } },
        h('td', {}, 'drill'), h('td', {}, arr(d.fail).map((t) => h('code', {}, `${str(t)} `))),
        h('td', {}, h('span', { class: 'tag drill' }, 'down')),
        h('td', {}, when(d.started_at)), h('td', { class: 'reason' }, str(d.reason))));
    }
    for (const w of arr(sc.maintenance)) {
      const open = num(w.open_until) !== null;
      rows.push(h('tr', { dataset: { scheduled: 'maintenance', target: str(w.target) } },
        h('td', {}, `maintenance ${str(w.name)}`), h('td', {}, h('code', {}, str(w.target))),
        h('td', {}, h('span', { class: 'tag action' }, str(w.action))),
        h('td', {}, open ? h('span', {}, 'open, ends ', countdown(w.open_until, 'warn')) : when(w.next_start)),
        h('td', { class: 'reason' }, `${str(w.schedule)} UTC, ${num(w.duration_s) ?? '?'} s`)));
    }
    for (const w of arr(sc.weights)) {
      rows.push(h('tr', { dataset: { scheduled: 'weight' } },
        h('td', {}, 'weight'), h('td', {}, h('code', {}, str(w.endpoint))),
        h('td', {}, `${num(w.weight) ?? '?'} → ${num(w.next_weight) ?? '—'}`),
        h('td', {}, when(w.next_at)), h('td', { class: 'muted' }, `configured ${num(w.configured) ?? '?'}`)));
    }
    if (!rows.length) {
      fill('scheduled', empty('Nothing scheduled.'));
      return;
    }
    fill('scheduled', h('div', { class: 'scroll' }, h('table', { class: 'list', id: 'scheduled-table' },
      h('thead', {}, h('tr', {}, ['what', 'target', 'action', 'when', 'detail'].map((c) => h('th', {}, c)))),
      h('tbody', {}, rows))));
  }

  function renderTransitions() {
    if (!('transitions' in status)) {
      fill('transitions', empty('This server does not report transitions.'));
      return;
    }
    const list = arr(status.transitions).filter((t) => t && typeof t === 'object')
      .slice().sort((a, b) => (num(b.at) || 0) - (num(a.at) || 0)).slice(0, MAX_TRANSITIONS);
    if (list.length === 0) {
      fill('transitions', empty('No up/down changes recorded.'));
      return;
    }
    const state = (up) => (up === true ? 'up' : up === false ? 'down' : '?');
    fill('transitions', h('div', { class: 'scroll tall' }, h('table', { class: 'list', id: 'transitions-table' },
      h('thead', {}, h('tr', {}, ['when', 'endpoint', 'region', 'change', 'reason'].map((c) => h('th', {}, c)))),
      h('tbody', {}, list.map((t) => h('tr', { dataset: { transitionEndpoint: str(t.endpoint), to: state(t.to_up) } },
        h('td', { class: 'nowrap' }, num(t.at) !== null ? ago(t.at) : ''),
        h('td', {}, str(t.endpoint)),
        h('td', { class: 'muted', title: str(t.region) === '*' ? 'the quorum of all regions' : null },
          str(t.region) === '*' ? 'quorum' : str(t.region) || '—'),
        h('td', { class: 'nowrap' },
          h('span', { class: `st ${state(t.from_up)}` }, state(t.from_up)), ' → ',
          h('span', { class: `st ${state(t.to_up)}` }, state(t.to_up))),
        h('td', { class: 'reason' }, str(t.reason))))))));
  }

  // Predicted against observed shares per service and pool, and answers from a drilled pool.
  function drillReport(d) {
    const r = obj(d.report);
    const predicted = obj(r.predicted);
    const observed = obj(r.observed);
    const rows = [];
    for (const svc of Object.keys(predicted)) {
      const pools = new Set([...Object.keys(obj(predicted[svc])), ...Object.keys(obj(observed[svc]))]);
      for (const pool of pools) {
        const pct = (v) => (num(v) === null ? '–' : `${(num(v) * 100).toFixed(1)} %`);
        rows.push(h('tr', {}, h('td', {}, svc), h('td', {}, pool),
          h('td', {}, pct(obj(predicted[svc])[pool])), h('td', {}, pct(obj(observed[svc])[pool]))));
      }
    }
    if (!rows.length) return null;
    return h('div', { id: 'drill-report', class: 'drill-report' },
      h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'service'), h('th', {}, 'pool'),
        h('th', {}, 'predicted'), h('th', {}, 'observed'))), h('tbody', {}, rows)),
      h('div', { class: 'muted' }, `answers from a drilled pool: ${num(r.drilled_answers) ?? 0}`));
  }

  function renderDrill() {
    if (!('drill' in status)) {
      fill('drill', empty('This server does not report drills.'));
      return;
    }
    const d = activeDrill();
    if (!d) {
      fill('drill', h('div', { id: 'drill-none', class: 'drill-none' },
        h('span', { class: 'dot' }), 'No drill running. Pick targets below, preview, then start.'));
      return;
    }
    const id = str(d.id);
    const started = num(d.started_at);
    const ends = num(d.ends_at);
    const progress = h('div', { class: 'progress' }, h('span', { class: 'progress-fill', id: 'drill-progress' }));
    const card = h('div', { id: 'drill-active', class: 'drill-active', dataset: { drillId: id } },
      h('div', { class: 'drill-title' },
        h('span', { class: 'pulse' }), h('strong', {}, 'Drill running'),
        id ? h('code', { class: 'muted' }, id) : null,
        h('button', { id: 'drill-stop', type: 'button', class: 'danger small', dataset: { drillId: id },
          onclick: () => stopDrill(id) }, 'Stop')),
      h('div', { class: 'drill-targets' }, 'Failing ',
        arr(d.fail).map((f) => h('code', { class: 'target', dataset: { target: str(f) } }, str(f)))),
      str(d.reason) ? h('div', { class: 'drill-reason' }, `“${str(d.reason)}”`) : null,
      h('div', { class: 'drill-times' },
        started !== null ? h('span', {}, 'started ', ago(started)) : null,
        ends !== null ? h('span', {}, 'ends in ', countdown(ends, 'big')) : null),
      started !== null && ends !== null && ends > started ? progress : null,
      drillReport(d));
    if (started !== null && ends !== null) {
      card.dataset.startedAt = started;
      card.dataset.endsAt = ends;
    }
    fill('drill', card);
    tick();
  }

  // The target checkboxes are rebuilt only when the set of pools and regions changes, so
  // what the operator ticked survives the polls.
  let targetsKey = '';
  function renderDrillTargets() {
    const groups = [
      ['Pools', pools().map((p) => `pool:${nameOf(p)}`)],
      ['Regions', regions().map((r) => `region:${r.name}`)],
    ];
    const key = JSON.stringify(groups);
    if (key === targetsKey) return;
    targetsKey = key;
    const checked = new Set(selectedTargets());
    const all = groups.flatMap((g) => g[1]);
    if (all.length === 0) {
      fill('drill-targets', empty('No pools yet.'));
    } else {
      fill('drill-targets', groups.filter((g) => g[1].length).map(([label, targets]) =>
        h('div', { class: 'target-group' }, h('span', { class: 'group-label' }, label),
          targets.map((t) => h('label', { class: 'chk' },
            h('input', { type: 'checkbox', value: t, dataset: { target: t }, checked: checked.has(t),
              onchange: updateDrillButtons }),
            h('span', {}, t.slice(t.indexOf(':') + 1)))))));
    }
    updateDrillButtons();
  }

  function selectedTargets() {
    return Array.from(document.querySelectorAll('#drill-targets input[type=checkbox]:checked'))
      .map((i) => i.value);
  }

  let busy = false;
  function updateDrillButtons() {
    const n = selectedTargets().length;
    $('drill-preview-btn').disabled = busy || n === 0 || !token;
    $('drill-start-btn').disabled = busy || n === 0 || !token || Boolean(activeDrill());
    $('drill-start-btn').title = activeDrill() ? 'a drill is already running' : '';
  }

  function renderFooter() {
    const zones = arr(status.zones).map((z) => {
      const zz = obj(z);
      return `${str(zz.origin)}${num(zz.serial) !== null ? ` serial ${zz.serial}` : ''}${num(zz.records) !== null ? `, ${zz.records} records` : ''}`;
    });
    fill('zones', zones.length ? `zones: ${zones.join(' · ')}` : '');
    const cfgText = facts(status.config);
    const reload = status.last_reload;
    const reloadText = reload && typeof reload === 'object' ? facts(reload) : str(reload);
    fill('config', cfgText ? `config: ${cfgText}` : '',
      reloadText ? ` · last reload: ${reloadText}` : '');
    tick();
  }

  // "key value · key value" for the plain fields of an object (times as dates).
  function facts(o) {
    if (typeof o === 'string') return o;
    return Object.entries(obj(o))
      .filter(([, v]) => ['string', 'number', 'boolean'].includes(typeof v))
      .map(([k, v]) => {
        if (k.endsWith('_at') && typeof v === 'number') return `${k.slice(0, -3).replace(/_/g, ' ')} ${fmtTime(v)}`;
        return `${k.replace(/_/g, ' ')} ${v}`;
      })
      .join(' · ');
  }

  // ---------------------------------------------------------------------------------------
  // Drill actions
  // ---------------------------------------------------------------------------------------

  async function withBusy(fn) {
    busy = true;
    updateDrillButtons();
    setError('action', null);
    try {
      await fn();
    } catch (e) {
      setError('action', e.message || String(e), e.status);
    } finally {
      busy = false;
      updateDrillButtons();
    }
  }

  function previewDrill() {
    const fail = selectedTargets();
    return withBusy(async () => {
      fill('drill-preview', h('p', { class: 'empty' }, 'Computing…'));
      try {
        const res = await api('POST', '/api/v1/drills/preview', { fail });
        renderPreview(fail, obj(res));
      } catch (e) {
        fill('drill-preview');
        throw e;
      }
    });
  }

  function renderPreview(fail, res) {
    const regionRows = arr(res.regions).filter((r) => r && typeof r === 'object');
    const services = obj(res.services);
    const parts = [h('div', { class: 'preview-head' }, 'If ',
      fail.map((f) => h('code', { class: 'target' }, f)), ' failed:',
      h('button', { type: 'button', class: 'ghost small', onclick: () => fill('drill-preview') }, 'clear'))];
    if (regionRows.length) {
      parts.push(h('table', { class: 'list compact', id: 'preview-regions' },
        h('thead', {}, h('tr', {}, h('th', {}, 'clients in'), h('th', {}, 'now'), h('th', {}, 'during'))),
        h('tbody', {}, regionRows.map((r) => {
          const now = str(r.now) || '—';
          const during = str(r.during) || 'nothing';
          const changed = now !== during;
          return h('tr', { class: changed ? 'changed' : '', dataset: { previewRegion: str(r.region), changed: String(changed) } },
            h('td', {}, str(r.region)),
            h('td', {}, h('span', { class: 'swatch', style: { background: poolColour(now) } }), now),
            h('td', { class: changed ? 'moved' : '' },
              h('span', { class: 'swatch', style: { background: poolColour(during) } }), during));
        }))));
    }
    for (const [svc, v] of Object.entries(services)) {
      const now = obj(obj(v).now);
      const during = obj(obj(v).during);
      const names = Array.from(new Set([...Object.keys(now), ...Object.keys(during)]))
        .sort((a, b) => poolRank(a) - poolRank(b) || a.localeCompare(b));
      const cell = (x) => {
        const n = num(x);
        return h('td', { class: 'share' }, n === null ? '–' : [
          h('span', { class: 'minibar' }, h('span', { style: { width: `${Math.round(n * 100)}%` } })),
          ` ${fmtPct(n)}`]);
      };
      parts.push(h('table', { class: 'list compact', dataset: { previewService: svc } },
        h('thead', {}, h('tr', {}, h('th', {}, svc), h('th', {}, 'share now'), h('th', {}, 'during'))),
        h('tbody', {}, names.length === 0
          ? h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'No answers counted yet: no split to project.'))
          : names.map((p) => h('tr', { dataset: { pool: p } },
            h('td', {}, h('span', { class: 'swatch', style: { background: poolColour(p) } }), p),
            cell(now[p]), cell(during[p]))))));
    }
    const loads = arr(res.loads).filter((l) => l && typeof l === 'object');
    if (loads.length) {
      parts.push(h('table', { class: 'list compact', id: 'preview-loads' },
        h('thead', {}, h('tr', {}, h('th', {}, 'pool during'), h('th', {}, 'expected q/s'), h('th', {}, 'capacity'), h('th', {}, 'headroom'))),
        h('tbody', {}, loads.map((l) => {
          const cap = num(l.capacity);
          return h('tr', { class: l.ok === false ? 'changed' : '', dataset: { loadPool: str(l.pool), ok: String(l.ok !== false) } },
            h('td', {}, h('span', { class: 'swatch', style: { background: poolColour(str(l.pool)) } }), str(l.pool)),
            h('td', {}, (num(l.expected_qps) || 0).toFixed(1)),
            h('td', {}, cap === null ? '—' : String(cap)),
            h('td', { class: l.ok === false ? 'moved' : '' }, l.ok === false ? `under ${num(l.headroom)}×` : 'ok'));
        }))));
    }
    for (const w of arr(res.warnings)) parts.push(h('p', { class: 'warning' }, str(w)));
    if (parts.length === 1) parts.push(empty('The server returned nothing to show.'));
    fill('drill-preview', h('div', { id: 'drill-preview-result' }, parts));
  }

  function startDrill() {
    const fail = selectedTargets();
    const reason = $('drill-reason').value.trim();
    const duration = $('drill-duration').value;
    if (!reason) {
      setError('action', 'a drill needs a reason (it is recorded with the drill)', 400);
      $('drill-reason').focus();
      return Promise.resolve();
    }
    return withBusy(async () => {
      await api('POST', '/api/v1/drills', { fail, reason, duration });
      fill('drill-preview');
      await poll();
    });
  }

  function stopDrill(id) {
    return withBusy(async () => {
      await api('POST', `/api/v1/drills/${encodeURIComponent(id)}/stop`);
      await poll();
    });
  }


  // ---------------------------------------------------------------------------------------
  // History charts (GET /api/v1/history), the audit trail and the explain box
  // ---------------------------------------------------------------------------------------

  const SVG_NS = 'http://www.w3.org/2000/svg';
  let history = null;

  function svg(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'dataset') {
        for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
      } else el.setAttribute(k, String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  async function refreshExtras(gen) {
    try {
      const [hist, audit] = await Promise.all([
        api('GET', '/api/v1/history'),
        api('GET', '/api/v1/audit?limit=15'),
      ]);
      if (gen !== generation) return;
      history = obj(hist);
      setError('history', null);
      renderCharts();
      renderAudit(arr(obj(audit).audit));
    } catch (e) {
      if (gen !== generation) return;
      setError('history', e.message, e.status);
    }
  }

  // One chart: series {name: [[t, v], ...]} over the samples' time span, with event markers.
  function chart(id, series, opts) {
    const W = 640;
    const H = 120;
    const PAD = 6;
    const samples = arr(history && history.samples);
    const events = arr(history && history.events);
    const times = samples.map((x) => num(x.at)).filter((t) => t !== null);
    const evTimes = events.map((e) => num(e.at)).filter((t) => t !== null);
    const el = $(id);
    if (!el) return;
    if (times.length === 0) {
      el.replaceChildren(empty('No samples yet (one every 10 s).'));
      return;
    }
    let t0 = Math.min(...times, ...evTimes.filter((t) => t >= times[0] - 3600));
    let t1 = Math.max(...times, ...evTimes);
    if (t1 - t0 < 1) { t0 -= 5; t1 += 5; }
    let vmax = opts.max ?? 0;
    for (const pts of Object.values(series)) for (const [, v] of pts) vmax = Math.max(vmax, v);
    if (vmax <= 0) vmax = 1;
    const x = (t) => PAD + ((t - t0) / (t1 - t0)) * (W - 2 * PAD);
    const y = (v) => H - PAD - (v / vmax) * (H - 2 * PAD);
    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img',
      'aria-label': opts.label, preserveAspectRatio: 'none' });
    root.append(svg('line', { x1: PAD, x2: W - PAD, y1: y(0), y2: y(0), class: 'axis' }));
    for (const e of events) {
      const t = num(e.at);
      if (t === null || t < t0) continue;
      root.append(svg('line', { x1: x(t), x2: x(t), y1: PAD, y2: H - PAD,
        class: `event ev-${str(e.kind)}`, dataset: { eventKind: str(e.kind), eventAt: t } },
      svg('title', {}, `${fmtTime(t)} ${str(e.kind)}: ${str(e.text)}`)));
    }
    const legend = [];
    for (const [name, pts] of Object.entries(series)) {
      if (pts.length === 0) continue;
      const colour = opts.colour ? opts.colour(name) : PALETTE[0];
      const d = pts.map(([t, v], i) => `${i ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      root.append(svg('path', { d, fill: 'none', stroke: colour, 'stroke-width': 2,
        dataset: { series: name, points: pts.length, last: pts[pts.length - 1][1] } }));
      for (const [t, v] of pts) {
        root.append(svg('circle', { cx: x(t), cy: y(v), r: 2.5, fill: colour },
          svg('title', {}, `${name} ${fmtTime(t)}: ${opts.fmt(v)}`)));
      }
      legend.push(h('span', { class: 'lg-series' }, h('i', { class: 'swatch', style: { background: colour } }),
        `${name} ${opts.fmt(pts[pts.length - 1][1])}`));
    }
    el.replaceChildren(root, h('div', { class: 'chart-legend' }, legend,
      h('span', { class: 'hint' }, `since ${fmtTime(t0)}; max ${opts.fmt(vmax)}`)));
  }

  function renderCharts() {
    const samples = arr(history && history.samples);
    const qps = { queries: [] };
    const answers = {};
    const health = {};
    for (const x of samples) {
      const t = num(x.at);
      if (t === null) continue;
      if (num(x.qps) !== null) qps.queries.push([t, x.qps]);
      for (const [p, v] of Object.entries(obj(x.pool_answers))) {
        if (num(v) !== null) (answers[p] = answers[p] || []).push([t, v]);
      }
      for (const [p, v] of Object.entries(obj(x.pool_health))) {
        if (num(v) !== null) (health[p] = health[p] || []).push([t, v]);
      }
    }
    const perS = (v) => `${v.toFixed(v < 10 ? 1 : 0)}/s`;
    chart('chart-qps', qps, { label: 'queries per second', fmt: perS });
    chart('chart-pools', answers, { label: 'answers per second by pool', fmt: perS, colour: poolColour });
    chart('chart-health', health, { label: 'share of endpoints up by pool', fmt: fmtPct, max: 1, colour: poolColour });
    const evs = arr(history && history.events);
    $('history-hint').textContent = `${samples.length} samples every ${num(history && history.interval_s) ?? 10} s, ${evs.length} events`;
  }

  function renderAudit(rows) {
    if (rows.length === 0) {
      fill('audit', empty('Nothing audited yet.'));
      return;
    }
    fill('audit', h('table', { class: 'list compact audit' },
      h('thead', {}, h('tr', {}, h('th', {}, 'when'), h('th', {}, 'token'), h('th', {}, 'source'),
        h('th', {}, 'request'), h('th', {}, 'status'))),
      h('tbody', {}, rows.map((a) => h('tr', { dataset: { auditPath: str(a.path) },
        class: num(a.status) !== null && a.status >= 400 ? 'refused' : '' },
      h('td', {}, ago(num(a.at))), h('td', {}, str(a.token)), h('td', {}, str(a.source)),
      h('td', { title: str(a.request) }, `${str(a.method)} ${str(a.path)}`),
      h('td', {}, str(a.status)))))));
  }

  async function explainAsk(ev) {
    ev.preventDefault();
    const name = $('explain-name').value.trim();
    const type = $('explain-type').value.trim() || 'A';
    const client = $('explain-client').value.trim();
    if (!name || !client) {
      fill('explain-result', empty('A name and a client address are needed.'));
      return;
    }
    const q = new URLSearchParams({ name, type, client });
    try {
      const res = obj(await api('GET', `/api/v1/explain?${q}`));
      fill('explain-result', h('pre', { class: 'trace', id: 'explain-trace' }, str(res.trace)));
    } catch (e) {
      fill('explain-result', h('p', { class: 'empty', id: 'explain-error' }, e.message));
    }
  }

  // ---------------------------------------------------------------------------------------
  // The 1 s ticker: countdowns, relative times, progress, staleness
  // ---------------------------------------------------------------------------------------

  function tick() {
    const now = nowS();
    for (const el of document.querySelectorAll('[data-until]')) {
      const left = Number(el.dataset.until) - now;
      el.textContent = left > 0 ? fmtDuration(left) : 'expiring…';
      el.classList.toggle('soon', left < 60);
    }
    for (const el of document.querySelectorAll('[data-since]')) {
      el.textContent = fmtAgo(Number(el.dataset.since));
    }
    const card = $('drill-active');
    const fillEl = $('drill-progress');
    if (card && fillEl && card.dataset.startedAt && card.dataset.endsAt) {
      const s = Number(card.dataset.startedAt);
      const e = Number(card.dataset.endsAt);
      const frac = Math.min(1, Math.max(0, (now - s) / (e - s)));
      fillEl.style.width = `${(frac * 100).toFixed(1)}%`;
    }
    $('updated').textContent = lastOk ? `updated ${new Date(lastOk).toLocaleTimeString()}` : '';
    renderConn();
  }

  // ---------------------------------------------------------------------------------------
  // Start
  // ---------------------------------------------------------------------------------------

  function init() {
    $('token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      setToken($('token-input').value.trim());
    });
    $('token-forget').addEventListener('click', () => {
      $('token-input').value = '';
      setToken('');
      for (const id of ['summary', 'health-grid', 'latency', 'traffic', 'overrides', 'scheduled', 'transitions', 'drill', 'drill-preview', 'chart-qps', 'chart-pools', 'chart-health', 'audit', 'explain-result']) fill(id);
    });
    $('drill-preview-btn').addEventListener('click', previewDrill);
    $('drill-start-btn').addEventListener('click', startDrill);
    $('drill-form').addEventListener('submit', (ev) => ev.preventDefault());
    $('explain-form').addEventListener('submit', explainAsk);
    $('token-input').value = token;
    setInterval(tick, 1000);
    setToken(token);
    if (!token) $('token-input').focus();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
