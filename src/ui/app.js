// @ts-nocheck -- browser code: the project's tsconfig type-checks src/ with Node's libs only.
/**
 * swapstate's web UI: plain ES modules, no framework, no build step. This module keeps the
 * latest data from the server and renders the models and queue panels; the statecharts,
 * logs and playground live in their own modules.
 */
import { createActivity } from './activity.js';
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
const activity = createActivity({ rows: $('activity-rows'), chart: $('activity-chart') });
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

/** A peer's model (forwarded to another server): no process, no chart, no buttons here. */
const isPeer = (id) => Boolean(store.models.get(id)?.peerID);

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
  // Sleep mode (shown for sleep-enabled models only): frees the GPU, keeps the process.
  const sleep = el('button', null, 'Sleep');
  sleep.dataset.testid = `sleep-${id}`;
  sleep.hidden = true;
  sleep.onclick = () => fetch(`/api/models/sleep/${encodeURIComponent(id)}`, { method: 'POST' }).catch(() => {});
  actions.append(load, sleep, unload);
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
    const peer = isPeer(id);
    const state = peer ? 'peer' : (m.state ?? p?.state ?? 'unknown');
    const tr = modelRow(id);
    tr.className = `state-${state}`;
    const desc = [
      m.name && m.name !== id ? m.name : '',
      m.description ?? '',
      m.aliases?.length ? `aliases: ${m.aliases.join(', ')}` : '',
      peer ? `forwarded to peer ${m.peerID}` : '',
    ]
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
      if (p.pid) bits.push(`pid ${p.pid}`); // null once the process has exited
      if (p.port) bits.push(`port ${p.port}`);
      if (p.inFlight) bits.push(`${p.inFlight} in flight`);
      // Every swap-in is a start; only a crash (an unexpected exit or a failed start) is a
      // restart the user should look into, so it is shown apart, in the error colour.
      if (p.starts) bits.push(`${p.starts} start${p.starts === 1 ? '' : 's'}`);
      if (p.ttlDeadline) bits.push(`unloads in ${until(p.ttlDeadline)}`);
      details.append(el('span', null, bits.join(' · ')));
      if (p.restarts) {
        const crashes = el('span', 'crashes', ` · ${p.restarts} crash${p.restarts === 1 ? '' : 'es'}`);
        crashes.dataset.testid = `crashes-${id}`;
        crashes.title = 'unexpected exits and failed starts (/api/state restarts)';
        details.append(crashes);
      }
      if (p.lastError) details.append(el('div', 'error', p.lastError));
    }
    // A sleeping model is loaded by waking it: any request does that, as it starts a stopped one.
    tr.querySelector(`[data-testid="load-${CSS.escape(id)}"]`).disabled = state !== 'stopped' && state !== 'unknown' && state !== 'sleeping';
    const sleep = tr.querySelector(`[data-testid="sleep-${CSS.escape(id)}"]`);
    sleep.hidden = !p?.sleepMode;
    sleep.disabled = state !== 'ready';
    tr.querySelector(`[data-testid="unload-${CSS.escape(id)}"]`).disabled = state === 'stopped' || state === 'shutdown';
    for (const button of tr.querySelectorAll('.actions button')) if (peer) button.hidden = true;
  }
  logs.setModels(ids.filter((id) => !isPeer(id)));
  playground.setModels(ids.filter((id) => !store.models.get(id)?.unlisted));
}

// ---- statecharts --------------------------------------------------------------------

