// The dashboard page: sign in with a token kept in sessionStorage (this tab only), read a
// snapshot, then follow one server-sent-events stream opened with a short-lived ticket.
import { drawChart } from './chart.js';
import { $, badge, clock, duration, fillBody, node, shortId, toast } from './dom.js';

const TOKEN_KEY = 'pixgate.dashboard.token';
const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  session: null,
  tenant: null,
  source: null,
  retry: null,
  snapshot: null,
  offset: 0,
};

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = { authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data?.error || res.statusText);
  return data;
}

// ── formatting ─────────────────────────────────────────────
const serverNow = () => Date.now() + state.offset;
// ── panels ─────────────────────────────────────────────────
function renderAccounts(accounts, now) {
  const list = $('accounts');
  if (accounts.length === 0)
    return list.replaceChildren(
      node('p', { class: 'reason' }, 'No accounts yet: add one with POST /v2/pixverse/accounts/{email}.'),
    );
  list.replaceChildren(
    ...accounts.map((a) => {
      const cooling = a.state === 'cooldown' && a.cooldownUntil !== null && a.cooldownUntil > now;
      const shownState = a.state === 'cooldown' && !cooling ? 'ok' : a.state;
      const bar = node('div', {
        class: `bar${a.executing >= a.maxJobs ? ' full' : ''}`,
        role: 'meter',
        'aria-valuemin': 0,
        'aria-valuemax': a.maxJobs,
        'aria-valuenow': a.executing,
      });
      if (a.maxJobs <= 24) {
        for (let i = 0; i < a.maxJobs; i++)
          bar.append(node('span', { class: i < a.executing ? 'slot busy' : 'slot' }));
      } else {
        bar.classList.add('continuous');
        const fill = node('div', { class: 'fill' });
        fill.style.width = `${Math.min(100, (100 * a.executing) / a.maxJobs)}%`;
        bar.append(fill);
      }
      const notes = [];
      if (a.reason && shownState !== 'ok') notes.push(a.reason);
      if (cooling)
        notes.push(
          node('span', { 'data-until': a.cooldownUntil }, `cool-down until ${clock(a.cooldownUntil)}`),
        );
      return node(
        'div',
        {
          class: 'account',
          'data-email': a.email,
          'data-executing': a.executing,
          'data-max': a.maxJobs,
          'data-state': shownState,
        },
        node(
          'div',
          { class: 'row' },
          node('span', { class: 'email', title: a.email }, a.email),
          badge(shownState),
          node('span', { class: 'slots' }, `${a.executing} / ${a.maxJobs}`),
        ),
        bar,
        notes.length > 0
          ? node('div', { class: 'reason' }, ...notes.flatMap((n, i) => (i === 0 ? [n] : [' · ', n])))
          : null,
      );
    }),
  );
}

function renderRunning(running, total) {
  $('running-count').textContent = total > 0 ? String(total) : '';
  const rows = running.map((j) =>
    node(
      'tr',
      { 'data-id': j.id },
      node('td', { class: 'id', title: j.id }, shortId(j.id)),
      node('td', { class: 'roomy' }, j.email ?? '—'),
      node('td', {}, badge(j.state)),
      node('td', { class: 'num', 'data-since': j.startedAt }, duration(serverNow() - j.startedAt)),
      node('td', { class: 'wrap', title: j.prompt ?? '' }, j.prompt ?? ''),
    ),
  );
  if (total > running.length)
    rows.push(
      node('tr', { class: 'empty' }, node('td', { colspan: 5 }, `and ${total - running.length} more`)),
    );
  fillBody('running', rows, 'Nothing running.', 5);
}

function renderQueue(queue) {
  $('queue-count').textContent = queue.total > 0 ? String(queue.total) : '';
  const priority = { 1: 'high', 0: 'normal', '-1': 'low' };
  const rows = queue.items.map((q) =>
    node(
      'tr',
      { 'data-id': q.id },
      node('td', { class: 'num' }, String(q.position)),
      node('td', { class: 'id', title: q.id }, shortId(q.id)),
      node('td', { class: 'roomy' }, priority[q.priority] ?? String(q.priority)),
      node('td', { class: 'num', 'data-since': q.queuedAt }, duration(serverNow() - q.queuedAt)),
      node('td', { class: 'num', 'data-eta': q.estimatedStart ?? '' }, eta(q.estimatedStart)),
    ),
  );
  if (queue.total > queue.items.length)
    rows.push(
      node(
        'tr',
        { class: 'empty' },
        node('td', { colspan: 5 }, `and ${queue.total - queue.items.length} more`),
      ),
    );
  fillBody('queue', rows, 'The queue is empty.', 5);
}
// An estimate that has come (or passed) while the job still waits means "any moment".
const eta = (at) =>
  at === null || at === ''
    ? 'unknown'
    : Number(at) - serverNow() < 1000
      ? 'any moment'
      : `in ${duration(Number(at) - serverNow())}`;

