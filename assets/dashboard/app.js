// pgmoat dashboard: plain browser JavaScript, no build step. The page only ever reads the JSON the
// gateway's /dashboard/api answers and writes text nodes (never innerHTML), so nothing it shows can
// run as markup. The CSRF token lives in this module's memory and is only ever sent as a header.

const API = '/dashboard/api';
const INTERVAL = { certs: 15_000, live: 5_000, trends: 10_000 };
const PAGE = 50;
const SESSION_ROWS = 200;
const DIALOG_SESSION_ROWS = 100;

let csrf = '';
let view = 'certs';
let timer = 0;
let refreshing = false;
let stopped = false;

// ---------------------------------------------------------------- helpers

const $ = (id) => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} missing`);
  return e;
};

/** An element with attributes (properties when the name is known to the element) and text/element children. */
function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}

const nf = new Intl.NumberFormat('en');
const num = (n) => (typeof n === 'number' && Number.isFinite(n) ? nf.format(n) : '–');

function toDate(v) {
  if (v === undefined || v === null || v === '') return null;
  const d = typeof v === 'number' ? new Date(v < 1e12 ? v * 1000 : v) : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

const pad = (n) => String(n).padStart(2, '0');
function absTime(v) {
  const d = toDate(v);
  if (!d) return '–';
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
}
function absDate(v) {
  const d = toDate(v);
  return d ? `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}` : '–';
}

/** "in 3 d", "5 min ago": a span of seconds said the way people read it. */
function span(seconds) {
  const s = Math.abs(seconds);
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400 * 2) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}
function relTime(v) {
  const d = toDate(v);
  if (!d) return '–';
  const s = (d.getTime() - Date.now()) / 1000;
  return s >= 0 ? `in ${span(s)}` : `${span(s)} ago`;
}
const timeCell = (v, rel = true) => h('time', { datetime: toDate(v)?.toISOString(), title: absTime(v), text: rel ? relTime(v) : absTime(v) });

class HttpError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function readJson(res) {
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok || (body && body.error)) {
    const err = body && body.error ? body.error : {};
    throw new HttpError(res.status, err.message || `HTTP ${res.status}`, err.code);
  }
  return body;
}

async function getJson(path) {
  const res = await fetch(API + path, { credentials: 'same-origin', headers: { Accept: 'application/json' }, cache: 'no-store' });
  return readJson(res);
}

async function postAction(action, body) {
  const res = await fetch(`${API}/actions/${action}`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': csrf },
    body: JSON.stringify(body),
  });
  return readJson(res);
}

let toastTimer = 0;
function toast(message, kind = 'ok') {
  const t = $('toast');
  t.textContent = message;
  t.className = `toast show ${kind}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.className = 'toast'), 6000);
}

/**
 * Under `serve --workers N` an answer may lack a worker's share (`problems`: which and why): say so
 * above the figures rather than pass a part for the whole.
 */
function partial(id, problems, what) {
  const e = $(id);
  const list = Array.isArray(problems) ? problems.filter((p) => typeof p === 'string') : [];
  e.textContent = list.length === 0 ? '' : `Incomplete ${what}: no answer from ${list.length === 1 ? 'one worker' : `${list.length} workers`} (${list.join('; ')}).`;
  e.hidden = list.length === 0;
}

function banner(message) {
  const b = $('banner');
  b.textContent = message ?? '';
  b.hidden = !message;
}

/** Stop refreshing for good when access is refused: retrying would only add refusal log lines. */
function handleError(err) {
  if (err instanceof HttpError && (err.status === 401 || err.status === 403)) {
    stopped = true;
    banner(`Access refused (${err.status}): ${err.message}. Sign in with an admin client certificate and reload the page.`);
    $('refresh-state').textContent = 'stopped';
    return;
  }
  banner(`Could not reach the gateway: ${err.message}. Retrying.`);
}

// ---------------------------------------------------------------- identities and certificates

const certState = { offset: 0, limit: PAGE, sort: 'expires', dir: 'asc', q: '', status: 'all', total: 0, seq: 0 };
const DEFAULT_DIR = { name: 'asc', environment: 'asc', status: 'asc', expires: 'asc', issued: 'desc', last_seen: 'desc', sessions: 'desc' };

