/**
 * Activity metrics and captures through the real server and the demo upstream, a real child
 * process (reference 7.3, 7.4): the rows a streamed and an unstreamed request leave, the
 * `activity` event, an unknown model's 404, a client that leaves, that the recorder delays or
 * joins no chunk of a stream, GETs unrecorded, `/upstream` metering, and captures on, off and
 * over their size.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActivityEntry, ActivityPage } from '../../src/observability/activity-log.ts';
import { until } from '../helpers/real-upstreams.ts';
import { chat, demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';
import { SseReader } from '../helpers/sse.ts';

let srv: RunningServer | null = null;
const readers: SseReader[] = [];
afterEach(async () => {
  for (const r of readers.splice(0)) r.close();
  await srv?.stop();
  srv = null;
});

/** A JSON answer, loosely typed (the tests read what they check). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = async (res: Response | Promise<Response>): Promise<any> => (await res).json();

const page = async (url: string, qs = ''): Promise<ActivityPage> => (await (await fetch(`${url}/api/metrics/activity${qs}`)).json()) as ActivityPage;

/** The row with `id`, once written. */
async function rowOf(url: string, id: number): Promise<ActivityEntry> {
  let hit: ActivityEntry | undefined;
  await until(async () => (hit = (await page(url, `?min_id=${id}&max_id=${id}`)).data[0]) !== undefined, `activity row ${id}`);
  return hit!;
}

/** The demo upstream's fixed speeds (src/demo/upstream.mjs timings()). */
const DEMO = { prompt_per_second: 800, tokens_per_second: 40, cache_tokens: 0, draft_tokens: -1, draft_acc_tokens: -1 };

