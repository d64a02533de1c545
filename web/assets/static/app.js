// cachegate dashboard: live figures over Server-Sent Events, the last
// hour's history as hand-drawn SVG, and the purge form. No framework, no
// build step; every string from the server goes in as text, never as HTML.

import { ago, api, duration, el, num, pct, setText } from './dom.js';
import { LAYERS, addSample, loadHistory, renderCharts, sparkline, state } from './charts.js';

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

// cdnFigures fills the CDN card from the providers' own analytics
// (/api/v1/cdn/stats): the gateway cannot see what the CDN answered.
function cdnFigures() {
  const c = state.cdn;
  if (!c) return { big: '–', counts: [], bar: 0, shareText: 'loading…' };
  if (!c.configured) return { big: '–', counts: [], bar: 0, shareText: 'not configured' };
  let hits = 0, requests = 0;
  const bad = [];
  for (const p of c.providers) {
    if (p.error) { bad.push(p.provider + ': ' + p.error); continue; }
    hits += p.hits;
    requests += p.requests;
  }
  const ok = c.providers.filter((p) => !p.error);
  const ratio = ok.length === 1 ? ok[0].hit_ratio : requests > 0 ? hits / requests : null;
  return {
    big: ratio === null || !ok.length ? '–' : pct(ratio),
    counts: [el('b', { text: num(hits) }), ' hits of ', el('b', { text: num(requests) }), ' · ' + ok.map((p) => p.provider).join(', ')],
    bar: ratio || 0,
    shareText: bad.length ? 'unavailable — ' + bad.join('; ') : "the CDN's own analytics",
  };
}