async function loadCerts() {
  const seq = ++certState.seq;
  const p = new URLSearchParams({ offset: String(certState.offset), limit: String(certState.limit), sort: certState.sort, dir: certState.dir, status: certState.status });
  if (certState.q) p.set('q', certState.q);
  const data = await getJson(`/certificates?${p}`);
  if (seq !== certState.seq) return; // a newer query answered or will answer
  certState.total = data.total ?? 0;
  if (certState.offset > 0 && certState.offset >= certState.total) {
    certState.offset = Math.max(0, Math.floor((certState.total - 1) / certState.limit) * certState.limit);
    return loadCerts();
  }
  partial('cert-partial', data.problems, 'live sessions and last-seen times');
  renderCerts(Array.isArray(data.rows) ? data.rows : []);
}

function expiryBar(row) {
  const from = toDate(row.notBefore)?.getTime();
  const to = toDate(row.notAfter)?.getTime();
  if (!from || !to || to <= from) return h('span', { text: absDate(row.notAfter) });
  const life = (to - from) / 1000;
  const left = Math.max(0, (to - Date.now()) / 1000);
  const pct = Math.max(0, Math.min(100, (left / life) * 100));
  const state = left === 0 ? 'expired' : row.nearExpiry ? 'near' : row.renewalWindow ? 'renewal' : 'ok';
  const fill = h('span', { class: 'fill' });
  fill.style.width = `${pct.toFixed(1)}%`; // CSSOM, allowed by style-src 'self' (no style attribute in markup)
  const label = left === 0 ? `expired ${relTime(row.notAfter)}` : `${span(left)} left of ${span(life)}`;
  return h(
    'div',
    { class: `expiry ${state}` },
    h('div', { class: 'bar', role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': Math.round(life), 'aria-valuenow': Math.round(left), 'aria-valuetext': label, 'aria-label': 'Validity left' }, fill),
    h('span', { class: 'when', title: `${absTime(row.notBefore)} → ${absTime(row.notAfter)}` }, absDate(row.notAfter), h('span', { class: 'muted', text: ` · ${label}` })),
  );
}

function statusCell(row) {
  if (row.status === 'revoked') {
    return h(
      'td',
      {},
      h('span', { class: 'badge revoked', text: 'revoked' }),
      h('div', { class: 'small' }, row.reason ? h('span', { text: row.reason }) : null, row.revokedAt ? h('span', { class: 'muted' }, ' · ', timeCell(row.revokedAt, false)) : null),
    );
  }
  const cls = row.status === 'expired' ? 'expired' : row.nearExpiry ? 'near' : row.renewalWindow ? 'renewal' : 'valid';
  const text = row.status === 'expired' ? 'expired' : row.nearExpiry ? 'near expiry' : row.renewalWindow ? 'renew now' : row.status || 'valid';
  return h('td', {}, h('span', { class: `badge ${cls}`, text }));
}

function renderCerts(rows) {
  const frag = document.createDocumentFragment();
  for (const row of rows) {
    const cls = [row.status === 'revoked' ? 'revoked' : '', row.status !== 'revoked' && row.nearExpiry ? 'near' : '', row.status !== 'revoked' && !row.nearExpiry && row.renewalWindow ? 'renewal' : ''].filter(Boolean).join(' ');
    const serial = String(row.serial ?? '');
    const sans = Array.isArray(row.sans) ? row.sans.join(', ') : '';
    const revokeBtn = h('button', { type: 'button', class: 'btn small danger-outline', 'aria-label': `Revoke ${row.name} (serial ${serial})`, text: 'Revoke' });
    if (row.status === 'revoked') revokeBtn.disabled = true;
    else revokeBtn.addEventListener('click', () => openRevoke(row));
    frag.append(
      h(
        'tr',
        { class: cls || undefined, 'data-serial': serial, 'data-status': row.status },
        h('td', {}, h('div', { class: 'ident', text: row.name ?? '' }), row.kind ? h('div', { class: 'small muted', text: row.kind }) : null),
        h('td', {}, row.environment ? h('span', { class: 'env', text: row.environment }) : '–'),
        h('td', {}, h('code', { class: 'serial', title: serial, text: serial.length > 14 ? `${serial.slice(0, 6)}…${serial.slice(-6)}` : serial })),
        h('td', { class: 'sans', title: sans, text: sans || '–' }),
        h('td', { class: 'nowrap' }, h('time', { datetime: toDate(row.issued ?? row.notBefore)?.toISOString(), title: absTime(row.issued ?? row.notBefore), text: absDate(row.issued ?? row.notBefore) })),
        h('td', { class: 'expires-cell' }, expiryBar(row)),
        statusCell(row),
        h('td', {}, row.lastSeen ? timeCell(row.lastSeen) : h('span', { class: 'muted', text: 'never' })),
        h('td', { class: 'num', text: num(row.liveSessions ?? 0) }),
        h('td', {}, revokeBtn),
      ),
    );
  }
  if (rows.length === 0) frag.append(h('tr', {}, h('td', { colspan: 10, class: 'empty', text: 'No certificate matches.' })));
  $('cert-rows').replaceChildren(frag);
  const { offset, total } = certState;
  $('cert-range').textContent = total === 0 ? '0 certificates' : `${num(offset + 1)}–${num(offset + rows.length)} of ${num(total)}`;
  $('cert-prev').disabled = offset === 0;
  $('cert-next').disabled = offset + rows.length >= total;
}

function setupCerts() {
  for (const th of document.querySelectorAll('#cert-table th[data-sort]')) {
    th.querySelector('button').addEventListener('click', () => {
      const key = th.dataset.sort;
      if (certState.sort === key) certState.dir = certState.dir === 'asc' ? 'desc' : 'asc';
      else {
        certState.sort = key;
        certState.dir = DEFAULT_DIR[key] ?? 'asc';
      }
      certState.offset = 0;
      for (const other of document.querySelectorAll('#cert-table th[data-sort]')) other.setAttribute('aria-sort', 'none');
      th.setAttribute('aria-sort', certState.dir === 'asc' ? 'ascending' : 'descending');
      loadCerts().catch(handleError);
    });
  }
  let debounce = 0;
  $('cert-q').addEventListener('input', (e) => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      certState.q = e.target.value.trim();
      certState.offset = 0;
      loadCerts().catch(handleError);
    }, 250);
  });
  $('cert-status').addEventListener('change', (e) => {
    certState.status = e.target.value;
    certState.offset = 0;
    loadCerts().catch(handleError);
  });
  $('cert-prev').addEventListener('click', () => {
    certState.offset = Math.max(0, certState.offset - certState.limit);
    loadCerts().catch(handleError);
  });
  $('cert-next').addEventListener('click', () => {
    certState.offset += certState.limit;
    loadCerts().catch(handleError);
  });
}