describe('activity rows', () => {
  it('an unstreamed and a streamed chat each leave a row with the upstream timings, and an activity event', async () => {
    srv = await startServer(`models:\n${demoModel('a')}`);
    const events = await SseReader.open(srv.url);
    readers.push(events);
    await events.waitFor('the initial burst', (f) => f.type === 'state');

    const plain = await chat(srv.url, 'a');
    expect(plain.status).toBe(200);
    await plain.json();
    const ev1 = await events.waitFor('activity 1', (f) => f.type === 'activity');
    expect(ev1.data).toEqual({ id: 1 });
    expect(JSON.parse(ev1.raw.slice(ev1.raw.indexOf('data:') + 5))).toEqual({ type: 'activity', data: '{"id":1}' });
    const one = await rowOf(srv.url, 1);
    // "hi" is 1 word; "Hello from a. You said: hi" 6: 6 x 25 ms + 1.25 ms of "server time".
    expect(one).toMatchObject({
      id: 1,
      model: 'a',
      req_path: '/v1/chat/completions',
      resp_status_code: 200,
      resp_content_type: 'application/json',
      has_capture: false,
      tokens: { ...DEMO, input_tokens: 1, output_tokens: 6 },
    });
    expect(one.duration_ms).toBeGreaterThanOrEqual(151);
    expect(one.error_msg).toBeUndefined();
    expect(Date.parse(one.timestamp)).toBeGreaterThan(Date.now() - 60_000);

    const streamed = await chat(srv.url, 'a', { stream: true, chunks: 5 });
    expect(await streamed.text()).toContain('data: [DONE]');
    await events.waitFor('activity 2', (f) => f.type === 'activity' && (f.data as { id: number }).id === 2);
    expect(await rowOf(srv.url, 2)).toMatchObject({
      model: 'a',
      resp_status_code: 200,
      resp_content_type: 'text/event-stream',
      tokens: { ...DEMO, input_tokens: 1, output_tokens: 5 },
    });

    const stats = await json(fetch(`${srv.url}/api/metrics/stats?model=a`));
    expect(stats).toMatchObject({ total_requests: 2, total_input_tokens: 2, total_output_tokens: 11, total_cache_tokens: 0 });
    expect(stats.gen_histogram).toMatchObject({ bins: [2], min: 40, max: 40, p50: 40 });
  });

  it('an unknown model is a 404 row with its message; a GET and a request without a model are no rows', async () => {
    srv = await startServer(`models:\n${demoModel('a')}`);
    const res = await chat(srv.url, 'nope');
    expect(res.status).toBe(404);
    const row = await rowOf(srv.url, 1);
    expect(row).toMatchObject({ model: 'nope', resp_status_code: 404, tokens: { input_tokens: 0, cache_tokens: 0, prompt_per_second: 0 } });
    expect(row.error_msg).toMatch(/^no router for requested model/);

    await (await fetch(`${srv.url}/props?model=a`)).text();
    await (await fetch(`${srv.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).text();
    const marker = await chat(srv.url, 'nope-again');
    await marker.text();
    // Row 2 is the marker: nothing was recorded between.
    expect((await rowOf(srv.url, 2)).model).toBe('nope-again');
    expect((await page(srv.url)).total).toBe(2);
  });

  it('a granted request carries its model\'s fifo.priority in metadata (0 when unset), as llama-swap sets it on each grant', async () => {
    srv = await startServer(
      `models:\n${demoModel('a')}${demoModel('b')}routing:\n  scheduler:\n    use: fifo\n    settings:\n      fifo:\n        priority:\n          a: 7\n` +
        `selectors:\n  pick:\n    strategy: pin\n    targets: [b]\n`,
    );
    await (await chat(srv.url, 'a')).text();
    await (await chat(srv.url, 'b')).text();
    await (await chat(srv.url, 'nope')).text();
    await (await chat(srv.url, 'pick')).text();
    expect((await rowOf(srv.url, 1)).metadata).toEqual({ fifo_priority: '7' });
    expect((await rowOf(srv.url, 2)).metadata).toEqual({ fifo_priority: '0' });
    // Never granted: no priority.
    expect((await rowOf(srv.url, 3)).metadata).toBeUndefined();
    // Through a selector: both keys, in Go's sorted order.
    const picked = await rowOf(srv.url, 4);
    expect(picked.model).toBe('b');
    expect(JSON.stringify(picked.metadata)).toBe('{"fifo_priority":"0","selector":"pick"}');
  });

  it('a client that leaves mid-stream, and one that leaves while its model loads, are rows', async () => {
    srv = await startServer(`models:\n${demoModel('a')}${demoModel('slow', '', '--load-delay 60000')}`);
    const ac = new AbortController();
    const res = await chat(srv.url, 'a', { stream: true, chunks: 1000, chunk_delay_ms: 20 }, { signal: ac.signal });
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    const cut = await rowOf(srv.url, 1);
    expect(cut).toMatchObject({ model: 'a', resp_status_code: 200, resp_content_type: 'text/event-stream' });
    expect(cut.error_msg).toMatch(/cut short/);

    const waiting = new AbortController();
    const pending = chat(srv.url, 'slow', {}, { signal: waiting.signal }).catch(() => null);
    await until(async () => ((await (await fetch(`${srv!.url}/api/state`)).json()) as { waiting: unknown[]; swaps: unknown[] }).swaps.length > 0, 'slow loading');
    waiting.abort();
    await pending;
    const left = await rowOf(srv.url, 2);
    expect(left).toMatchObject({ model: 'slow', resp_status_code: 499, resp_content_type: '' });
    expect(left.error_msg).toMatch(/client closed/);
  });

  it('the recorder neither delays nor joins chunks: each event of a slow stream arrives on its own', async () => {
    srv = await startServer(`models:\n${demoModel('a')}`);
    await (await chat(srv.url, 'a')).text(); // loaded: the stream below is timed by its chunks alone
    const port = Number(new URL(srv.url).port);
    const reads: Array<{ events: number }> = [];
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' } }, (res) => {
        res.on('data', (chunk: Buffer) => reads.push({ events: chunk.toString().split('data: {').length - 1 }));
        res.on('end', resolve);
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'a', messages: [{ role: 'user', content: 'hi' }], stream: true, chunks: 5, chunk_delay_ms: 150 }));
    });
    const withEvents = reads.filter((r) => r.events > 0);
    // 150 ms apart upstream: a tap that held chunks back would hand them over together.
    expect(withEvents.length).toBe(5);
    expect(withEvents.every((r) => r.events === 1)).toBe(true);
    expect((await rowOf(srv.url, 2)).tokens.output_tokens).toBe(5);
  });

  it('a model route through /upstream is metered with the path asked for; another path is not', async () => {
    srv = await startServer(`models:\n${demoModel('a')}`);
    const res = await fetch(`${srv.url}/upstream/a/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'a', messages: [{ role: 'user', content: 'one two' }] }),
    });
    expect(res.status).toBe(200);
    await res.text();
    expect(await rowOf(srv.url, 1)).toMatchObject({ model: 'a', req_path: '/upstream/a/v1/chat/completions', tokens: { input_tokens: 2 } });
    await (await fetch(`${srv.url}/upstream/a/health`, { method: 'POST' })).text();
    await (await chat(srv.url, 'zz')).text();
    expect((await rowOf(srv.url, 2)).model).toBe('zz');
  });

  it('the query endpoint answers bad parameters with 400 in the envelope', async () => {
    srv = await startServer(`models:\n${demoModel('a')}`);
    const res = await fetch(`${srv.url}/api/metrics/activity?limit=0`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      src: 'swapstate',
      error: { message: 'limit must be between 1 and 999', type: 'invalid_request_error', param: null, code: 'bad_request' },
    });
    expect(await page(srv.url)).toEqual({ data: [], page: 1, limit: 25, total: 0, total_pages: 0 });
    expect(await json(fetch(`${srv.url}/api/metrics/stats`))).toEqual({
      total_requests: 0,
      total_input_tokens: 0,
      total_output_tokens: 0,
      total_cache_tokens: 0,
      prompt_histogram: null,
      gen_histogram: null,
    });
  });
});

