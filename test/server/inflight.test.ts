/**
 * The in-flight tracker through the real server (reference 7.2): what `/api/events` says of
 * requests while they wait and while they are served, and `POST /api/inflight/<id>/cancel`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { InflightRequest } from '../../src/observability/inflight.ts';
import type { StateSnapshot } from '../../src/runtime/state-view.ts';
import { until } from '../helpers/real-upstreams.ts';
import { chat, demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';
import { SseReader, type SseFrame } from '../helpers/sse.ts';

let srv: RunningServer | null = null;
const readers: SseReader[] = [];
afterEach(async () => {
  for (const r of readers.splice(0)) r.close();
  await srv?.stop();
  srv = null;
});

async function open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const r = await SseReader.open(url, headers);
  readers.push(r);
  return r;
}

const state = async (url: string) => (await (await fetch(`${url}/api/state`)).json()) as StateSnapshot;

type Inflight = { operation: 'upsert'; request: InflightRequest } | { operation: 'remove'; id: string } | { operation: 'snapshot'; requests: InflightRequest[] };
const inflight = (f: SseFrame) => (f.type === 'inflight' ? (f.data as Inflight) : null);
const upsert = (f: SseFrame) => {
  const d = inflight(f);
  return d?.operation === 'upsert' ? d.request : null;
};
const isRemove = (id: string) => (f: SseFrame) => {
  const d = inflight(f);
  return d?.operation === 'remove' && d.id === id;
};

const NOT_FOUND = '{"src":"swapstate","error":{"message":"inflight request not found","type":"invalid_request_error","param":null,"code":"not_found"}}';

describe('in-flight requests', () => {
  it('shows a slow request with redacted secrets, waiting then serving, and removes it when done', async () => {
    srv = await startServer(`models:\n${demoModel('a')}`);
    const events = await open(srv.url);
    await events.waitFor('the initial burst', (f) => f.type === 'state');

    const reply = chat(srv.url, 'a', { delay_ms: 1_000 }, {
      headers: {
        authorization: 'Bearer sk-secret',
        'x-api-key': 'sk-other',
        cookie: 'c=1',
        // Azure's and Gemini's spellings were shown in clear before issue 10: redaction is by rule.
        'api-key': 'sk-azure',
        'x-goog-api-key': 'sk-gemini',
        'x-auth-token': 'tok',
        'x-custom': 'visible',
      },
    });
    const first = upsert(await events.waitFor('the first upsert', (f) => upsert(f) !== null));
    expect(first).toMatchObject({
      id: '1',
      model: 'a',
      req_path: '/v1/chat/completions',
      method: 'POST',
      remote_ip: '127.0.0.1',
      resp_headers: {},
      metadata: {},
      phase: 'waiting', // a is loading
      req_id: expect.stringMatching(/^req-\d+$/),
    });
    expect(Date.parse(first!.timestamp)).toBeGreaterThan(Date.now() - 60_000);
    expect(first!.req_headers).toMatchObject({
      Authorization: '[REDACTED]',
      'X-Api-Key': '[REDACTED]',
      Cookie: '[REDACTED]',
      'Api-Key': '[REDACTED]',
      'X-Goog-Api-Key': '[REDACTED]',
      'X-Auth-Token': '[REDACTED]',
      'X-Custom': 'visible',
      'Content-Type': 'application/json',
    });
    expect(first!.req_headers['Host']).toBeUndefined();

    const serving = upsert(await events.waitFor('the serving upsert', (f) => upsert(f)?.phase === 'serving'));
    expect(serving).toMatchObject({ id: '1', req_id: first!.req_id });
    expect(serving!.elapsed_ms).toBeGreaterThan(0);

    expect((await reply).status).toBe(200);
    await events.waitFor('the remove', isRemove('1'));
    expect(JSON.stringify(events.frames)).not.toContain('sk-secret');
    expect(JSON.stringify(events.frames)).not.toContain('sk-other');
    // At most one upsert per 250 ms for a request, by the server's clock: elapsed_ms is the
    // instant the upsert's coalescer fired (arrival times may bunch up, and the first render's
    // lazy header copy must not count: CI once saw 247 when elapsed was taken after it).
    const times = events.frames.filter((f) => upsert(f)?.id === '1').map((f) => upsert(f)!.elapsed_ms);
    expect(times.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(250);
  });

  it('a request queued behind a loading model is waiting, with the reqId of /api/state', async () => {
    srv = await startServer(`models:\n${demoModel('b', '', '--load-delay 1500')}`);
    const events = await open(srv.url);
    await events.waitFor('the initial burst', (f) => f.type === 'state');

    const reply = chat(srv.url, 'b');
    const waiting = upsert(await events.waitFor('the waiting upsert', (f) => upsert(f)?.phase === 'waiting'));
    const s = await state(srv.url);
    expect(s.waiting.map((w) => w.reqId)).toEqual([waiting!.req_id]);

    // A client connecting now gets it in its snapshot.
    const late = await open(srv.url);
    const snap = inflight(await late.waitFor('the snapshot', (f) => inflight(f)?.operation === 'snapshot'));
    expect(snap).toMatchObject({ operation: 'snapshot', requests: [{ id: waiting!.id, phase: 'waiting', req_id: waiting!.req_id }] });

    expect((await reply).status).toBe(200);
    await until(() => events.frames.some(isRemove(waiting!.id)), 'the remove');
    const removed = events.frames.findIndex(isRemove(waiting!.id));
    const serving = events.frames.findIndex((f) => upsert(f)?.phase === 'serving');
    expect(serving).toBeGreaterThan(-1);
    expect(serving).toBeLessThan(removed);
  });

  it('cancelling a streaming request ends its response early and frees the model', async () => {
    srv = await startServer(`models:\n${demoModel('a')}`);
    const url = srv.url;
    const events = await open(url);
    await events.waitFor('the initial burst', (f) => f.type === 'state');

    const res = await chat(url, 'a', { stream: true, chunks: 400, chunk_delay_ms: 25 }); // 10 s of stream
    expect(res.status).toBe(200);
    const body = res.body!.getReader();
    await body.read();
    const live = upsert(
      await events.waitFor('bytes and headers counted', (f) => {
        const r = upsert(f);
        return r !== null && r.resp_bytes > 0 && (r.resp_headers['Content-Type'] ?? '').includes('text/event-stream');
      }),
    );
    expect(live).toMatchObject({ phase: 'serving', model: 'a' });

    const started = Date.now();
    const cancel = await fetch(`${url}/api/inflight/${live!.id}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(200);
    expect(await cancel.json()).toEqual({ msg: 'ok' });

    let text = '';
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await body.read();
        if (done) break;
        text += decoder.decode(value);
      }
    } catch {
      /* the connection was cut: that is the point */
    }
    expect(text).not.toContain('[DONE]');
    expect(Date.now() - started).toBeLessThan(5_000);
    await events.waitFor('the remove', isRemove(live!.id));
    // The upstream saw its client go: the model is not generating for nobody.
    await events.waitFor(
      'the upstream to notice',
      (f) => f.type === 'logData' && (f.data as { data: string }).data.includes('a client closed stream'),
    );
    await until(async () => (await state(url)).processes.find((p) => p.model === 'a')?.inFlight === 0, 'a to be free');
    expect((await chat(url, 'a')).status).toBe(200);
  });

  it('cancelling a request that waits for its model drops it from the queue', async () => {
    srv = await startServer(`models:\n${demoModel('b', '', '--load-delay 1500')}`);
    const url = srv.url;
    const events = await open(url);
    await events.waitFor('the initial burst', (f) => f.type === 'state');
    const reply = chat(url, 'b').then(
      () => 'answered',
      () => 'cut',
    );
    const waiting = upsert(await events.waitFor('the waiting upsert', (f) => upsert(f)?.phase === 'waiting'));
    expect((await fetch(`${url}/api/inflight/${waiting!.id}/cancel`, { method: 'POST' })).status).toBe(200);
    expect(await reply).toBe('cut');
    await events.waitFor('the remove', isRemove(waiting!.id));
    await until(async () => (await state(url)).waiting.length === 0, 'the queue to empty');
  });

  it('tracks /upstream requests only on model routes, by the path the model sees', async () => {
    srv = await startServer(`models:\n${demoModel('a')}`);
    const url = srv.url;
    const events = await open(url);
    await events.waitFor('the initial burst', (f) => f.type === 'state');
    expect((await fetch(`${url}/upstream/a/health`)).status).toBe(200);
    expect((await chat(url, 'a', {}, { path: '/upstream/a/v1/chat/completions' })).status).toBe(200);
    const tracked = upsert(await events.waitFor('the upstream request', (f) => upsert(f) !== null));
    expect(tracked).toMatchObject({ id: '1', req_path: '/v1/chat/completions', model: 'a' });
    await events.waitFor('its remove', isRemove('1'));
    expect(events.frames.filter((f) => upsert(f) !== null).every((f) => upsert(f)!.id === '1')).toBe(true);
  });

  it("an unknown id is llama-swap's 404", async () => {
    srv = await startServer(`models:\n${demoModel('a')}`);
    for (const id of ['1', 'abc', '%ff']) {
      const res = await fetch(`${srv.url}/api/inflight/${id}/cancel`, { method: 'POST' });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(await res.text()).toBe(NOT_FOUND);
    }
    // Go's mux: only POST answers (405), and other paths under the prefix match nothing (404).
    const get = await fetch(`${srv.url}/api/inflight/1/cancel`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect((await fetch(`${srv.url}/api/inflight/1`, { method: 'POST' })).status).toBe(404);
  });

  it('with apiKeys, both routes need the key', async () => {
    srv = await startServer(`apiKeys: ["sk-test"]\nmodels:\n${demoModel('a')}`);
    expect((await fetch(`${srv.url}/api/events`)).status).toBe(401);
    expect((await fetch(`${srv.url}/api/inflight/1/cancel`, { method: 'POST' })).status).toBe(401);

    const auth = { authorization: 'Bearer sk-test' };
    const events = await open(srv.url, auth);
    expect(events.response.status).toBe(200);
    await events.waitFor('the initial burst', (f) => f.type === 'state');
    const res = await fetch(`${srv.url}/api/inflight/1/cancel`, { method: 'POST', headers: auth });
    expect(res.status).toBe(404);
    expect(await res.text()).toBe(NOT_FOUND);
  });
});
