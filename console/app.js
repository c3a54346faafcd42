// The ops console: reads the worker's JSON API and its event stream, and draws
// them; its actions POST to /api/actions/* (with the header that the server's
// CSRF check asks for). Markup helpers live in format.js (compiled from
// src/ops/console/format.ts, unit-tested); this file only fetches and places.
import {
  comparisonRows,
  deploymentUrl,
  escapeHtml,
  eventDetail,
  fieldChanges,
  maskedChangesText,
  passesChart,
  retryText,
  runHealthBadge,
  runHealthText,
  scheduleText,
  whenText,
} from './format.js';

const PAGE = 50;
const $ = (id) => document.getElementById(id);
const view = {
  uiUrl: null,
  cursors: [null],
  page: 0,
  historyAfter: null,
  connector: null,
  state: null,
};

async function getJson(path) {
  const response = await fetch(path, { headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

async function loadOverview() {
  const o = await getJson('/api/overview');
  view.uiUrl = o.prefect.ui_url;
  $('role').textContent = `Role: ${o.leader ? 'leader' : 'standby'} (${o.state})`;
  const reach = o.prefect.reachable;
  $('prefect').textContent =
    `Prefect: ${reach === null ? 'no pass yet' : reach ? 'reachable' : 'unreachable'}`;
  $('prefect').className = reach === false ? 'bad' : reach ? 'good' : '';
  const last = o.last_pass;
  $('last-pass').textContent = last
    ? `Last pass: ${last.result}, ${whenText(last.finished_at)}`
    : 'Last pass: none';
  const select = $('status');
  if (select.options.length === 1) {
    for (const status of o.statuses) select.add(new Option(status, status));
  }
  drawChips(o);
}

/** Counts by status as chips: one filters the fleet by its status, pressed again shows all. */
function drawChips(o) {
  const current = $('status').value;
  const chip = (status, n, text) =>
    `<li><button type="button" class="chip${status ? ` st st-${status}` : ''}" data-status="${status}"` +
    ` aria-pressed="${current === status}"><strong>${n}</strong> ${text}</button></li>`;
  $('counts').innerHTML =
    chip('', o.total, 'connectors') +
    o.statuses
      .filter((s) => o.counts[s])
      .map((s) => chip(s, o.counts[s], s))
      .join('');
}

/** A suspended connector keeps its status; the badge says that nothing is reconciled meanwhile. */
function suspendedBadge(suspended) {
  return suspended ? ' <span class="st st-suspended">suspended</span>' : '';
}

function suspendedReason(suspended) {
  if (!suspended) return null;
  return `suspended by ${suspended.by} since ${whenText(suspended.since)}: ${suspended.reason}`;
}

function nameCell(c) {
  const url = deploymentUrl(view.uiUrl, c.deployment_id);
  const deployment = c.deployment_name
    ? url
      ? `<a href="${escapeHtml(url)}">${escapeHtml(c.deployment_name)}</a>`
      : escapeHtml(c.deployment_name)
    : '';
  const name = c.name ?? (c.status === 'deleted' ? '(row deleted)' : '–');
  return `${escapeHtml(name)}${deployment ? `<div class="sub">${deployment}</div>` : ''}`;
}

function statusCell(c) {
  const why = suspendedReason(c.suspended) ?? c.last_error ?? '';
  const retry = retryText(c.next_attempt_at, Date.now());
  return (
    `<span class="st st-${escapeHtml(c.status)}">${escapeHtml(c.status)}</span>${suspendedBadge(c.suspended)}` +
    (why ? `<div class="reason sub">${escapeHtml(why)}</div>` : '') +
    (c.still_running_since
      ? `<div class="running sub">still running the spec of ${escapeHtml(whenText(c.still_running_since))}</div>`
      : '') +
    (retry ? `<div class="retry sub">${escapeHtml(retry)}</div>` : '')
  );
}

function connectorRow(c) {
  const id = escapeHtml(c.connector_id);
  const change = c.last_change
    ? `${escapeHtml(c.last_change.action)}<div class="sub">${whenText(c.last_change.at)}</div>`
    : '–';
  return `<tr data-connector="${id}">
    <th scope="row"><a href="#connector=${encodeURIComponent(c.connector_id)}">${id}</a></th>
    <td>${nameCell(c)}</td>
    <td>${statusCell(c)}</td>
    <td>${escapeHtml(c.release ?? '–')}</td>
    <td>${runHealthBadge(c.run_health)}</td>
    <td><code>${escapeHtml(scheduleText(c.schedule))}</code></td>
    <td>${c.paused === null ? '–' : c.paused ? 'paused' : 'no'}</td>
    <td>${change}</td>
  </tr>`;
}

async function loadFleet() {
  const params = new URLSearchParams({ limit: String(PAGE) });
  const q = $('q').value.trim();
  if (q) params.set('q', q);
  if ($('status').value) params.set('status', $('status').value);
  if ($('show-deleted').checked) params.set('deleted', 'true');
  const after = view.cursors[view.page];
  if (after) params.set('after', after);
  const body = await getJson(`/api/connectors?${params}`);
  $('connectors').tBodies[0].innerHTML = body.connectors.length
    ? body.connectors.map(connectorRow).join('')
    : '<tr><td colspan="8">No connector matches.</td></tr>';
  view.cursors[view.page + 1] = body.next_cursor;
  const hidden = $('show-deleted').checked ? '' : ' (deleted ones hidden)';
  $('page-info').textContent =
    `Page ${view.page + 1}: ${body.connectors.length} connectors${hidden}` +
    (body.source_error ? `; ${body.source_error}` : '');
  $('prev').disabled = view.page === 0;
  $('next').disabled = !body.next_cursor;
}

function historyRow(e) {
  const changes = fieldChanges(e.payload);
  const masked = maskedChangesText(e.payload.masked_changes);
  const detail = changes.length
    ? `<ul class="changes">${changes
        .map(
          (c) =>
            `<li><code>${escapeHtml(c.field)}</code>: <del>${escapeHtml(c.from)}</del> → <ins>${escapeHtml(c.to)}</ins></li>`,
        )
        .join('')}${masked ? `<li class="masked">${escapeHtml(masked)}</li>` : ''}</ul>`
    : escapeHtml(eventDetail(e));
  return `<tr><td>${whenText(e.occurred)}</td><td>${escapeHtml(e.action)}</td><td>${detail}</td></tr>`;
}

async function loadHistory(more) {
  const id = view.connector;
  const params = new URLSearchParams({ connector: id, limit: '200' });
  if (more && view.historyAfter) params.set('after', view.historyAfter);
  const body = await getJson(`/api/events?${params}`);
  const rows = body.events.map(historyRow).join('');
  const tbody = $('history').tBodies[0];
  if (more) tbody.insertAdjacentHTML('beforeend', rows);
  else tbody.innerHTML = rows || '<tr><td colspan="3">No events yet.</td></tr>';
  view.historyAfter = body.next_cursor ?? body.events.at(-1)?.id ?? view.historyAfter;
  $('history-more').hidden = !body.next_cursor;
}

function stateText(body) {
  const c = body.connector;
  const state = c
    ? `Status ${c.status}${c.last_error ? `: ${c.last_error}` : ''}${c.still_running_since ? ` — still running the spec of ${whenText(c.still_running_since)}` : ''}; deployment ${c.deployment_name ?? 'none'}; ${c.attempts} failed attempts.`
    : 'No pass has recorded a state for it yet.';
  const why = suspendedReason(c?.suspended);
  const problem = body.comparison?.problem;
  return [
    state,
    c && `${runHealthText(c.run_health)}.`,
    c?.release && `On release ${c.release}.`,
    why && `It is ${why}.`,
    problem && `Its row: ${problem.status}, ${problem.message}.`,
  ]
    .filter(Boolean)
    .join(' ');
}

function compareRow(r) {
  const mark = r.differs ? ' class="differs"' : '';
  const label = r.differs ? ' <span class="st st-failed">differs</span>' : '';
  return `<tr${mark}><th scope="row"><code>${escapeHtml(r.field)}</code>${label}</th>
    <td><code>${escapeHtml(r.desired)}</code></td><td><code>${escapeHtml(r.actual)}</code></td></tr>`;
}

/** Bumped by every loadComparison: only the newest one's answer is shown. */
let comparisonGeneration = 0;

/**
 * Its state, and desired beside actual (`/api/connectors/<id>`). The answer
 * waits on Prefect, so two may come back out of order (a live event's reload,
 * then an action's): an older answer never overwrites a newer one.
 */
async function loadComparison() {
  const generation = ++comparisonGeneration;
  const response = await fetch(`/api/connectors/${encodeURIComponent(view.connector)}`, {
    headers: { accept: 'application/json' },
  });
  const body = response.status === 404 ? null : await response.json();
  if (generation !== comparisonGeneration) return;
  if (body === null || !response.ok) {
    showConnectorActions(null);
    $('connector-state').textContent = body?.error ?? 'No connector with this id is known.';
    $('compare').tBodies[0].innerHTML = '';
  } else {
    $('connector-state').textContent = stateText(body);
    showConnectorActions(body.connector);
    const name = body.comparison?.name;
    if (name) $('connector-title').textContent = `Connector ${view.connector}: ${name}`;
    const masked = maskedChangesText(body.comparison?.maskedDiffers, 'differ');
    $('compare').tBodies[0].innerHTML = body.comparison
      ? comparisonRows(body.comparison).map(compareRow).join('') +
        (masked ? `<tr class="masked"><td colspan="3">${escapeHtml(masked)}</td></tr>` : '')
      : `<tr><td colspan="3">Cannot compare now: ${escapeHtml(body.comparison_error)}</td></tr>`;
  }
}

async function openConnector() {
  const match = /^#connector=(.+)$/.exec(location.hash);
  const section = $('connector');
  if (!match) {
    section.hidden = true;
    view.connector = null;
    return;
  }
  view.connector = decodeURIComponent(match[1]);
  section.hidden = false;
  $('connector-title').textContent = `Connector ${view.connector}`;
  await loadComparison();
  await loadHistory(false);
  $('connector-title').focus();
}

async function loadPasses() {
  const body = await getJson('/api/passes?limit=60');
  $('chart').innerHTML = passesChart(body.passes.slice().reverse());
}

/** Which of a connector's actions apply: resume when suspended, else suspend; approve when held. */
function showConnectorActions(c) {
  $('connector-actions').hidden = !c;
  $('resume').hidden = !c?.suspended;
  $('suspend-form').hidden = Boolean(c?.suspended);
  $('approve-delete').hidden = c?.status !== 'held';
}

// ---- actions: POST /api/actions/<name>, the answer's message shown in #action-result

async function act(name, body, what) {
  const result = $('action-result');
  result.className = 'action-result busy';
  result.textContent = `${what}…`;
  let answer;
  try {
    const response = await fetch(`/api/actions/${name}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'x-connector-sync-action': '1',
      },
      body: JSON.stringify({ ...body, by: $('by').value.trim() || undefined }),
    });
    answer = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    answer.status = response.status;
  } catch (error) {
    answer = { error: error.message, status: 0 };
  }
  const failed = answer.status >= 400 || answer.ok === false;
  result.className = `action-result ${failed ? 'bad' : 'good'}`;
  result.textContent = `${what}: ${answer.error ?? answer.message}${answer.by ? ` (by ${answer.by})` : ''}`;
  void safely(
    Promise.all([
      loadOverview(),
      loadFleet(),
      loadReleases(),
      view.connector ? loadComparison() : null,
    ]),
  );
  return answer;
}

function releaseVerbs(r) {
  const verbs = {
    'rolling-out': ['pause', 'promote', 'abort'],
    paused: ['resume', 'promote', 'abort'],
    failed: ['resume'],
    'rolled-back': ['resume'],
    superseded: ['resume'],
    complete: ['rollback'],
  };
  return (verbs[r.state] ?? [])
    .map(
      (v) =>
        `<button type="button" class="release-verb" data-verb="${v}" data-release="${escapeHtml(r.release)}">${v}</button>`,
    )
    .join(' ');
}

function ledgerRow(r) {
  const wave = r.waves.targets.length ? `${r.waves.current}/${r.waves.targets.length}` : '–';
  return `<tr data-release="${escapeHtml(r.release)}"><th scope="row">${escapeHtml(r.release)}</th>
    <td><span class="rs rs-${escapeHtml(r.state)}">${escapeHtml(r.state)}</span></td>
    <td>${r.connectors}</td><td>${wave}</td><td>${whenText(r.started_at)}</td>
    <td class="reason">${escapeHtml(r.reason ?? '')}</td><td>${releaseVerbs(r)}</td></tr>`;
}

/** The release in progress: its waves, and the runs its gate waits for. */
function progressHtml(p) {
  if (!p) return '<p>No release is in progress.</p>';
  const waves = p.waves
    .map(
      (w) =>
        `<li class="wave wave-${w.state}">Wave ${w.wave} (${escapeHtml(String(w.target))}): ${w.state}` +
        `${w.members !== null && w.state !== 'waiting' ? `, ${w.members} connectors` : ''}</li>`,
    )
    .join('');
  const runs = p.gate
    ? p.gate.runs
        .map(
          (r) =>
            `<tr><td>${escapeHtml(r.connector_id)}</td><td><code>${escapeHtml(r.flow_run_id ?? 'not yet')}</code></td>` +
            `<td>${escapeHtml(r.state ?? 'not read yet')}</td></tr>`,
        )
        .join('')
    : '';
  const gate = p.gate
    ? `<table id="gate-runs"><caption>Gate of wave ${p.gate.wave}, since ${whenText(p.gate.started_at)}: ${p.gate.runs.length} runs</caption>` +
      `<thead><tr><th scope="col">Connector</th><th scope="col">Flow run</th><th scope="col">State</th></tr></thead><tbody>${runs || '<tr><td colspan="3">No run to wait for.</td></tr>'}</tbody></table>`
    : '<p>The wave in progress is being written; its gate starts once every connector of it is.</p>';
  return (
    `<h3>Release ${escapeHtml(p.release)}: ${escapeHtml(p.state)}</h3>` +
    `<ol class="waves" aria-label="Waves of release ${escapeHtml(p.release)}">${waves}</ol>${gate}`
  );
}

async function loadReleases() {
  const body = await getJson('/api/releases');
  $('release-progress').innerHTML = progressHtml(body.in_progress);
  $('release-ledger').tBodies[0].innerHTML = body.releases.length
    ? body.releases.map(ledgerRow).join('')
    : '<tr><td colspan="7">No release recorded yet.</td></tr>';
}

function liveEvent(e) {
  $('no-events').hidden = true;
  const item = document.createElement('li');
  const who = e.connector_id ? `connector ${e.connector_id}` : 'no connector';
  const changes = fieldChanges(e.payload).map((c) => `${c.field}: ${c.from} → ${c.to}`);
  item.textContent = `${whenText(e.occurred)} ${e.action} ${who} ${changes.join(', ') || eventDetail(e)}`;
  const list = $('live-events');
  list.prepend(item);
  while (list.children.length > 50) list.lastElementChild.remove();
  if (view.connector && e.connector_id === view.connector)
    void safely(Promise.all([loadHistory(Boolean(view.historyAfter)), loadComparison()]));
}

function followEvents() {
  const source = new EventSource('/api/events/stream');
  source.onopen = () => ($('live').textContent = 'Live: on');
  source.onerror = () => ($('live').textContent = 'Live: reconnecting…');
  let refresh = null;
  source.addEventListener('event', (message) => {
    liveEvent(JSON.parse(message.data));
    // Many events come in bursts (one pass): redraw the rest once, shortly after.
    clearTimeout(refresh);
    refresh = setTimeout(
      () => void safely(Promise.all([loadOverview(), loadFleet(), loadPasses(), loadReleases()])),
      500,
    );
  });
}

async function safely(work) {
  try {
    await work;
  } catch (error) {
    $('live').textContent = `Error: ${error.message}`;
  }
}

$('filters').addEventListener('submit', (event) => {
  event.preventDefault();
  view.cursors = [null];
  view.page = 0;
  void safely(loadFleet());
});
$('status').addEventListener('change', () => $('filters').requestSubmit());
$('show-deleted').addEventListener('change', () => $('filters').requestSubmit());
$('counts').addEventListener('click', (event) => {
  const chip = event.target.closest('button[data-status]');
  if (!chip) return;
  const status = chip.dataset.status;
  $('status').value = $('status').value === status ? '' : status;
  for (const b of $('counts').querySelectorAll('button'))
    b.setAttribute('aria-pressed', String(b.dataset.status === $('status').value));
  $('filters').requestSubmit();
});
$('retry-failed').addEventListener(
  'click',
  () => void act('retry', {}, 'Retry failed, invalid and conflict connectors'),
);
$('sync-now').addEventListener(
  'click',
  () => void act('sync', { connectors: [view.connector] }, `Sync connector ${view.connector}`),
);
$('resume').addEventListener(
  'click',
  () => void act('resume', { connectors: [view.connector] }, `Resume connector ${view.connector}`),
);
$('approve-delete').addEventListener(
  'click',
  () =>
    void act(
      'approve-deletes',
      { connectors: [view.connector] },
      `Approve the held delete of connector ${view.connector}`,
    ),
);
$('suspend-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const reason = $('suspend-reason').value.trim();
  void act(
    'suspend',
    { connectors: [view.connector], reason },
    `Suspend connector ${view.connector}`,
  ).then((a) => a.status === 200 && ($('suspend-reason').value = ''));
});
$('release-ledger').addEventListener('click', (event) => {
  const button = event.target.closest('button[data-verb]');
  if (!button) return;
  const { verb, release } = button.dataset;
  const reason = $('release-reason').value.trim() || undefined;
  void act('release', { verb, release, reason }, `${verb} release ${release}`);
});
$('by').value = localStorage.getItem('connector-sync-by') ?? '';
$('by').addEventListener('change', () => localStorage.setItem('connector-sync-by', $('by').value));
$('prev').addEventListener('click', () => {
  view.page = Math.max(0, view.page - 1);
  void safely(loadFleet());
});
$('next').addEventListener('click', () => {
  view.page += 1;
  void safely(loadFleet());
});
$('history-more').addEventListener('click', () => void safely(loadHistory(true)));
window.addEventListener('hashchange', () => void safely(openConnector()));

await safely(loadOverview());
await safely(Promise.all([loadFleet(), loadPasses(), loadReleases(), openConnector()]));
followEvents();
