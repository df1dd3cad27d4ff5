// @ts-nocheck -- browser code: the project's tsconfig type-checks src/ with Node's libs only.
/**
 * swapstate's web UI: plain ES modules, no framework, no build step. This module keeps the
 * latest data from the server and renders the models and queue panels; the statecharts,
 * logs and playground live in their own modules.
 */
import { lightChart, renderChart } from './chart.js';
import { connect } from './live.js';
import { createLogs } from './logs.js';
import { createPlayground } from './playground.js';

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
};

/** What the server told us last. */
const store = {
  /** id -> { id, name, description, unlisted, aliases, state } from modelStatus or /v1/models. */
  models: new Map(),
  /** The last /api/state snapshot. */
  snapshot: null,
  /** Requests in flight by id, from `inflight` events. */
  inflight: new Map(),
  /** The process machine's definition, for the charts. */
  machine: null,
};

const logs = createLogs($('log-view'), $('log-source'));
const playground = createPlayground({
  form: $('playground'),
  model: $('pg-model'),
  input: $('pg-input'),
  send: $('pg-send'),
  output: $('pg-output'),
});

// ---- time helpers -------------------------------------------------------------------

/** `4s`, `3m 12s`, `2h 5m`: how long ago (or until) an ISO time, to the second. */
function span(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}
const ago = (iso) => span(Date.now() - Date.parse(iso));
const until = (iso) => span(Date.parse(iso) - Date.now());

// ---- models -------------------------------------------------------------------------

const processOf = (id) => store.snapshot?.processes.find((p) => p.model === id) ?? null;

/** Every model we know of: listed ones and, from /api/state, unlisted ones too. */
function modelIds() {
  const ids = new Set(store.models.keys());
  for (const p of store.snapshot?.processes ?? []) ids.add(p.model);
  return [...ids].sort();
}

/** The row of a model, created once so that buttons under the pointer are never replaced. */
function modelRow(id) {
  let tr = document.querySelector(`tr[data-model="${CSS.escape(id)}"]`);
  if (tr) return tr;
  tr = el('tr');
  tr.dataset.model = id;
  tr.dataset.testid = `model-row-${id}`;
  const name = el('td', 'name');
  name.append(el('div', 'id', id), el('div', 'desc'));
  const state = el('td');
  const badge = el('span', 'badge');
  badge.dataset.testid = `model-state-${id}`;
  state.append(badge);
  const details = el('td', 'details');
  const actions = el('td', 'actions');
  const load = el('button', null, 'Load');
  load.dataset.testid = `load-${id}`;
  // Like llama-swap's UI: any request to the model's upstream starts it; the answer itself
  // does not matter (the state arrives on the event stream).
  load.onclick = () => fetch(`/upstream/${encodeURIComponent(id)}/?_=${Date.now()}`).catch(() => {});
  const unload = el('button', null, 'Unload');
  unload.dataset.testid = `unload-${id}`;
  unload.onclick = () => fetch(`/api/models/unload/${encodeURIComponent(id)}`, { method: 'POST' }).catch(() => {});
  actions.append(load, unload);
  tr.append(name, state, details, actions);
  $('model-rows').append(tr);
  return tr;
}

function renderModels() {
  const ids = modelIds();
  for (const tr of [...$('model-rows').children]) if (!ids.includes(tr.dataset.model)) tr.remove();
  for (const id of ids) {
    const m = store.models.get(id) ?? {};
    const p = processOf(id);
    const state = m.state ?? p?.state ?? 'unknown';
    const tr = modelRow(id);
    tr.className = `state-${state}`;
    const desc = [m.name && m.name !== id ? m.name : '', m.description ?? '', m.aliases?.length ? `aliases: ${m.aliases.join(', ')}` : '']
      .filter(Boolean)
      .join(' · ');
    tr.querySelector('.desc').textContent = desc;
    const badge = tr.querySelector('.badge');
    badge.textContent = state;
    badge.className = `badge state-${state}`;

    const details = tr.querySelector('.details');
    details.replaceChildren();
    if (p) {
      const bits = [`for ${ago(p.since)}`];
      if (p.pid && state !== 'stopped') bits.push(`pid ${p.pid}`); // the last pid outlives its process
      if (p.port) bits.push(`port ${p.port}`);
      if (p.inFlight) bits.push(`${p.inFlight} in flight`);
      if (p.restarts) bits.push(`${p.restarts} restart${p.restarts === 1 ? '' : 's'}`);
      if (p.ttlDeadline) bits.push(`unloads in ${until(p.ttlDeadline)}`);
      details.append(el('span', null, bits.join(' · ')));
      if (p.lastError) details.append(el('div', 'error', p.lastError));
    }
    tr.querySelector(`[data-testid="load-${CSS.escape(id)}"]`).disabled = state !== 'stopped' && state !== 'unknown';
    tr.querySelector(`[data-testid="unload-${CSS.escape(id)}"]`).disabled = state === 'stopped' || state === 'shutdown';
  }
  logs.setModels(ids);
  playground.setModels(ids.filter((id) => !store.models.get(id)?.unlisted));
}

