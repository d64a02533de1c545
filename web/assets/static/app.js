// cachegate dashboard: live figures over Server-Sent Events, the last
// hour's history as hand-drawn SVG, and the purge form. No framework, no
// build step; every string from the server goes in as text, never as HTML.
'use strict';

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const LAYERS = [
  { key: 'browser', name: 'Browser', note: '304 Not Modified', color: '#7c3aed' },
  { key: 'l1', name: 'L1', note: 'in-process', color: '#16a34a' },
  { key: 'l2', name: 'L2', note: 'Redis', color: '#0d9488' },
  { key: 'cdn', name: 'CDN', note: 'where reported', color: '#2563eb' },
  { key: 'origin', name: 'Origin', note: 'forwarded', color: '#ea580c' },
];
const state = { history: [], interval: 5, window: 3600, live: null };

// ---------- helpers ----------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children.flat()) if (c) e.append(c);
  return e;
}

function pct(x, digits = 1) {
  if (x === null || x === undefined || !isFinite(x)) return '–';
  return (x * 100).toFixed(digits) + '%';
}

function num(n) {
  if (n === null || n === undefined) return '–';
  if (n >= 1e9) return (n / 1e9).toFixed(1) + 'G';
  if (n >= 1e6) return (n / 1e6).toFixed(1) + 'M';
  if (n >= 1e4) return (n / 1e3).toFixed(1) + 'k';
  return Math.round(n).toLocaleString('en-US');
}

function duration(s) {
  s = Math.floor(s);
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
  if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
  return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
}

function ago(t) {
  const s = (Date.now() - new Date(t).getTime()) / 1000;
  if (s < 5) return 'just now';
  if (s < 3600 * 24) return duration(s) + ' ago';
  return new Date(t).toLocaleString();
}

function clock(d) {
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function setText(id, v) {
  const e = document.getElementById(id);
  if (e && e.textContent !== v) e.textContent = v;
}

async function api(path, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.method && opts.method !== 'GET') headers['X-CSRF-Token'] = csrf;
  const resp = await fetch(path, {
    method: opts.method || 'GET',
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    credentials: 'same-origin',
  });
  if (resp.status === 401) {
    location.href = '/login';
    throw new Error('session expired');
  }
  let data = null;
  try { data = await resp.json(); } catch (_) { /* empty body */ }
  if (!resp.ok) {
    const err = new Error((data && data.error) || resp.status + ' ' + resp.statusText);
    err.status = resp.status;
    err.data = data;
    throw err;
  }
  return data;
}

// ---------- live figures ----------

function layerShare(l, key) {
  const c = l.layers[key] || { hits: 0 };
  return l.requests > 0 ? c.hits / l.requests : null;
}

function buildLayers() {
  const box = document.getElementById('layers');
  for (const L of LAYERS) {
    const card = el('div', { class: 'card layer', id: 'layer-' + L.key },
      el('div', { class: 'name' }, L.name, el('small', { text: L.note })),
      el('div', { class: 'value idle', text: '–' }),
      el('div', { class: 'counts' }),
      el('div', { class: 'bar' }, el('span')),
      el('div', { class: 'share' }));
    card.style.setProperty('--c', L.color);
    box.append(card);
  }
  const legend = document.getElementById('legend');
  legend.append(el('span', {}, el('i', { class: 'overall' }), 'Overall'));
  legend.lastChild.firstChild.style.background = '#0f172a';
  for (const L of LAYERS) {
    if (L.key === 'origin') continue;
    const i = el('i');
    i.style.background = L.color;
    legend.append(el('span', {}, i, L.name));
  }
}

