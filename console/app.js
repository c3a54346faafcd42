// The ops console: reads the worker's JSON API and its event stream, and draws
// them. Read-only. Markup helpers live in format.js (compiled from
// src/console/format.ts, unit-tested); this file only fetches and places.
import {
  comparisonRows,
  deploymentUrl,
  escapeHtml,
  eventDetail,
  fieldChanges,
  maskedChangesText,
  passesChart,
  runHealthBadge,
  runHealthText,
  whenText,
} from './format.js';

const PAGE = 50;
const $ = (id) => document.getElementById(id);
const view = { uiUrl: null, cursors: [null], page: 0, historyAfter: null, connector: null };

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
  $('counts').innerHTML =
    `<li><strong>${o.total}</strong> connectors</li>` +
    o.statuses
      .filter((s) => o.counts[s])
      .map((s) => `<li class="st st-${s}"><strong>${o.counts[s]}</strong> ${s}</li>`)
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

function connectorRow(c) {
  const url = deploymentUrl(view.uiUrl, c.deployment_id);
  const name = escapeHtml(c.deployment_name ?? '–');
  const deployment = url ? `<a href="${escapeHtml(url)}">${name}</a>` : name;
  const id = escapeHtml(c.connector_id);
  return `<tr data-connector="${id}">
    <th scope="row"><a href="#connector=${encodeURIComponent(c.connector_id)}">${id}</a></th>
    <td>${deployment}</td>
    <td><span class="st st-${escapeHtml(c.status)}">${escapeHtml(c.status)}</span>${suspendedBadge(c.suspended)}</td>
    <td>${runHealthBadge(c.run_health)}</td>
    <td>${escapeHtml(c.release ?? '–')}</td>
    <td class="reason">${escapeHtml(suspendedReason(c.suspended) ?? c.last_error ?? '')}</td>
    <td>${whenText(c.last_synced_at)}</td>
    <td>${c.next_attempt_at ? whenText(c.next_attempt_at) : '–'}</td>
  </tr>`;
}

async function loadFleet() {
  const params = new URLSearchParams({ limit: String(PAGE) });
  const q = $('q').value.trim();
  if (q) params.set('q', q);
  if ($('status').value) params.set('status', $('status').value);
  const after = view.cursors[view.page];
  if (after) params.set('after', after);
  const body = await getJson(`/api/connectors?${params}`);
  $('connectors').tBodies[0].innerHTML = body.connectors.length
    ? body.connectors.map(connectorRow).join('')
    : '<tr><td colspan="8">No connector matches.</td></tr>';
  view.cursors[view.page + 1] = body.next_cursor;
  $('page-info').textContent = `Page ${view.page + 1}: ${body.connectors.length} connectors`;
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
    ? `Status ${c.status}${c.last_error ? `: ${c.last_error}` : ''}; deployment ${c.deployment_name ?? 'none'}; ${c.attempts} failed attempts.`
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

/** Its state, and desired beside actual (`/api/connectors/<id>`). */
async function loadComparison() {
  const response = await fetch(`/api/connectors/${encodeURIComponent(view.connector)}`, {
    headers: { accept: 'application/json' },
  });
  const body = response.status === 404 ? null : await response.json();
  if (body === null || !response.ok) {
    $('connector-state').textContent = body?.error ?? 'No connector with this id is known.';
    $('compare').tBodies[0].innerHTML = '';
  } else {
    $('connector-state').textContent = stateText(body);
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
      () => void safely(Promise.all([loadOverview(), loadFleet(), loadPasses()])),
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
await safely(Promise.all([loadFleet(), loadPasses(), openConnector()]));
followEvents();
