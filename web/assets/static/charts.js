// The dashboard's charts: the last hour's history drawn as SVG by hand
// (a few dozen lines; no chart library to ship or build).

import { api, clock, num, svg } from './dom.js';

export const LAYERS = [
  { key: 'browser', name: 'Browser', note: '304 Not Modified', color: '#7c3aed' },
  { key: 'l1', name: 'L1', note: 'in-process', color: '#16a34a' },
  { key: 'l2', name: 'L2', note: 'Redis', color: '#0d9488' },
  { key: 'cdn', name: 'CDN', note: 'provider analytics', color: '#2563eb' },
  { key: 'origin', name: 'Origin', note: 'forwarded', color: '#ea580c' },
];
// purges are the purges of the audit log, { t, label }, marked on the charts.
export const state = { history: [], interval: 5, window: 3600, live: null, purges: [] };

export function sparkline(seriesKey, name) {
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

// SPANS are the widths the time axis may take, in seconds. While the
// history is younger than the window, the axis spans the history rounded
// up to one of these (at least 5 minutes), so a young process's samples
// fill the chart instead of a sliver at its right edge, and the axis
// rescales a few times in the first hour rather than with every sample.
const SPANS = [300, 600, 900, 1200, 1800, 2700, 3600];
// TICK_STEPS are the distances between the axis's labels, in seconds.
const TICK_STEPS = [15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];

// axisSpan returns the seconds the time axis covers, given the start of
// the oldest bucket (ms, null without history), now (ms) and the window.
export function axisSpan(oldestMs, nowMs, windowSec) {
  const age = oldestMs === null ? 0 : (nowMs - oldestMs) / 1000;
  for (const s of SPANS) if (s >= age && s < windowSec) return s;
  return windowSec;
}

// timeTicks returns the seconds before now at which the axis is labelled,
// now (0) first: the smallest step that divides the span into at most 8
// parts and leaves each label about 80 px, so a narrow screen gets fewer.
export function timeTicks(spanSec, widthPx) {
  const most = Math.max(1, Math.min(8, Math.floor(widthPx / 80)));
  const step = TICK_STEPS.find((st) => spanSec % st === 0 && spanSec / st <= most) || spanSec;
  const out = [];
  for (let s = 0; s <= spanSec + 1e-9; s += step) out.push(s);
  return out;
}

// tickLabel labels a tick: seconds or minutes before now.
export function tickLabel(sec) {
  if (sec === 0) return 'now';
  if (sec < 60 || sec % 60 !== 0) return sec + ' s ago';
  if (sec < 7200 || sec % 3600 !== 0) return sec / 60 + ' min ago';
  return sec / 3600 + ' h ago';
}

// spanText names the span for the chart's heading.
export function spanText(sec) {
  if (sec === 3600) return 'last hour';
  if (sec % 3600 === 0) return 'last ' + sec / 3600 + ' hours';
  if (sec % 60 === 0) return 'last ' + sec / 60 + ' minutes';
  return 'last ' + sec + ' seconds';
}

// currentSpan is the span for the history held now.
function currentSpan(now) {
  const s = state.history[0];
  const oldest = s ? new Date(s.time).getTime() - (s.seconds || state.interval) * 1000 : null;
  return axisSpan(oldest, now, state.window);
}

function chartFrame(box, H, yTicks, yFmt, now, span) {
  const W = Math.max(box.clientWidth, 300);
  const m = { l: 44, r: 12, t: 8, b: 22 };
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H });
  const t0 = now - span * 1000;
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
  for (const sec of timeTicks(span, W - m.l - m.r)) {
    const xx = x(now - sec * 1000);
    if (sec !== 0 && sec !== span) grid.append(svg('line', { x1: xx, x2: xx, y1: m.t, y2: H - m.b }));
    const lbl = svg('text', { x: xx, y: H - 5, 'text-anchor': sec === 0 ? 'end' : sec === span ? 'start' : 'middle' });
    lbl.textContent = tickLabel(sec);
    // The clock time, on hover.
    lbl.append(svg('title'));
    lbl.lastChild.textContent = clock(new Date(now - sec * 1000));
    axis.append(lbl);
  }
  root.append(grid, axis);
  const y = (v) => m.t + (1 - v / yTicks.max) * (H - m.t - m.b);
  return { root, x, y, m, W, H, t0 };
}