// ---------------------------------------------------------------- revoke dialog

let revokeRow = null;
let revokeSessions = 0;

async function openRevoke(row) {
  revokeRow = row;
  const dlg = $('revoke-dialog');
  $('revoke-title').textContent = `Revoke ${row.name}`;
  $('revoke-facts').replaceChildren(
    h('dt', { text: 'Identity' }), h('dd', { text: row.name ?? '' }),
    h('dt', { text: 'Environment' }), h('dd', { text: row.environment || '–' }),
    h('dt', { text: 'Serial' }), h('dd', {}, h('code', { text: String(row.serial) })),
    h('dt', { text: 'Expires' }), h('dd', { text: absTime(row.notAfter) }),
  );
  $('revoke-reason').value = 'keyCompromise';
  $('revoke-confirm').checked = false;
  $('revoke-go').disabled = true;
  $('revoke-error').textContent = '';
  $('revoke-sessions').replaceChildren(h('tr', {}, h('td', { colspan: 4, class: 'muted', text: 'Loading live sessions…' })));
  $('revoke-sessions-note').textContent = '';
  partial('revoke-partial', [], '');
  $('revoke-confirm-text').textContent = 'I understand that this cannot be undone.';
  dlg.showModal();
  try {
    const sessions = await getJson(`/certificates/${encodeURIComponent(row.serial)}/sessions`);
    if (revokeRow !== row) return;
    const list = Array.isArray(sessions?.sessions) ? sessions.sessions : [];
    partial('revoke-partial', sessions?.problems, 'list of sessions');
    revokeSessions = list.length;
    const frag = document.createDocumentFragment();
    for (const s of list.slice(0, DIALOG_SESSION_ROWS)) {
      frag.append(h('tr', {}, h('td', { text: s.database ?? '' }), h('td', { text: s.user ?? '' }), h('td', { text: s.address ?? '' }), h('td', {}, s.since ? timeCell(s.since) : '–')));
    }
    if (list.length === 0) frag.append(h('tr', {}, h('td', { colspan: 4, class: 'muted', text: 'No live session uses this certificate.' })));
    $('revoke-sessions').replaceChildren(frag);
    $('revoke-sessions-note').textContent = list.length > DIALOG_SESSION_ROWS ? `…and ${num(list.length - DIALOG_SESSION_ROWS)} more.` : '';
    $('revoke-confirm-text').textContent =
      list.length === 0 ? 'I understand that this cannot be undone.' : `I understand that this ends ${num(list.length)} live session${list.length === 1 ? '' : 's'} at once and cannot be undone.`;
  } catch (err) {
    if (revokeRow !== row) return;
    $('revoke-sessions').replaceChildren(h('tr', {}, h('td', { colspan: 4, class: 'error', text: `Could not list the sessions: ${err.message}` })));
  }
}