function renderCharts() {
  if (!store.machine) return;
  const box = $('charts');
  const ids = modelIds().filter((id) => !isPeer(id));
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

/** `POST /v1/chat/completions · 4s`: what a tracked request is, and for how long. */
function requestText(r) {
  const started = typeof r.timestamp === 'number' ? r.timestamp : Date.parse(r.timestamp);
  const age = Number.isFinite(started) ? span(Date.now() - started) : r.elapsed_ms ? span(r.elapsed_ms) : '';
  return [`${r.method} ${r.req_path}`, age].filter(Boolean).join(' · ');
}

function listItem(cls, model, text, testid) {
  const li = el('li', cls);
  if (testid) li.dataset.testid = testid;
  const pill = el('span', 'pill', model || '?');
  pill.title = model || ''; // a long id is cut short in the pill
  li.append(pill, el('span', 'text', text));
  return li;
}

/**
 * Each request once: a waiting one in the queue, with its reason (from /api/state) and,
 * when the tracker knows it, what it is; a granted one in flight. The two sources are joined
 * by the scheduler's reqId, and each may be behind the other (snapshots come at most every
 * 100 ms, a tracked request's updates every 250 ms): a request the tracker calls served has
 * left the queue; one it calls waiting that the snapshot does not list waits if it is newer
 * than the snapshot (not seen yet), and was granted if it is older.
 */
function renderQueue() {
  const s = store.snapshot;
  const tracked = [...store.inflight.values()];
  const byReqId = new Map(tracked.filter((r) => r.req_id).map((r) => [r.req_id, r]));
  const listed = new Set((s?.waiting ?? []).map((w) => w.reqId));
  const snapshotAt = s ? Date.parse(s.at) : -Infinity;
  const waits = (r) => r.phase === 'waiting' && (listed.has(r.req_id) || !(Date.parse(r.timestamp) <= snapshotAt));

  const waiting = $('waiting');
  waiting.replaceChildren(
    ...(s?.waiting ?? [])
      .filter((w) => byReqId.get(w.reqId)?.phase !== 'serving')
      .map((w) => {
        const r = byReqId.get(w.reqId);
        return listItem(`reason-${w.reason.kind}`, w.model, r ? `${w.text} · ${requestText(r)}` : w.text, `waiting-${w.reqId}`);
      }),
    ...tracked
      .filter((r) => waits(r) && !listed.has(r.req_id))
      .map((r) => listItem('reason-unknown', r.model, `waiting · ${requestText(r)}`, `waiting-${r.req_id}`)),
  );
  if (!waiting.children.length) waiting.append(el('li', 'empty', 'nothing waiting'));

  const swaps = $('swaps');
  swaps.replaceChildren(
    ...(s?.swaps ?? []).map((sw) => {
      const text = `${sw.target ?? '(unload)'}${sw.evicting.length ? ` evicting ${sw.evicting.join(', ')}` : ''} · ${sw.waiters} waiting${sw.since ? ` · ${ago(sw.since)}` : ''}${sw.cancelled ? ' · cancelled' : ''}`;
      return listItem('', 'swap', text);
    }),
  );
  if (!swaps.children.length) swaps.append(el('li', 'empty', 'no swap running'));

  // llama-swap's tracker has no phase: everything it lists is being served.
  const inflight = $('inflight');
  inflight.replaceChildren(
    ...tracked.filter((r) => !waits(r)).map((r) => listItem('phase-serving', r.model, requestText(r), `inflight-${r.id}`)),
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
    store.models = new Map(
      records.map((r) => [r.id, { id: r.id, name: r.name, description: r.description, peerID: r.meta?.llamaswap?.peerID ?? '' }]),
    );
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
  profileChanged(msg) {
    showProfile(msg.active);
  },
  /** A new activity row (its id only): the panel fetches the rows again. */
  activity() {
    activity.event();
  },
};

// ---- profiles -----------------------------------------------------------------------

/** The header's profile picker: hidden without profiles; its value follows `profileChanged`. */
const profilePicker = $('profile');
function showProfile(active) {
  profilePicker.value = active ?? '';
}
fetch('/api/profiles')
  .then((r) => r.json())
  .then(({ active, profiles }) => {
    if (!profiles?.length) return;
    profilePicker.replaceChildren(el('option', null, 'no profile'), ...profiles.map((p) => el('option', null, p.id)));
    profilePicker.firstChild.value = '';
    for (const [i, p] of profiles.entries()) profilePicker.children[i + 1].title = p.description;
    profilePicker.hidden = false;
    showProfile(active);
  })
  .catch(() => {})
  // Marks the answer as read (tests wait for it to tell "no profiles" from "not yet").
  .finally(() => (profilePicker.dataset.loaded = 'true'));
profilePicker.onchange = () => {
  const name = profilePicker.value || null;
  fetch('/api/profiles/active', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) }).catch(() => {});
};

connect(handlers, (mode) => {
  store.live = mode === 'live';
  // A (re)opened event stream starts with the logs' history: drop what we had, not to show it twice.
  if (mode === 'live') logs.reset();
  // Rows added while the stream was down come with a fresh read.
  if (mode === 'live' || mode === 'polling') activity.refresh();
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