function renderLayers(l) {
  for (const L of LAYERS) {
    const card = document.getElementById('layer-' + L.key);
    const c = l.layers[L.key] || { hits: 0, misses: 0, hit_ratio: 0 };
    const value = card.querySelector('.value');
    const share = layerShare(l, L.key);
    let big, counts, bar, shareText;
    if (L.key === 'origin') {
      big = share === null ? '–' : pct(share);
      counts = [el('b', { text: num(c.hits) }), ' forwarded'];
      bar = share || 0;
      shareText = l.requests > 0 ? 'of all requests went to the origin' : 'no requests yet';
    } else {
      const total = c.hits + c.misses;
      big = total > 0 ? pct(c.hit_ratio) : '–';
      counts = [el('b', { text: num(c.hits) }), ' hits · ', el('b', { text: num(c.misses) }), ' misses'];
      bar = total > 0 ? c.hit_ratio : 0;
      shareText = share ? 'answered ' + pct(share) + ' of requests' : 'no lookups yet';
    }
    value.textContent = big;
    value.classList.toggle('idle', big === '–');
    card.querySelector('.counts').replaceChildren(...counts);
    card.querySelector('.bar span').style.width = (bar * 100).toFixed(1) + '%';
    card.querySelector('.share').textContent = shareText;
  }
}

function ratioCell(r, requests) {
  const b = el('div', { class: 'bar' }, el('span'));
  b.firstChild.style.width = (requests > 0 ? r * 100 : 0).toFixed(1) + '%';
  return el('td', {}, el('div', { class: 'ratio' }, b, el('b', { text: requests > 0 ? pct(r, 0) : '–' })));
}

function renderRows(tableId, rows, seriesKey) {
  const tbody = document.querySelector('#' + tableId + ' tbody');
  if (!rows.length) {
    tbody.replaceChildren(el('tr', {}, el('td', { colspan: 7, class: 'muted', text: 'No traffic yet.' })));
    return;
  }
  tbody.replaceChildren(...rows.map((r) => el('tr', { 'data-name': r.name },
    el('td', { class: 'name', title: r.name, text: r.name === '_other' ? '(others)' : r.name }),
    el('td', { class: 'num', text: num(r.requests) }),
    ratioCell(r.hit_ratio, r.requests),
    el('td', { class: 'num', text: num((r.layers.l1 || {}).hits || 0) }),
    el('td', { class: 'num', text: num((r.layers.l2 || {}).hits || 0) }),
    el('td', { class: 'num', text: num((r.layers.origin || {}).hits || 0) }),
    el('td', {}, sparkline(seriesKey, r.name)))));
}

function renderLive(l) {
  state.live = l;
  const hero = document.getElementById('hit-ratio');
  hero.textContent = l.requests > 0 ? pct(l.hit_ratio) : '–';
  setText('requests', num(l.requests));
  setText('rps', l.rps >= 100 ? num(l.rps) : l.rps.toFixed(1));
  setText('saved', num(l.saved));
  const forwarded = (l.layers.origin || {}).hits || 0;
  setText('forwarded', num(forwarded));
  setText('forwarded-share', l.requests > 0 ? pct(forwarded / l.requests) : '–');
  setText('uptime', duration(l.uptime_seconds));
  let hourSaved = 0;
  for (const s of state.history) hourSaved += s.requests - ((s.layers.origin || {}).hits || 0);
  setText('saved-hour', num(hourSaved));
  renderLayers(l);
  renderRows('tenants', l.tenants, 'tenants');
  renderRows('routes', l.routes, 'routes');
  setText('tenant-count', l.tenant_count + (l.tenant_count === 1 ? ' tenant' : ' tenants'));
  setText('route-count', l.route_count + (l.route_count === 1 ? ' route' : ' routes'));
}

// ---------- charts ----------