describe('captures', () => {
  const capture = async (url: string, id: number | string) => fetch(`${url}/api/captures/${id}`);
  const b64 = (s: string | null) => (s === null ? null : Buffer.from(s, 'base64').toString('utf8'));

  it('off by default: no capture is kept', async () => {
    srv = await startServer(`models:\n${demoModel('a')}`);
    await (await chat(srv.url, 'a')).text();
    expect((await rowOf(srv.url, 1)).has_capture).toBe(false);
    const res = await capture(srv.url, 1);
    expect(res.status).toBe(404);
    expect((await json(res)).error.message).toBe('capture not found');
    expect((await capture(srv.url, 'x')).status).toBe(400);
  });

  it('on: request and answer kept, secrets redacted, bodies base64; one larger than the cache is skipped', async () => {
    srv = await startServer(`captureBuffer: 1\nmodels:\n${demoModel('a')}`);
    const sent = { model: 'a', messages: [{ role: 'user', content: 'remember me' }] };
    const res = await fetch(`${srv.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-secret' },
      body: JSON.stringify(sent),
    });
    const answer = await res.text();
    expect((await rowOf(srv.url, 1)).has_capture).toBe(true);
    const c = await json(capture(srv.url, 1));
    expect(c).toMatchObject({ id: 1, req_path: '/v1/chat/completions' });
    expect(c.req_headers).toMatchObject({ Authorization: '[REDACTED]', 'Content-Type': 'application/json' });
    expect(JSON.parse(b64(c.req_body)!)).toEqual(sent);
    expect(c.resp_headers['Content-Type']).toMatch(/application\/json/);
    expect(c.resp_headers['Content-Encoding']).toBeUndefined();
    expect(b64(c.resp_body)).toBe(answer);

    const streamed = await chat(srv.url, 'a', { stream: true, chunks: 3 });
    const text = await streamed.text();
    expect((await rowOf(srv.url, 2)).has_capture).toBe(true);
    expect(b64((await json(capture(srv.url, 2))).resp_body)).toBe(text);

    // Over 1 MB with its echo: not kept, and the others stay.
    const big = await chat(srv.url, 'a', { messages: [{ role: 'user', content: 'x'.repeat(700_000) }] });
    await big.text();
    const row = await rowOf(srv.url, 3);
    expect(row.has_capture).toBe(false);
    expect(row.tokens.input_tokens).toBe(1);
    expect((await capture(srv.url, 3)).status).toBe(404);
    expect((await capture(srv.url, 1)).status).toBe(200);

    // A failed request keeps its request and the answer's headers, not its body.
    await (await chat(srv.url, 'unknown')).text();
    const failed = await json(capture(srv.url, 4));
    expect(failed.resp_body).toBeNull();
    expect(failed.resp_headers['Content-Type']).toBe('application/json');
  });
});