function renderLayers(l) {
  for (const L of LAYERS) {
    const card = document.getElementById('layer-' + L.key);
    const c = l.layers[L.key] || { hits: 0, misses: 0, hit_ratio: 0 };
    const value = card.querySelector('.value');
    const share = layerShare(l, L.key);
    let big, counts, bar, shareText;
    if (L.key === 'cdn') {
      ({ big, counts, bar, shareText } = cdnFigures());
    } else if (L.key === 'origin') {
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

function connect() {
  const conn = document.getElementById('conn');
  const banner = document.getElementById('stream-error');
  conn.hidden = false;
  const es = new EventSource('/api/v1/stream');
  es.addEventListener('open', () => {
    conn.className = 'conn live';
    setText('conn-text', 'live');
    banner.hidden = true;
  });
  es.addEventListener('live', (e) => renderLive(JSON.parse(e.data)));
  es.addEventListener('sample', (e) => addSample(JSON.parse(e.data)));
  es.addEventListener('logout', () => { es.close(); location.href = '/login'; });
  es.addEventListener('error', () => {
    conn.className = 'conn down';
    setText('conn-text', 'reconnecting…');
    banner.hidden = false;
    // A stream refused for an expired session ends for good: check once.
    if (es.readyState === EventSource.CLOSED) api('/api/v1/stats').then(() => setTimeout(connect, 2000), () => {});
  });
}

// renderCluster lists every live instance with its own figures (the
// figures above add them up) and the busiest tag prefixes.
function renderCluster(st) {
  const names = Object.keys(st.instances).sort();
  setText('instance-count', names.length + (names.length === 1 ? ' instance' : ' instances') + (st.partial ? ' (the others unreachable)' : ''));
  document.querySelector('#instances tbody').replaceChildren(...names.map((n) => {
    const c = st.instances[n];
    return el('tr', { 'data-name': n },
      el('td', { class: 'name', title: n, text: n + (n === st.instance ? ' (this one)' : '') }),
      el('td', { class: 'num', text: num(c.requests) }),
      ratioCell(c.hit_ratio, c.requests),
      el('td', { class: 'num', text: duration(c.uptime_seconds) }));
  }));
  const tags = Object.entries(st.tag_prefixes || {}).sort((a, b) => b[1].requests - a[1].requests).slice(0, 12);
  document.querySelector('#tag-prefixes tbody').replaceChildren(...(tags.length ? tags.map(([k, c]) => el('tr', { 'data-name': k },
    el('td', {}, el('span', { class: 'tag', text: k === '_other' ? '(others)' : k })),
    el('td', { class: 'num', text: num(c.requests) }),
    ratioCell(c.hit_ratio, c.requests))) : [el('tr', {}, el('td', { colspan: 3, class: 'muted', text: 'No tagged responses yet.' }))]));
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

// touched says how much a purge named: its tags, URLs and prefixes (the
// entries each dropped are not counted by the layers, so not shown).
function touched(e) {
  if (e.everything) return 'everything';
  const n = (k) => (e[k] || []).length;
  const parts = [];
  if (n('tags')) parts.push(n('tags') + (n('tags') === 1 ? ' tag' : ' tags'));
  if (n('urls')) parts.push(n('urls') + (n('urls') === 1 ? ' URL' : ' URLs'));
  if (n('prefixes')) parts.push(n('prefixes') + (n('prefixes') === 1 ? ' prefix' : ' prefixes'));
  return parts.join(', ') || 'nothing';
}

// markPurges hands the audit log's purges to the charts.
function markPurges(entries) {
  state.purges = entries.filter((e) => e.action === 'purge').map((e) => ({
    t: new Date(e.time).getTime(),
    label: (e.tenant || '') + ': ' + (e.everything ? 'everything' : [...(e.tags || []), ...(e.urls || []), ...(e.prefixes || [])].join(' ')),
  }));
  renderCharts();
}

// ---------- search ----------

let auditEntries = [];

// mentions reports whether an audit entry names q: a tag (or a tag prefix
// such as company:*), a URL, or a path under one of its prefixes.
function mentions(e, q) {
  if (e.everything) return false;
  const star = q.endsWith('*') ? q.slice(0, -1) : null;
  for (const t of e.tags || []) if (t === q || (star !== null && t.startsWith(star))) return true;
  for (const u of e.urls || []) if (u === q || u.endsWith(q) || q.endsWith(u)) return true;
  for (const p of e.prefixes || []) if (q.startsWith(p) || p.startsWith(q)) return true;
  return false;
}

function renderSearch() {
  const q = document.getElementById('search').value.trim();
  const out = document.getElementById('search-result');
  if (!q) {
    out.hidden = true;
    renderAudit(auditEntries);
    return;
  }
  const found = auditEntries.filter((e) => mentions(e, q));
  out.hidden = false;
  out.textContent = found.length
    ? found.length + (found.length === 1 ? ' entry names ' : ' entries name ') + q + ' (newest first, in Activity below); the last: ' + found[0].action + ' ' + ago(found[0].time)
    : 'No event or purge in the last ' + auditEntries.length + ' audit entries names ' + q + '.';
  renderAudit(found);
}

function setupSearch() {
  const form = document.getElementById('search-form');
  form.addEventListener('submit', (e) => { e.preventDefault(); renderSearch(); });
  document.getElementById('search').addEventListener('input', renderSearch);
}

// ---------- inspect ----------

function windows(l) {
  const w = [];
  if (l.stale_while_revalidate_seconds > 0) w.push('while revalidating ' + duration(l.stale_while_revalidate_seconds));
  if (l.stale_if_error_seconds > 0) w.push('if error ' + duration(l.stale_if_error_seconds));
  if (l.must_revalidate) w.push('must revalidate');
  return w.join(', ') || '–';
}

async function inspectURL(url) {
  const summary = document.getElementById('inspect-summary');
  const wrap = document.getElementById('inspect-wrap');
  document.getElementById('keys-list').hidden = true;
  summary.hidden = false;
  summary.textContent = 'Inspecting ' + url + '…';
  try {
    const r = await api('/api/v1/inspect?url=' + encodeURIComponent(url));
    const what = r.private || r.bypass
      ? 'never cached: ' + (r.reason || (r.private ? 'private' : 'bypass'))
      : 'key ' + r.key;
    summary.textContent = 'Tenant ' + r.tenant + (r.route ? ', route ' + r.route : '') + ': ' + what;
    const body = document.querySelector('#inspect-layers tbody');
    body.replaceChildren(...(r.layers || []).map((l) => el('tr', { 'data-layer': l.layer },
      el('td', { text: l.layer }),
      el('td', { text: l.error ? 'error: ' + l.error : l.present ? 'yes' : 'no' }),
      el('td', { text: l.present ? l.state || '–' : '–' }),
      el('td', { class: 'num', text: l.present ? duration(l.age_seconds) : '–' }),
      el('td', { class: 'num', text: l.present ? (l.ttl_seconds >= 0 ? duration(l.ttl_seconds) : 'stale ' + duration(-l.ttl_seconds)) : '–' }),
      el('td', { text: l.present ? windows(l) : '–' }),
      el('td', { text: (l.tags || []).join(' ') || '–' }))));
    wrap.hidden = false;
  } catch (err) {
    wrap.hidden = true;
    summary.textContent = 'Could not inspect ' + url + ': ' + err.message;
  }
}

async function listKeys(tenant, tag) {
  const summary = document.getElementById('inspect-summary');
  const list = document.getElementById('keys-list');
  document.getElementById('inspect-wrap').hidden = true;
  summary.hidden = false;
  try {
    const r = await api('/api/v1/keys?tenant=' + encodeURIComponent(tenant) + '&tag=' + encodeURIComponent(tag) + '&limit=100');
    const keys = r.keys || [];
    summary.textContent = keys.length + (r.complete ? '' : '+') + ' key' + (keys.length === 1 ? '' : 's') +
      ' in this instance\'s ' + r.layer + ' carry ' + tag + (r.complete ? '' : ' (first 100 shown)');
    list.replaceChildren(...keys.map((k) => el('li', { text: k })));
    list.hidden = keys.length === 0;
  } catch (err) {
    list.hidden = true;
    summary.textContent = 'Could not list the keys of ' + tag + ': ' + err.message;
  }
}

function setupInspect() {
  document.getElementById('inspect-form').addEventListener('submit', (e) => {
    e.preventDefault();
    inspectURL(document.getElementById('inspect-url').value.trim());
  });
  document.getElementById('keys-form').addEventListener('submit', (e) => {
    e.preventDefault();
    listKeys(document.getElementById('keys-tenant').value.trim(), document.getElementById('keys-tag').value.trim());
  });
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
      el('div', { class: 'what' }, el('strong', { text: e.tenant }), ' ', describe(e), el('span', { class: 'meta', text: ago(e.time) + ' · ' + touched(e) + ' · ' + (e.actor || '') })),
      el('div', { class: 'chips' }, chips));
  }));
  box.replaceChildren(...items);
}

