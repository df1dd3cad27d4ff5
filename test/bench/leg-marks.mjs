// @ts-nocheck: a bench tool in plain JS (a preload must not need tsx).
/**
 * A preload (`node --import`) for legs.ts: times each proxied request's legs from Node's own
 * diagnostics channels, so the same marks work on swapstate and on the floor (floor.mjs):
 *
 * - `request`: the request's head parsed (`http.server.request.start`) -> the upstream
 *   request written whole (`http.client.request.start`, which Node publishes from the
 *   request's `_finish`): body read, routing, admission, building and writing the request;
 * - `upstream`: -> the upstream's response head parsed (`http.client.response.finish`);
 * - `response`: -> `end()` called on the client's response (head copied, body written);
 * - `finish`: -> the client's response finished (`http.server.response.finish`).
 *
 * Where `_finish` falls after the write differs between the two (more of a process's own
 * work can run between its `writev` and the write's callbacks), so the first two legs are
 * also given as one: head parsed -> the upstream's response head (`toAnswer`).
 *
 * Only one request at a time is followed (the 1-connection loop): the upstream request is
 * matched to the last client request that started. On SIGUSR2 the medians of the requests
 * since the last signal are written to `$TMPDIR/swapstate-leg-marks-<pid>.json`.
 */
import dc from 'node:diagnostics_channel';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MARK = Symbol('legMarks');
let current = null;
let done = [];

dc.subscribe('http.server.request.start', ({ request }) => {
  current = { t0: performance.now() };
  request[MARK] = current;
});
dc.subscribe('http.client.request.start', ({ request }) => {
  if (current !== null && current.t1 === undefined) {
    current.t1 = performance.now();
    request[MARK] = current;
  }
});
dc.subscribe('http.client.response.finish', ({ request }) => {
  const m = request[MARK];
  if (m !== undefined && m.t2 === undefined) m.t2 = performance.now();
});
const end = http.ServerResponse.prototype.end;
http.ServerResponse.prototype.end = function (...args) {
  const m = this.req?.[MARK];
  if (m !== undefined && m.t3 === undefined) m.t3 = performance.now();
  return end.apply(this, args);
};
dc.subscribe('http.server.response.finish', ({ request }) => {
  const m = request[MARK];
  if (m?.t3 !== undefined && m.t2 !== undefined) {
    m.t4 = performance.now();
    done.push(m);
  }
});

const median = (values) => {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  return v.length === 0 ? null : Math.round(v[v.length >> 1] * 10000) / 10;
};
process.on('SIGUSR2', () => {
  const rows = done;
  done = [];
  const out = {
    n: rows.length,
    requestUs: median(rows.map((m) => m.t1 - m.t0)),
    upstreamUs: median(rows.map((m) => m.t2 - m.t1)),
    toAnswerUs: median(rows.map((m) => m.t2 - m.t0)),
    responseUs: median(rows.map((m) => m.t3 - m.t2)),
    finishUs: median(rows.map((m) => m.t4 - m.t3)),
    totalUs: median(rows.map((m) => m.t4 - m.t0)),
  };
  writeFileSync(join(tmpdir(), `swapstate-leg-marks-${process.pid}.json`), JSON.stringify(out));
});