// ---- statecharts --------------------------------------------------------------------

function renderCharts() {
  if (!store.machine) return;
  const box = $('charts');
  const ids = modelIds();
  for (const card of [...box.children]) if (!ids.includes(card.dataset.model)) card.remove();
  for (const id of ids) {
    let card = box.querySelector(`.chart[data-model="${CSS.escape(id)}"]`);
    if (!card) {
      card = renderChart(store.machine, id);
      card.dataset.model = id;
      box.append(card);
    }
    const p = processOf(id);
    lightChart(card, p?.value ?? p?.state ?? 'stopped', store.models.get(id)?.state ?? p?.state ?? 'stopped');
  }
}

// ---- queue --------------------------------------------------------------------------

function renderQueue() {
  const s = store.snapshot;
  const waiting = $('waiting');
  waiting.replaceChildren(
    ...(s?.waiting ?? []).map((w) => {
      const li = el('li', `reason-${w.reason.kind}`);
      li.dataset.testid = `waiting-${w.reqId}`;
      li.append(el('span', 'pill', w.model), el('span', 'text', w.text));
      return li;
    }),
  );
  if (!waiting.children.length) waiting.append(el('li', 'empty', 'nothing waiting'));

  const swaps = $('swaps');
  swaps.replaceChildren(
    ...(s?.swaps ?? []).map((sw) => {
      const li = el('li');
      const text = `${sw.target ?? '(unload)'}${sw.evicting.length ? ` evicting ${sw.evicting.join(', ')}` : ''} · ${sw.waiters} waiting${sw.since ? ` · ${ago(sw.since)}` : ''}${sw.cancelled ? ' · cancelled' : ''}`;
      li.append(el('span', 'pill', 'swap'), el('span', 'text', text));
      return li;
    }),
  );
  if (!swaps.children.length) swaps.append(el('li', 'empty', 'no swap running'));

  const inflight = $('inflight');
  inflight.replaceChildren(
    ...[...store.inflight.values()].map((r) => {
      const li = el('li', `phase-${r.phase ?? 'serving'}`);
      li.dataset.testid = `inflight-${r.id}`;
      const started = typeof r.timestamp === 'number' ? r.timestamp : Date.parse(r.timestamp);
      const age = Number.isFinite(started) ? span(Date.now() - started) : r.elapsed_ms ? span(r.elapsed_ms) : '';
      // A waiting request's reason is in the snapshot, joined by the scheduler's reqId.
      const why = r.phase === 'waiting' ? s?.waiting.find((w) => w.reqId === r.req_id)?.text : null;
      li.append(el('span', 'pill', r.model || '?'), el('span', 'text', `${r.method} ${r.req_path} · ${why ?? r.phase ?? ''} · ${age}`));
      return li;
    }),
  );
  if (!inflight.children.length) inflight.append(el('li', 'empty', store.live ? 'no requests in flight' : 'shown with the event stream'));
}

function render() {
  renderModels();
  renderCharts();
  renderQueue();
}

// ---- live data ----------------------------------------------------------------------

const handlers = {
  modelStatus(list) {
    const seen = new Set();
    for (const m of list) {
      seen.add(m.id);
      store.models.set(m.id, { ...store.models.get(m.id), ...m });
    }
    for (const id of store.models.keys()) if (!seen.has(id)) store.models.delete(id);
    render();
  },
  /** Polling mode: /v1/models records give names; states come from /api/state. */
  listing(records) {
    store.models = new Map(records.map((r) => [r.id, { id: r.id, name: r.name, description: r.description }]));
  },
  state(snapshot) {
    store.snapshot = snapshot;
    // The snapshot is newer than the last modelStatus: its states win until the next one.
    for (const p of snapshot.processes) {
      const m = store.models.get(p.model);
      if (m) m.state = p.state;
    }
    render();
  },
  inflight(msg) {
    if (msg.operation === 'snapshot') store.inflight = new Map(msg.requests.map((r) => [r.id, r]));
    else if (msg.operation === 'upsert') store.inflight.set(msg.request.id, msg.request);
    else if (msg.operation === 'remove') store.inflight.delete(msg.id);
    renderQueue();
  },
  logData(msg) {
    logs.event(msg);
  },
};

connect(handlers, (mode) => {
  store.live = mode === 'live';
  const conn = document.querySelector('.conn');
  conn.textContent = { connecting: 'connecting…', live: 'live', polling: 'polling (no event stream)' }[mode];
  conn.className = `conn ${mode}`;
  logs.setPolling(mode === 'polling');
});

$('unload-all').onclick = () => fetch('/api/models/unload', { method: 'POST' }).catch(() => {});

fetch('/api/machines/process')
  .then((r) => r.json())
  .then((machine) => {
    store.machine = machine;
    renderCharts();
  })
  .catch(() => ($('charts').textContent = 'machine definition unavailable'));

// Durations ("for 12s", "unloads in 55s") count on between updates.
setInterval(() => {
  if (store.snapshot) {
    renderModels();
    renderQueue();
  }
}, 1000);