function sparkline(seriesKey, name) {
  const W = 90, H = 22;
  const pts = [];
  const hs = aggregate(state.history, 45);
  const n = hs.length;
  hs.forEach((s, i) => {
    const p = (s[seriesKey] || {})[name];
    if (p && p.requests > 0) pts.push([i, 1 - p.origin / p.requests]);
  });
  const root = svg('svg', { class: 'spark', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none' });
  if (pts.length < 2) return root;
  const x = (i) => (n <= 1 ? 0 : (i / (n - 1)) * W);
  const y = (v) => H - 2 - v * (H - 4);
  const d = pts.map(([i, v], k) => (k ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1)).join('');
  root.append(svg('path', { d, fill: 'none', stroke: '#16a34a', 'stroke-width': 1.6, 'vector-effect': 'non-scaling-stroke' }));
  return root;
}

// aggregate merges runs of consecutive buckets so that a chart has about
// maxPoints points: sums, not averages of ratios, so busy buckets weigh more.
function aggregate(samples, maxPoints) {
  const k = Math.max(1, Math.ceil(samples.length / Math.max(1, maxPoints)));
  if (k === 1) return samples;
  const out = [];
  for (let i = 0; i < samples.length; i += k) {
    const group = samples.slice(i, i + k);
    const m = { time: group[group.length - 1].time, seconds: 0, requests: 0, layers: {}, tenants: {}, routes: {} };
    for (const s of group) {
      m.seconds += s.seconds;
      m.requests += s.requests;
      for (const [l, c] of Object.entries(s.layers || {})) {
        const t = m.layers[l] || (m.layers[l] = { hits: 0, misses: 0 });
        t.hits += c.hits;
        t.misses += c.misses;
      }
      for (const key of ['tenants', 'routes']) {
        for (const [n, p] of Object.entries(s[key] || {})) {
          const t = m[key][n] || (m[key][n] = { requests: 0, origin: 0 });
          t.requests += p.requests;
          t.origin += p.origin;
        }
      }
    }
    out.push(m);
  }
  return out;
}

function chartFrame(box, H, yTicks, yFmt) {
  const W = Math.max(box.clientWidth, 300);
  const m = { l: 44, r: 12, t: 8, b: 22 };
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H });
  const now = Date.now();
  const t0 = now - state.window * 1000;
  const x = (t) => m.l + ((t - t0) / (now - t0)) * (W - m.l - m.r);
  const grid = svg('g', { class: 'grid' });
  const axis = svg('g', { class: 'axis' });
  for (const v of yTicks.values) {
    const yy = m.t + (1 - v / yTicks.max) * (H - m.t - m.b);
    grid.append(svg('line', { x1: m.l, x2: W - m.r, y1: yy, y2: yy }));
    const t = svg('text', { x: m.l - 8, y: yy + 4, 'text-anchor': 'end' });
    t.textContent = yFmt(v);
    axis.append(t);
  }
  for (let k = 0; k <= 4; k++) {
    const t = t0 + (k / 4) * (now - t0);
    const lbl = svg('text', { x: x(t), y: H - 5, 'text-anchor': k === 0 ? 'start' : k === 4 ? 'end' : 'middle' });
    lbl.textContent = k === 4 ? 'now' : clock(new Date(t));
    axis.append(lbl);
  }
  root.append(grid, axis);
  const y = (v) => m.t + (1 - v / yTicks.max) * (H - m.t - m.b);
  return { root, x, y, m, W, H };
}

function linePath(points, x, y) {
  let d = '', pen = false, prev = null;
  for (const p of points) {
    if (p.v === null || (prev && p.t - prev > p.gap)) pen = false;
    if (p.v === null) { prev = null; continue; }
    d += (pen ? 'L' : 'M') + x(p.t).toFixed(1) + ' ' + y(p.v).toFixed(1);
    pen = true;
    prev = p.t;
  }
  return d;
}

function renderRatioChart() {
  const box = document.getElementById('chart-ratio');
  const f = chartFrame(box, box.clientHeight || 240, { max: 1, values: [0, 0.25, 0.5, 0.75, 1] }, (v) => v * 100 + '%');
  const hs = aggregate(state.history, (f.W - f.m.l - f.m.r) / 5);
  if (!hs.length) {
    const t = svg('text', { class: 'empty', x: f.W / 2, y: f.H / 2, 'text-anchor': 'middle' });
    t.textContent = 'Collecting — the first point appears after ' + state.interval + ' s.';
    f.root.append(t);
  }
  for (const L of LAYERS) {
    if (L.key === 'origin') continue;
    const pts = hs.map((s) => {
      const c = s.layers[L.key] || { hits: 0, misses: 0 };
      const tot = c.hits + c.misses;
      return { t: new Date(s.time).getTime(), v: tot > 0 ? c.hits / tot : null, gap: s.seconds * 2500 };
    });
    f.root.append(svg('path', { d: linePath(pts, f.x, f.y), fill: 'none', stroke: L.color, 'stroke-width': 1.6, 'stroke-linejoin': 'round', opacity: 0.85 }));
  }
  const overall = hs.map((s) => ({
    t: new Date(s.time).getTime(),
    v: s.requests > 0 ? 1 - ((s.layers.origin || {}).hits || 0) / s.requests : null,
    gap: s.seconds * 2500,
  }));
  const d = linePath(overall, f.x, f.y);
  if (d) {
    const first = overall.find((p) => p.v !== null);
    const lastPt = [...overall].reverse().find((p) => p.v !== null);
    const area = d + `L${f.x(lastPt.t).toFixed(1)} ${f.y(0)}L${f.x(first.t).toFixed(1)} ${f.y(0)}Z`;
    if (!d.slice(1).includes('M')) f.root.append(svg('path', { d: area, fill: 'rgba(22,163,74,.08)' }));
    f.root.append(svg('path', { d, fill: 'none', stroke: '#0f172a', 'stroke-width': 2.4, 'stroke-linejoin': 'round' }));
  }
  box.replaceChildren(f.root);
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const k of [1, 2, 2.5, 5, 10]) if (k * p >= v) return k * p;
  return 10 * p;
}