// retryButton POSTs to path and refreshes the activity cards.
function retryButton(path) {
  const btn = el('button', { class: 'btn ghost small', text: 'Retry' });
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    try {
      await api(path, { method: 'POST' });
      btn.textContent = 'Retried';
      refreshActivity();
    } catch (e) {
      btn.textContent = 'Failed';
      btn.title = e.message;
      btn.disabled = false;
    }
  });
  return btn;
}

// unchanged reports whether box already shows data, and remembers it: a
// refresh that would redraw the same rows leaves them (and a button the
// operator is about to press) in place.
function unchanged(box, data) {
  const key = JSON.stringify(data);
  if (box.dataset.shown === key) return true;
  box.dataset.shown = key;
  return false;
}

function renderDeadLetters(list) {
  const tbody = document.querySelector('#deadletters tbody');
  document.getElementById('deadletters-empty').hidden = list.length > 0;
  if (unchanged(tbody, list)) return;
  tbody.replaceChildren(...list.map((d) => el('tr', { 'data-seq': d.seq },
    el('td', { class: 'when', title: d.time, text: ago(d.time) }),
    el('td', { class: 'result-bad', text: d.reason }),
    el('td', { class: 'body', title: d.body || '', text: d.body || d.subject || '' }),
    el('td', { class: 'num' }, retryButton('/api/v1/deadletters/' + d.seq + '/retry')))));
}

// renderCDN shows what waits for the CDN and the purges it refused for
// good, each with a retry button (a purge sent in parts is retried whole).
function renderCDN(resp) {
  const b = resp.backlog;
  const parts = [];
  if (b) {
    parts.push(num(b.queued) + ' queued' + (b.queued ? ' (oldest ' + duration(b.oldest_seconds) + ')' : ''));
    for (const [name, p] of Object.entries(b.providers || {})) {
      let line = name + ': ' + num(p.pending) + ' pending';
      if (p.failing) line += ', failing since ' + ago(p.failing_since) + ' — retrying: ' + p.last_error;
      parts.push(line);
    }
  }
  const summary = document.getElementById('cdn-backlog');
  summary.textContent = parts.join(' · ') || 'no CDN configured';
  summary.className = b && Object.values(b.providers || {}).some((p) => p.failing) ? 'result-bad' : 'muted';
  const list = resp.purges;
  document.getElementById('failed-purges-empty').hidden = list.length > 0;
  const tbody = document.querySelector('#failed-purges tbody');
  if (unchanged(tbody, list)) return;
  tbody.replaceChildren(...list.map((f) => {
    const id = f.purge || f.id;
    return el('tr', { 'data-id': id },
      el('td', { class: 'when', title: f.time, text: ago(f.time) }),
      el('td', { text: id }),
      el('td', { text: f.provider }),
      el('td', { text: f.request.tenant }),
      el('td', { class: 'result-bad', text: f.reason }),
      el('td', { class: 'num' }, retryButton('/api/v1/purges/' + encodeURIComponent(id) + '/retry')));
  }));
}