function renderFailures(failures) {
  fillBody(
    'failures',
    failures.map((f) =>
      node(
        'tr',
        { 'data-id': f.id },
        node('td', { class: 'num', title: new Date(f.finishedAt).toISOString() }, clock(f.finishedAt)),
        node('td', { class: 'id', title: f.id }, shortId(f.id)),
        node('td', {}, badge(f.state)),
        node('td', { class: 'wrap', title: f.error ?? '' }, f.error ?? ''),
      ),
    ),
    'No failures in the last 24 hours.',
    4,
  );
}

function renderDeliveries(deliveries) {
  const tenantView = state.session.role === 'tenant';
  fillBody(
    'deliveries',
    deliveries.map((d) => {
      const kind = d.state === 'dead' ? 'dead' : 'failing';
      const button =
        d.state === 'dead'
          ? node(
              'button',
              {
                type: 'button',
                class: 'small',
                'data-redeliver': d.id,
                title: tenantView
                  ? 'Send it again from its first attempt'
                  : "Sign in with the tenant's token to redeliver",
                onclick: () => redeliver(d.id, button),
              },
              'Redeliver',
            )
          : node(
              'span',
              { class: 'reason', 'data-eta': d.nextAttemptAt ?? '' },
              `retry ${eta(d.nextAttemptAt)}`,
            );
      if (d.state === 'dead' && !tenantView) button.disabled = true;
      // The error text already names the status when there was one.
      const error = d.lastError ?? (d.lastStatus !== null ? `HTTP ${d.lastStatus}` : '');
      return node(
        'tr',
        { 'data-delivery': d.id, 'data-state': d.state },
        node('td', { class: 'id', title: `${d.jobId}\n${d.url}` }, shortId(d.jobId)),
        node('td', {}, badge(kind)),
        node('td', { class: 'num roomy' }, String(d.attempts)),
        node('td', { class: 'wrap', title: error }, error),
        node('td', {}, button),
      );
    }),
    'Every callback was delivered.',
    5,
  );
}

async function redeliver(id, button) {
  button.disabled = true;
  try {
    await api('POST', `/v2/callbacks/deliveries/${id}/redeliver`);
    toast(`Callback ${id} queued for delivery`);
  } catch (err) {
    button.disabled = false;
    toast(`Redeliver failed: ${err.message}`);
  }
}

function render(snapshot) {
  state.snapshot = snapshot;
  state.offset = snapshot.at - Date.now();
  const name = snapshot.tenant.name
    ? `${snapshot.tenant.name} (tenant ${snapshot.tenant.userId})`
    : `tenant ${snapshot.tenant.userId}`;
  $('board-title').textContent = name;
  renderAccounts(snapshot.accounts, snapshot.at);
  renderRunning(snapshot.running, snapshot.runningTotal);
  renderQueue(snapshot.queue);
  renderFailures(snapshot.failures);
  renderDeliveries(snapshot.deliveries);
  drawChart($('chart'), snapshot.history);
  $('board').hidden = false;
}

// Live clocks between snapshots: elapsed times and estimated starts move every second.
setInterval(() => {
  for (const cell of document.querySelectorAll('[data-since]'))
    cell.textContent = duration(serverNow() - Number(cell.dataset.since));
  for (const cell of document.querySelectorAll('td[data-eta]')) cell.textContent = eta(cell.dataset.eta);
}, 1000);