function renderRPSChart() {
  const box = document.getElementById('chart-rps');
  const hs = aggregate(state.history, Math.max(box.clientWidth, 300) / 4);
  let peak = 0;
  for (const s of hs) peak = Math.max(peak, s.requests / (s.seconds || state.interval));
  const max = niceMax(peak);
  const f = chartFrame(box, box.clientHeight || 110, { max, values: [0, max / 2, max] }, (v) => (v < 10 ? String(+v.toFixed(1)) : num(v)));
  const pxPerSec = (f.W - f.m.l - f.m.r) / state.window;
  for (const s of hs) {
    const secs = s.seconds || state.interval;
    const bw = Math.max(1, secs * pxPerSec - 1);
    const all = s.requests / secs;
    const origin = ((s.layers.origin || {}).hits || 0) / secs;
    const xx = f.x(new Date(s.time).getTime()) - bw;
    f.root.append(svg('rect', { x: xx, y: f.y(all), width: bw, height: Math.max(0, f.y(origin) - f.y(all)), fill: '#86efac' }));
    f.root.append(svg('rect', { x: xx, y: f.y(origin), width: bw, height: Math.max(0, f.y(0) - f.y(origin)), fill: '#fdba74' }));
  }
  box.replaceChildren(f.root);
}

function renderCharts() {
  renderRatioChart();
  renderRPSChart();
}

async function loadHistory() {
  const h = await api('/api/v1/history');
  state.interval = h.interval_seconds;
  state.window = h.window_seconds;
  state.history = h.samples;
  renderCharts();
}

function addSample(s) {
  state.history.push(s);
  const cutoff = Date.now() - state.window * 1000;
  while (state.history.length && new Date(state.history[0].time).getTime() < cutoff) state.history.shift();
  renderCharts();
}

function connect() {
  const conn = document.getElementById('conn');
  const es = new EventSource('/api/v1/stream');
  es.addEventListener('open', () => {
    conn.className = 'conn live';
    setText('conn-text', 'live');
  });
  es.addEventListener('live', (e) => renderLive(JSON.parse(e.data)));
  es.addEventListener('sample', (e) => addSample(JSON.parse(e.data)));
  es.addEventListener('logout', () => { es.close(); location.href = '/login'; });
  es.addEventListener('error', () => {
    conn.className = 'conn down';
    setText('conn-text', 'reconnecting…');
    // A stream refused for an expired session ends for good: check once.
    if (es.readyState === EventSource.CLOSED) api('/api/v1/stats').then(() => setTimeout(connect, 2000), () => {});
  });
}

// ---------- purges ----------

const KIND_HELP = {
  tags: ['Tag', 'company:acme', 'Tags as the origin names them (Surrogate-Key / Cache-Tag); separate several with spaces.'],
  urls: ['URL', '/companies?page=2', 'Paths with their query, as requested; separate several with spaces.'],
  prefixes: ['Path prefix', '/companies', 'Drops every page under the prefix, on segment boundaries.'],
  everything: ['', '', 'Drops every cached response of the tenant, in every layer and at the CDN.'],
};

function chip(target, st) {
  return el('span', { class: 'chip ' + st.status, title: st.detail || '' }, el('b', { text: target }), st.status,
    st.attempts > 1 ? ' ×' + st.attempts : '');
}