// renderEventBacklog says how many accepted invalidations are not applied
// yet, and how many L2 has not recorded (Redis unreachable).
function renderEventBacklog(b) {
  const p = document.getElementById('event-backlog');
  if (!b) {
    p.textContent = '';
    return;
  }
  let text = b.events ? num(b.events) + ' invalidations waiting (oldest ' + duration(b.oldest_seconds) + ')' : 'every accepted invalidation is applied';
  if (b.l2_pending) text += ' · ' + num(b.l2_pending) + ' not yet in Redis (readers already see them)';
  p.textContent = text;
  p.className = b.status === 'degraded' ? 'result-bad' : 'muted';
}

// renderRouteTTLs shows each ttl: auto route's TTL, its bounds, the
// evidence it was decided from and the reason in words; the card stays
// hidden on an instance without such routes.
function renderRouteTTLs(list) {
  document.getElementById('ttl-card').hidden = list.length === 0;
  document.getElementById('route-ttls-error').hidden = true;
  const tbody = document.querySelector('#route-ttls tbody');
  if (unchanged(tbody, list)) return;
  tbody.replaceChildren(...list.map((r) => {
    const changes = r.change_interval_seconds > 0
      ? 'every ' + duration(r.change_interval_seconds)
      : r.observed_seconds > 0 ? 'none in ' + duration(r.observed_seconds) : 'not observed yet';
    const found = r.changes + ' found by revalidation · ' + r.event_changes + ' by event';
    return el('tr', { 'data-name': r.route },
      el('td', { class: 'name', title: r.route, text: r.route }),
      el('td', { class: 'num' }, el('b', { text: duration(r.ttl_seconds) }),
        r.covered ? el('span', { class: 'chip ok', title: 'invalidation events announce its changes', text: 'events' }) : null),
      el('td', { class: 'when', text: duration(r.min_seconds) + ' – ' + duration(r.max_seconds) + ' · ' + pct(r.fraction, 0) }),
      el('td', { class: 'when', title: found, text: changes }),
      el('td', { class: 'when', text: r.read_every_seconds > 0 ? 'every ' + duration(r.read_every_seconds) : 'measuring…' }),
      el('td', { class: 'why', text: r.reason }));
  }));
}

function showUnavailable(tableId, emptyId, err) {
  const tbody = document.querySelector('#' + tableId + ' tbody');
  tbody.replaceChildren();
  delete tbody.dataset.shown;
  const p = document.getElementById(emptyId);
  p.hidden = false;
  p.textContent = err.message;
}

let activityTimer = null;
async function refreshActivity() {
  clearTimeout(activityTimer);
  try {
    const a = await api('/api/v1/audit?limit=100');
    auditEntries = a.entries;
    if (document.getElementById('search').value.trim()) renderSearch();
    else renderAudit(a.entries);
    markPurges(a.entries);
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
  try {
    renderEventBacklog((await api('/readyz')).events);
  } catch (e) {
    renderEventBacklog(e.data && e.data.events); // 503: not ready, the detail still says
  }
  try {
    renderRouteTTLs((await api('/api/v1/routes/ttl')).routes);
  } catch (e) {
    showUnavailable('route-ttls', 'route-ttls-error', e);
  }
  try {
    renderCluster(await api('/api/v1/stats'));
  } catch (e) {
    setText('instance-count', e.message);
  }
  try {
    state.cdn = await api('/api/v1/cdn/stats');
  } catch (e) {
    state.cdn = { configured: true, providers: [{ provider: 'cdn', error: e.message }] };
  }
  if (state.live) renderLayers(state.live);
  const cdnCard = document.getElementById('cdn-card');
  try {
    renderCDN(await api('/api/v1/purges?status=failed&limit=50'));
    cdnCard.hidden = false;
  } catch (e) {
    // 503: no CDN configured on this instance, nothing to show.
    cdnCard.hidden = e.status === 503;
    showUnavailable('failed-purges', 'failed-purges-empty', e);
    document.getElementById('cdn-backlog').textContent = '';
  }
  activityTimer = setTimeout(refreshActivity, 5000);
}

// ---------- start ----------

buildLayers();
setupPurgeForm();
setupSearch();
setupInspect();
loadHistory().catch(() => renderCharts());
connect();
refreshActivity();
window.addEventListener('resize', () => renderCharts());
setInterval(renderCharts, 30000); // keep the time axis moving when traffic stops