function setupRevoke() {
  const dlg = $('revoke-dialog');
  $('revoke-confirm').addEventListener('change', (e) => ($('revoke-go').disabled = !e.target.checked));
  dlg.addEventListener('close', () => (revokeRow = null));
  $('revoke-go').addEventListener('click', async () => {
    const row = revokeRow;
    if (!row || !$('revoke-confirm').checked) return;
    const go = $('revoke-go');
    go.disabled = true;
    go.textContent = 'Revoking…';
    try {
      const res = await postAction('revoke', { serial: row.serial, reason: $('revoke-reason').value });
      dlg.close();
      // sessionsEnded: what the gateway ended (every worker's, under serve --workers N).
      const ended = typeof res?.sessionsEnded === 'number' ? res.sessionsEnded : revokeSessions;
      const unsure = Array.isArray(res?.problems) && res.problems.length > 0 ? ` Not confirmed everywhere: ${res.problems.join('; ')}` : '';
      toast(`Revoked ${row.name} (serial ${row.serial}); ${num(ended)} live session${ended === 1 ? '' : 's'} ended.${unsure}`, unsure ? 'bad' : 'ok');
      await Promise.all([loadCerts(), view === 'live' ? loadLive() : null]).catch(handleError);
    } catch (err) {
      $('revoke-error').textContent = `Revocation failed: ${err.message}`;
      go.disabled = false;
    } finally {
      go.textContent = 'Revoke';
    }
  });
}

// ---------------------------------------------------------------- confirm dialog

function confirmAction(title, text, okLabel) {
  const dlg = $('confirm-dialog');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = okLabel;
  dlg.returnValue = '';
  dlg.showModal();
  return new Promise((resolve) => dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true }));
}

async function runAction(action, body, done) {
  try {
    const res = await postAction(action, body);
    toast(done(res));
  } catch (err) {
    toast(`${action} failed: ${err.message}`, 'bad');
  }
  if (view === 'live') await loadLive().catch(handleError);
}

// ---------------------------------------------------------------- live

const last = { pools: '', sessions: '', refusals: '', crl: '' };
let liveSessions = [];
let liveTotals = { sessions: 0, groups: 0 };

async function loadLive() {
  const data = await getJson('/live');
  renderLive(data ?? {});
}

function card(label, value, cls = '') {
  return h('div', { class: `card ${cls}` }, h('div', { class: 'value', text: value }), h('div', { class: 'label', text: label }));
}

function renderLive(data) {
  const pools = Array.isArray(data.pools) ? data.pools : [];
  const sessions = Array.isArray(data.sessions) ? data.sessions : [];
  const refusals = Array.isArray(data.refusals) ? data.refusals : [];
  const crl = data.crl ?? {};
  partial('live-partial', data.problems, 'pools, sessions and refusals');
  // The API sends the largest groups only; its totals count them all.
  const totalSessions = typeof data.sessionCount === 'number' ? data.sessionCount : sessions.reduce((n, s) => n + (s.count ?? 0), 0);
  liveTotals = {
    sessions: totalSessions,
    groups: typeof data.sessionGroups === 'number' ? data.sessionGroups : sessions.length,
  };
  const waiting = pools.reduce((n, p) => n + (p.waitingClients ?? 0), 0);
  const paused = pools.filter((p) => p.paused).length;
  $('live-cards').replaceChildren(
    card('live sessions', num(totalSessions)),
    card('identities connected', num(typeof data.identityCount === 'number' ? data.identityCount : new Set(sessions.map((s) => s.identity)).size)),
    card('pools', num(pools.length)),
    card('waiting clients', num(waiting), waiting > 0 ? 'warn' : ''),
    card('paused pools', num(paused), paused > 0 ? 'warn' : ''),
    card('recent refusals', num(refusals.length), refusals.length > 0 ? 'warn' : ''),
    card('CRL age', typeof crl.ageSeconds === 'number' ? span(crl.ageSeconds) : '–'),
  );

  const poolsKey = JSON.stringify(pools);
  if (poolsKey !== last.pools) {
    last.pools = poolsKey;
    renderPools(pools);
  }
  const sessKey = JSON.stringify([sessions, liveTotals]);
  if (sessKey !== last.sessions) {
    last.sessions = sessKey;
    liveSessions = sessions;
    renderSessions();
  }
  const refKey = JSON.stringify(refusals);
  if (refKey !== last.refusals) {
    last.refusals = refKey;
    renderRefusals(refusals);
  }
  renderCrl(crl, data.store);
}