function sortedTargets(targets) {
  const order = { l1: 0, l2: 1 };
  return Object.keys(targets).sort((a, b) => (order[a] ?? 9) - (order[b] ?? 9) || a.localeCompare(b));
}

function describe(req) {
  if (req.everything) return [el('span', { class: 'tag', text: 'everything' })];
  return [...(req.tags || []), ...(req.urls || []), ...(req.prefixes || []).map((p) => p + '*')]
    .map((t) => el('span', { class: 'tag', text: t }));
}

let purgePoll = null;

function showPurge(box, title, resp, extra) {
  box.hidden = false;
  box.classList.remove('error');
  const chips = resp && resp.targets ? sortedTargets(resp.targets).map((k) => chip(k, resp.targets[k])) : [];
  let status = 'queued';
  if (resp && resp.failed) status = 'failed';
  else if (resp && resp.done && chips.length) status = 'done';
  else if (resp && chips.length) status = 'in progress';
  box.replaceChildren(
    el('div', { class: 'title' }, title, el('span', { class: 'chip ' + (status === 'done' ? 'ok' : status === 'failed' ? 'failed' : 'queued'), id: 'purge-overall', text: status })),
    el('div', { class: 'chips', id: 'purge-targets' }, chips.length ? chips : el('span', { class: 'muted', text: 'waiting for the first layer…' })),
    ...(extra ? [extra] : []));
}

async function pollPurge(box, id, title) {
  clearTimeout(purgePoll);
  let delay = 400;
  const tick = async () => {
    try {
      const st = await api('/api/v1/purges/' + encodeURIComponent(id));
      showPurge(box, title, st);
      if (st.done && Object.keys(st.targets).length) { refreshActivity(); return; }
    } catch (e) {
      if (e.status !== 404) { showPurge(box, title, null, el('p', { class: 'muted', text: e.message })); }
    }
    delay = Math.min(delay * 1.5, 3000);
    purgePoll = setTimeout(tick, delay);
  };
  tick();
}

function setupPurgeForm() {
  const form = document.getElementById('purge-form');
  const kind = document.getElementById('purge-kind');
  const valueLabel = document.getElementById('purge-value-label');
  const value = document.getElementById('purge-value');
  const box = document.getElementById('purge-status');
  const dialog = document.getElementById('confirm');
  const update = () => {
    const [label, ph, hint] = KIND_HELP[kind.value];
    valueLabel.hidden = kind.value === 'everything';
    valueLabel.firstChild.textContent = label;
    value.placeholder = ph;
    setText('purge-hint', hint);
  };
  kind.addEventListener('change', update);
  update();

  const submit = async () => {
    const tenant = document.getElementById('purge-tenant').value.trim();
    const req = { tenant };
    if (kind.value === 'everything') req.everything = true;
    else req[kind.value] = value.value.split(/\s+/).filter(Boolean);
    const wait = document.getElementById('purge-wait').checked;
    const btn = document.getElementById('purge-submit');
    btn.disabled = true;
    const title = el('span', {}, 'Purge of ', el('strong', { text: tenant }), ' ', ...describe(req));
    showPurge(box, title, null);
    try {
      const resp = await api('/api/v1/purge' + (wait ? '?wait=1' : ''), { method: 'POST', body: req });
      title.append(el('span', { class: 'muted', text: ' · id ' + resp.id }));
      pollPurge(box, resp.id, title);
      refreshActivity();
    } catch (e) {
      box.hidden = false;
      box.classList.add('error');
      box.replaceChildren(el('div', { class: 'title', text: 'Purge refused' }), el('div', { id: 'purge-error', text: e.message }));
      if (e.data && e.data.id) pollPurge(box, e.data.id, title);
    } finally {
      btn.disabled = false;
    }
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (kind.value === 'everything') {
      setText('confirm-tenant', document.getElementById('purge-tenant').value.trim());
      dialog.returnValue = '';
      dialog.showModal();
      return;
    }
    if (!value.value.trim()) { value.focus(); return; }
    submit();
  });
  dialog.addEventListener('close', () => { if (dialog.returnValue === 'ok') submit(); });
}