// ── admin ──────────────────────────────────────────────────
async function loadTenants() {
  const { tenants } = await api('GET', '/dashboard/api/tenants');
  fillBody(
    'tenants',
    tenants.map((t) =>
      node(
        'tr',
        { 'data-tenant': t.userId },
        node('td', {}, node('strong', {}, t.name ?? '(unnamed)'), ` #${t.userId}`),
        node('td', { class: 'num' }, String(t.accounts)),
        node('td', { class: 'num' }, String(t.running)),
        node('td', { class: 'num' }, String(t.queued)),
        node(
          'td',
          {},
          node(
            'div',
            { class: 'tokens' },
            ...t.tokens.map((k) =>
              node(
                'span',
                {
                  class: `badge${k.revokedAt ? ' revoked' : ' ok'}`,
                  title: `created ${new Date(k.createdAt).toISOString()}${k.revokedAt ? `, revoked ${new Date(k.revokedAt).toISOString()}` : ''}`,
                },
                `#${k.id} ${k.label ?? ''}${k.weight !== 1 ? ` ×${k.weight}` : ''}`,
              ),
            ),
          ),
        ),
        node(
          'td',
          {},
          node(
            'button',
            { type: 'button', class: 'small quiet', onclick: () => showTenant(t.userId) },
            state.tenant === t.userId ? 'Showing' : 'Show',
          ),
        ),
      ),
    ),
    'No tenants yet: create one with POST /admin/users.',
    6,
  );
  return tenants;
}

function showTenant(userId) {
  state.tenant = userId;
  history.replaceState(null, '', `#tenant=${userId}`);
  void loadTenants();
  connect();
}

// ── live stream ────────────────────────────────────────────
function setLive(on, text) {
  const live = $('live');
  live.classList.toggle('off', !on);
  live.textContent = text;
}

function disconnect() {
  clearTimeout(state.retry);
  if (state.source) state.source.close();
  state.source = null;
}

async function connect(delayMs = 2000) {
  disconnect();
  try {
    const { ticket } = await api(
      'POST',
      '/dashboard/api/stream-ticket',
      state.tenant === null ? {} : { tenant: state.tenant },
    );
    const source = new EventSource(`/dashboard/api/stream?ticket=${encodeURIComponent(ticket)}`);
    state.source = source;
    source.addEventListener('open', () => setLive(true, 'live'));
    source.addEventListener('snapshot', (event) => {
      setLive(true, 'live');
      render(JSON.parse(event.data));
    });
    source.addEventListener('signed-out', () => signOut('Your token was revoked.'));
    // A ticket opens one stream: on any drop, get a new ticket rather than let EventSource retry.
    source.addEventListener('error', () => {
      if (state.source !== source) return;
      setLive(false, 'reconnecting');
      disconnect();
      state.retry = setTimeout(() => connect(Math.min(delayMs * 2, 30_000)), delayMs);
    });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return signOut('The token is no longer accepted.');
    setLive(false, 'offline');
    state.retry = setTimeout(() => connect(Math.min(delayMs * 2, 30_000)), delayMs);
  }
}

// ── sign-in ────────────────────────────────────────────────
async function start() {
  try {
    state.session = await api('GET', '/dashboard/api/session');
  } catch (err) {
    return signOut(
      err instanceof ApiError && err.status === 401
        ? 'That token is not valid.'
        : `Cannot reach the gateway: ${err.message}`,
    );
  }
  sessionStorage.setItem(TOKEN_KEY, state.token);
  $('signin').hidden = true;
  $('signout').hidden = false;
  $('who').textContent =
    state.session.role === 'admin' ? 'admin' : `${state.session.name ?? 'tenant'} #${state.session.userId}`;
  if (state.session.role === 'admin') {
    $('admin').hidden = false;
    const wanted = Number(/tenant=(\d+)/.exec(location.hash)?.[1] ?? NaN);
    const tenants = await loadTenants();
    const first = tenants.find((t) => t.userId === wanted) ?? tenants[0];
    if (first) showTenant(first.userId);
  } else {
    state.tenant = null;
    connect();
  }
}

function signOut(message = '') {
  disconnect();
  sessionStorage.removeItem(TOKEN_KEY);
  Object.assign(state, { token: null, session: null, tenant: null, snapshot: null });
  for (const id of ['board', 'admin', 'signout']) $(id).hidden = true;
  $('who').textContent = '';
  setLive(false, 'offline');
  $('signin').hidden = false;
  $('signin-error').textContent = message;
  $('token').value = '';
  $('token').focus();
}

$('signin-form').addEventListener('submit', (event) => {
  event.preventDefault();
  state.token = $('token').value.trim();
  if (state.token) void start();
});
$('signout').addEventListener('click', () => signOut());
if (state.token) void start();
else signOut();