function renderPools(pools) {
  const frag = document.createDocumentFragment();
  for (const p of pools) {
    const state = p.disabled ? 'disabled' : p.paused ? 'paused' : 'running';
    const btn = p.paused
      ? h('button', { type: 'button', class: 'btn small', 'aria-label': `Resume database ${p.database}`, text: 'Resume' })
      : h('button', { type: 'button', class: 'btn small', 'aria-label': `Pause database ${p.database}`, text: 'Pause' });
    btn.addEventListener('click', async () => {
      const pausing = !p.paused;
      const ok = await confirmAction(
        pausing ? `Pause ${p.database}?` : `Resume ${p.database}?`,
        pausing
          ? `Clients of ${p.database} keep their connections but wait for a server until the database is resumed.`
          : `Waiting clients of ${p.database} get servers again.`,
        pausing ? 'Pause' : 'Resume',
      );
      if (!ok) return;
      await runAction(pausing ? 'pause' : 'resume', { database: p.database }, () => `${p.database} ${pausing ? 'paused' : 'resumed'}.`);
    });
    frag.append(
      h(
        'tr',
        { class: state === 'running' ? undefined : state, 'data-database': p.database },
        h('td', { class: 'ident', text: p.database }),
        h('td', { text: p.user ?? '' }),
        h('td', { text: p.mode ?? '' }),
        h('td', { class: 'num', text: num(p.activeServers) }),
        h('td', { class: 'num', text: num(p.idleServers) }),
        h('td', { class: 'num', text: num(p.activeClients) }),
        h('td', { class: `num${p.waitingClients > 0 ? ' hot' : ''}`, text: num(p.waitingClients) }),
        h('td', {}, h('span', { class: `badge ${state === 'running' ? 'valid' : state === 'paused' ? 'renewal' : 'revoked'}`, text: state })),
        h('td', {}, p.disabled ? null : btn),
      ),
    );
  }
  if (pools.length === 0) frag.append(h('tr', {}, h('td', { colspan: 9, class: 'empty', text: 'No pool yet: pools open with the first client.' })));
  $('pool-rows').replaceChildren(frag);
}

/**
 * Sessions come aggregated (identity × database → count), the API's largest groups only (with the
 * totals of all of them); at most SESSION_ROWS rows reach the DOM.
 */
function renderSessions() {
  const q = $('sess-q').value.trim().toLowerCase();
  const all = liveSessions;
  const matching = q ? all.filter((s) => `${s.identity ?? ''}\u0000${s.database ?? ''}`.toLowerCase().includes(q)) : all.slice();
  matching.sort((a, b) => (b.count ?? 0) - (a.count ?? 0) || String(a.identity).localeCompare(String(b.identity)));
  const max = matching.reduce((m, s) => Math.max(m, s.count ?? 0), 1);
  const frag = document.createDocumentFragment();
  for (const s of matching.slice(0, SESSION_ROWS)) {
    const fill = h('span', { class: 'fill' });
    fill.style.width = `${(((s.count ?? 0) / max) * 100).toFixed(1)}%`;
    frag.append(
      h(
        'tr',
        { 'data-identity': s.identity ?? '' },
        h('td', { class: 'ident', text: s.identity ?? '(no identity)' }),
        h('td', { text: s.database ?? '' }),
        h('td', { class: 'num', text: num(s.count) }),
        h('td', { class: 'bar-col' }, h('div', { class: 'bar share', 'aria-hidden': 'true' }, fill)),
      ),
    );
  }
  if (matching.length === 0) frag.append(h('tr', {}, h('td', { colspan: 4, class: 'empty', text: all.length ? 'No group matches.' : 'No live session.' })));
  $('sess-rows').replaceChildren(frag);
  const { sessions: total, groups } = liveTotals;
  const cut = groups > all.length; // the API left out the smaller groups
  const shown = Math.min(SESSION_ROWS, matching.length);
  let note = '';
  if (!q && shown < groups) note = ` · showing the ${num(shown)} largest of ${num(groups)}`;
  else if (q && (matching.length > SESSION_ROWS || cut)) note = ` · showing ${num(shown)} of ${num(matching.length)} matching${cut ? ` among the ${num(all.length)} largest groups` : ''}`;
  $('sess-summary').textContent = `${num(total)} session${total === 1 ? '' : 's'} in ${num(groups)} group${groups === 1 ? '' : 's'}${note}`;
}