// ---------- activity and dead letters ----------

function resultCell(r) {
  if (!r) return el('td');
  const ok = r === 'ok' || r === 'applied' || r === 'confirmed' || r === 'queued';
  return el('td', { class: ok ? 'result-ok' : r.startsWith('failed') ? 'result-bad' : '', text: r });
}

function renderAudit(entries) {
  const tbody = document.querySelector('#audit tbody');
  document.getElementById('audit-empty').hidden = entries.length > 0;
  tbody.replaceChildren(...entries.slice(0, 40).map((e) => el('tr', {},
    el('td', { class: 'when', title: e.time, text: ago(e.time) }),
    el('td', { class: 'action ' + e.action.split('.')[0] + (e.action.includes('fail') ? ' failed' : '') + (e.action.includes('dead') ? ' dead' : ''), text: e.action + (e.provider ? ' · ' + e.provider : '') }),
    el('td', { text: e.tenant || '' }),
    el('td', {}, describe(e)),
    resultCell(e.result),
    el('td', { class: 'muted', text: e.actor || '' }))));
}

async function renderRecentPurges(entries) {
  const box = document.getElementById('recent-purges');
  const seen = new Set();
  const purges = [];
  for (const e of entries) {
    if (e.action !== 'purge' || !e.id || seen.has(e.id)) continue;
    seen.add(e.id);
    purges.push(e);
    if (purges.length === 6) break;
  }
  if (!purges.length) return;
  const items = await Promise.all(purges.map(async (e) => {
    let chips;
    try {
      const st = await api('/api/v1/purges/' + encodeURIComponent(e.id));
      chips = sortedTargets(st.targets).map((k) => chip(k, st.targets[k]));
    } catch (err) {
      chips = [el('span', { class: 'muted', text: err.message })];
    }
    return el('div', { class: 'purge-item' },
      el('div', { class: 'what' }, el('strong', { text: e.tenant }), ' ', describe(e), el('span', { class: 'meta', text: ago(e.time) + ' · ' + (e.actor || '') })),
      el('div', { class: 'chips' }, chips));
  }));
  box.replaceChildren(...items);
}

function renderDeadLetters(list) {
  const tbody = document.querySelector('#deadletters tbody');
  document.getElementById('deadletters-empty').hidden = list.length > 0;
  tbody.replaceChildren(...list.map((d) => {
    const btn = el('button', { class: 'btn ghost small', text: 'Retry' });
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      try {
        await api('/api/v1/deadletters/' + d.seq + '/retry', { method: 'POST' });
        btn.textContent = 'Retried';
        refreshActivity();
      } catch (e) {
        btn.textContent = 'Failed';
        btn.title = e.message;
        btn.disabled = false;
      }
    });
    return el('tr', { 'data-seq': d.seq },
      el('td', { class: 'when', title: d.time, text: ago(d.time) }),
      el('td', { class: 'result-bad', text: d.reason }),
      el('td', { class: 'body', title: d.body || '', text: d.body || d.subject || '' }),
      el('td', { class: 'num' }, btn));
  }));
}

function showUnavailable(tableId, emptyId, err) {
  document.querySelector('#' + tableId + ' tbody').replaceChildren();
  const p = document.getElementById(emptyId);
  p.hidden = false;
  p.textContent = err.message;
}

let activityTimer = null;
async function refreshActivity() {
  clearTimeout(activityTimer);
  try {
    const a = await api('/api/v1/audit?limit=100');
    renderAudit(a.entries);
    await renderRecentPurges(a.entries);
  } catch (e) {
    showUnavailable('audit', 'audit-empty', e);
  }
  try {
    const d = await api('/api/v1/deadletters?limit=50');
    renderDeadLetters(d.dead_letters);
  } catch (e) {
    showUnavailable('deadletters', 'deadletters-empty', e);
  }
  activityTimer = setTimeout(refreshActivity, 5000);
}

// ---------- start ----------

buildLayers();
setupPurgeForm();
loadHistory().catch(() => renderCharts());
connect();
refreshActivity();
window.addEventListener('resize', () => renderCharts());
setInterval(renderCharts, 30000); // keep the time axis moving when traffic stops
