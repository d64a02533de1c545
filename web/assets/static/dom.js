// Small DOM, formatting and API helpers of the dashboard.

const csrf = document.querySelector('meta[name="csrf-token"]').content;

export function el(tag, attrs, ...children) {
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
export function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children.flat()) if (c) e.append(c);
  return e;
}

export function pct(x, digits = 1) {
  if (x === null || x === undefined || !isFinite(x)) return '–';
  return (x * 100).toFixed(digits) + '%';
}

export function num(n) {
  if (n === null || n === undefined) return '–';
  if (n >= 1e9) return (n / 1e9).toFixed(1) + 'G';
  if (n >= 1e6) return (n / 1e6).toFixed(1) + 'M';
  if (n >= 1e4) return (n / 1e3).toFixed(1) + 'k';
  return Math.round(n).toLocaleString('en-US');
}

export function duration(s) {
  s = Math.floor(s);
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
  if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
  return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
}

export function ago(t) {
  const s = (Date.now() - new Date(t).getTime()) / 1000;
  if (s < 5) return 'just now';
  if (s < 3600 * 24) return duration(s) + ' ago';
  return new Date(t).toLocaleString();
}

export function clock(d) {
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function setText(id, v) {
  const e = document.getElementById(id);
  if (e && e.textContent !== v) e.textContent = v;
}

export async function api(path, opts = {}) {
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