function renderRefusals(refusals) {
  const sorted = refusals.slice().sort((a, b) => (toDate(b.at)?.getTime() ?? 0) - (toDate(a.at)?.getTime() ?? 0));
  const frag = document.createDocumentFragment();
  for (const r of sorted) {
    frag.append(h('tr', {}, h('td', {}, timeCell(r.at)), h('td', {}, h('span', { class: 'reason', text: r.reason ?? '' })), h('td', { text: r.identity ?? '–' }), h('td', { class: 'mono', text: r.address ?? '' })));
  }
  if (sorted.length === 0) frag.append(h('tr', {}, h('td', { colspan: 4, class: 'empty', text: 'No refusal since the gateway started.' })));
  $('refusal-rows').replaceChildren(frag);
}

function renderCrl(crl, store) {
  const next = toDate(crl.nextUpdate);
  const overdue = next && next.getTime() < Date.now();
  const items = [
    ['CRL age', typeof crl.ageSeconds === 'number' ? span(crl.ageSeconds) : 'no CRL loaded'],
    ['Next update', next ? h('span', { class: overdue ? 'bad' : '' }, absTime(next), ` (${relTime(next)})`) : '–'],
    ['Revoked serials', num(crl.revokedCount ?? 0)],
  ];
  if (store) {
    items.push(['Revocation store', h('span', { class: store.connected ? 'good' : 'bad', text: store.connected ? 'connected' : 'away' })]);
    items.push(['Store data age', typeof store.ageSeconds === 'number' ? span(store.ageSeconds) : '–']);
  }
  const frag = document.createDocumentFragment();
  for (const [k, v] of items) frag.append(h('dt', { text: k }), h('dd', {}, v));
  $('crl-facts').replaceChildren(frag);
}

// ---------------------------------------------------------------- trends

const COLORS = ['#2563eb', '#dc2626', '#d97706', '#059669', '#7c3aed', '#db2777', '#0891b2', '#4b5563'];
const charts = {};

function chartOpts(el, series) {
  return {
    width: Math.max(300, el.clientWidth),
    height: 170,
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (_u, min, max) => [0, Math.max(1, max * 1.1)] } },
    axes: [
      { stroke: '#475569', grid: { stroke: '#e2e8f0' }, ticks: { stroke: '#cbd5e1' } },
      { stroke: '#475569', grid: { stroke: '#e2e8f0' }, ticks: { stroke: '#cbd5e1' }, size: 56 },
    ],
    series: [{ label: 'time', value: (_u, v) => (v == null ? '–' : absTime(v)) }, ...series],
    legend: { live: true },
  };
}

function line(label, i, fill = true) {
  const c = COLORS[i % COLORS.length];
  return { label, stroke: c, width: 2, fill: fill ? `${c}22` : undefined, points: { show: false }, value: (_u, v) => (v == null ? '–' : nf.format(Math.round(v * 100) / 100)) };
}

/** Draws (or refreshes) one chart; it is rebuilt only when its set of series changes. */
function plot(id, labels, data) {
  const el = $(id);
  const key = labels.join('\u0000');
  const c = charts[id];
  if (c && c.key === key) {
    c.u.setData(data);
    return;
  }
  c?.u.destroy();
  el.replaceChildren();
  const u = new window.uPlot(chartOpts(el, labels.map((l, i) => line(l, i, labels.length === 1))), data, el);
  charts[id] = { u, key };
}