// markPurges draws a dashed line at each purge within the chart's span,
// its tenant and targets on hover: a drop in the hit ratio next to one
// explains itself.
function markPurges(f, now) {
  for (const p of state.purges) {
    if (p.t < f.t0 || p.t > now) continue;
    const xx = f.x(p.t);
    const line = svg('line', { class: 'purge-mark', x1: xx, x2: xx, y1: f.m.t, y2: f.H - f.m.b });
    line.append(svg('title'));
    line.lastChild.textContent = 'purge ' + p.label + ' at ' + clock(new Date(p.t));
    f.root.append(line);
  }
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

function renderRatioChart(now, span) {
  const box = document.getElementById('chart-ratio');
  const f = chartFrame(box, box.clientHeight || 240, { max: 1, values: [0, 0.25, 0.5, 0.75, 1] }, (v) => v * 100 + '%', now, span);
  const shown = state.history.filter((s) => new Date(s.time).getTime() >= f.t0);
  const hs = aggregate(shown, (f.W - f.m.l - f.m.r) / 5);
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
  markPurges(f, now);
  box.replaceChildren(f.root);
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const k of [1, 2, 2.5, 5, 10]) if (k * p >= v) return k * p;
  return 10 * p;
}

function renderRPSChart(now, span) {
  const box = document.getElementById('chart-rps');
  const hs = aggregate(state.history, Math.max(box.clientWidth, 300) / 4);
  let peak = 0;
  for (const s of hs) peak = Math.max(peak, s.requests / (s.seconds || state.interval));
  const max = niceMax(peak);
  const f = chartFrame(box, box.clientHeight || 110, { max, values: [0, max / 2, max] }, (v) => (v < 10 ? String(+v.toFixed(1)) : num(v)), now, span);
  const pxPerSec = (f.W - f.m.l - f.m.r) / span;
  for (const s of hs) {
    const secs = s.seconds || state.interval;
    const width = Math.max(1, secs * pxPerSec - 1);
    const all = s.requests / secs;
    const origin = ((s.layers.origin || {}).hits || 0) / secs;
    const right = f.x(new Date(s.time).getTime());
    // A bucket that began before the axis is cut at its left edge.
    const xx = Math.max(f.m.l, right - width);
    const bw = right - xx;
    if (bw <= 0) continue;
    f.root.append(svg('rect', { x: xx, y: f.y(all), width: bw, height: Math.max(0, f.y(origin) - f.y(all)), fill: '#86efac' }));
    f.root.append(svg('rect', { x: xx, y: f.y(origin), width: bw, height: Math.max(0, f.y(0) - f.y(origin)), fill: '#fdba74' }));
  }
  markPurges(f, now);
  box.replaceChildren(f.root);
}

export function renderCharts() {
  const now = Date.now();
  const span = currentSpan(now);
  const title = document.getElementById('chart-span');
  if (title && title.textContent !== spanText(span)) title.textContent = spanText(span);
  renderRatioChart(now, span);
  renderRPSChart(now, span);
}

export async function loadHistory() {
  const h = await api('/api/v1/history');
  state.interval = h.interval_seconds;
  state.window = h.window_seconds;
  state.history = h.samples;
  renderCharts();
}

export function addSample(s) {
  state.history.push(s);
  const cutoff = Date.now() - state.window * 1000;
  while (state.history.length && new Date(state.history[0].time).getTime() < cutoff) state.history.shift();
  renderCharts();
}