async function loadTrends() {
  const data = await getJson('/trends');
  if (!window.uPlot) throw new Error('the chart library did not load');
  const s = data?.series ?? {};
  const t = Array.isArray(s.t) ? s.t : [];
  const arr = (a) => (Array.isArray(a) ? a : t.map(() => null));
  $('trend-step').textContent = String(data?.step ?? 10);
  const gaps = Array.isArray(data?.incomplete) ? data.incomplete : [];
  const lastGap = gaps.length > 0 ? Math.max(...gaps) : undefined;
  $('trend-partial').textContent =
    lastGap === undefined ? '' : `Incomplete: ${num(gaps.length)} of ${num(t.length)} points miss a worker's share (it did not answer that reading), the latest at ${absTime(lastGap)}.`;
  $('trend-partial').hidden = lastGap === undefined;
  plot('chart-tps', ['TPS'], [t, arr(s.tps)]);
  plot('chart-handshakes', ['handshakes'], [t, arr(s.handshakes)]);
  const reasons = Object.keys(s.refusals ?? {}).sort();
  if (reasons.length === 0) plot('chart-refusals', ['refusals'], [t, t.map(() => 0)]);
  else plot('chart-refusals', reasons, [t, ...reasons.map((r) => arr(s.refusals[r]))]);
  plot('chart-wait', ['p99 wait (ms)'], [t, arr(s.waitP99Ms)]);
  plot('chart-renewals', ['renewals'], [t, arr(s.renewals)]);
}

function resizeCharts() {
  for (const [id, c] of Object.entries(charts)) {
    const w = Math.max(300, $(id).clientWidth);
    if (w !== c.u.width) c.u.setSize({ width: w, height: 170 });
  }
}

// ---------------------------------------------------------------- views and refresh

const LOADERS = { certs: loadCerts, live: loadLive, trends: loadTrends };

function showView(name, focus = false) {
  if (!LOADERS[name]) name = 'certs';
  view = name;
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    const on = tab.dataset.view === name;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    if (on && focus) tab.focus();
  }
  for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== `view-${name}`;
  if (location.hash !== `#${name}`) history.replaceState(null, '', `#${name}`);
  refreshNow();
}

function schedule() {
  clearTimeout(timer);
  if (stopped) return;
  if (document.hidden) {
    $('refresh-state').textContent = 'paused (tab hidden)';
    return;
  }
  timer = setTimeout(refreshNow, INTERVAL[view]);
}

async function refreshNow() {
  clearTimeout(timer);
  if (stopped || document.hidden) return schedule();
  if (refreshing) return; // the running refresh schedules the next one
  refreshing = true;
  const shown = view;
  try {
    await LOADERS[shown]();
    banner('');
    const d = new Date();
    $('refresh-state').textContent = `updated ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    document.body.dataset.loaded = `${shown}`;
  } catch (err) {
    handleError(err);
  } finally {
    refreshing = false;
    if (shown !== view) refreshNow();
    else schedule();
  }
}

function setupTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  for (const tab of tabs) {
    tab.addEventListener('click', () => showView(tab.dataset.view));
    tab.addEventListener('keydown', (e) => {
      const i = tabs.indexOf(tab);
      const next = e.key === 'ArrowRight' ? tabs[(i + 1) % tabs.length] : e.key === 'ArrowLeft' ? tabs[(i - 1 + tabs.length) % tabs.length] : e.key === 'Home' ? tabs[0] : e.key === 'End' ? tabs[tabs.length - 1] : null;
      if (next) {
        e.preventDefault();
        showView(next.dataset.view, true);
      }
    });
  }
  window.addEventListener('hashchange', () => showView(location.hash.slice(1)));
}

async function start() {
  setupTabs();
  setupCerts();
  setupRevoke();
  $('sess-q').addEventListener('input', renderSessions);
  $('reload').addEventListener('click', async () => {
    const ok = await confirmAction('Reload the configuration?', 'The gateway re-reads its configuration file and certificates, as on SIGHUP. Sessions stay up.', 'Reload');
    if (ok) await runAction('reload', {}, () => 'Configuration reloaded.');
  });
  document.addEventListener('visibilitychange', () => (document.hidden ? schedule() : refreshNow()));
  let resizing = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(resizeCharts, 150);
  });
  try {
    const s = await getJson('/session');
    csrf = String(s?.csrf ?? '');
    $('operator').textContent = s?.operator ?? '?';
  } catch (err) {
    handleError(err);
    return;
  }
  showView(location.hash.slice(1) || 'certs');
}

start();
