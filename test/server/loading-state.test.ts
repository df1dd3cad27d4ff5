/**
 * `sendLoadingState` through the real server and real demo upstreams (reference 3.14): a
 * streamed chat request to a cold model gets the loading frames, then the model's own chunks
 * intact and in order in the same 200 response; a ready model, a request that does not stream
 * and a model with the key off get none; a failed start and an upstream error are framed with
 * `[DONE]`; a client that leaves while the model loads leaves nothing behind.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { activeTimers, expectNoProcessOrTimerLeft, expectNothingHeld } from '../helpers/leak-check.ts';
import { until } from '../helpers/real-upstreams.ts';
import { chat, demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';

let srv: RunningServer | null = null;
afterEach(async () => {
  await srv?.stop();
  srv = null;
});

interface Parsed {
  /** Every `data:` payload, in order. */
  data: string[];
  /** The loading text (reasoning_content of the frames without an id), joined. */
  loading: string;
  /** The upstream's chunks (frames with an id), in order. */
  chunks: Array<{ id: string; choices: Array<{ delta: { content?: string } }> }>;
}

function parse(body: string): Parsed {
  expect(body.endsWith('\n\n'), 'the body ends on a frame boundary').toBe(true);
  const data = body
    .split('\n\n')
    .filter((f) => f !== '')
    .map((f) => {
      expect(f.startsWith('data: '), `a frame that is no data frame: ${JSON.stringify(f)}`).toBe(true);
      return f.slice('data: '.length);
    });
  let loading = '';
  const chunks: Parsed['chunks'] = [];
  for (const d of data) {
    if (d === '[DONE]') continue;
    const doc = JSON.parse(d) as { id?: string; choices?: Array<{ delta: { reasoning_content?: string; content?: string } }> };
    if (doc.id === undefined && doc.choices?.[0]?.delta.reasoning_content !== undefined) {
      // No loading frame may come once the model's answer has begun.
      expect(chunks, 'a loading frame after the answer began').toEqual([]);
      loading += doc.choices[0].delta.reasoning_content;
    } else if (doc.id !== undefined) {
      chunks.push(doc as Parsed['chunks'][number]);
    }
  }
  return { data, loading, chunks };
}

const LOADING_TEXT = /^━━━━━\nllama-swap loading model: a\n[\s\S]*\nDone! \(\d+\.\d\ds\)\n━━━━━\n \n$/;

describe('sendLoadingState', () => {
  it('a cold model: 200 SSE at once, the loading frames, then the answer intact and in order, ending with [DONE]', async () => {
    srv = await startServer(`sendLoadingState: true\nmodels:\n${demoModel('a', '', '--load-delay 1500')}`);
    const res = await chat(srv.url, 'a', { stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('connection')).toBe('keep-alive');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    const p = parse(await res.text());
    expect(p.loading).toMatch(LOADING_TEXT);
    // 1.5 s of loading is at least one tick: a remark or a dot after the header.
    expect(p.loading.length).toBeGreaterThan('━━━━━\nllama-swap loading model: a\n\nDone! (1.50s)\n━━━━━\n \n'.length);
    expect(p.chunks.map((c) => c.choices[0]!.delta.content).join('')).toBe('Hello from a. You said: hi');
    expect(p.data.at(-1)).toBe('[DONE]');
    expect(p.data.filter((d) => d === '[DONE]')).toHaveLength(1);

    // Now ready: the same request is proxied as it is, with no frame of ours.
    const again = parse(await (await chat(srv.url, 'a', { stream: true })).text());
    expect(again.loading).toBe('');
    expect(again.chunks.map((c) => c.choices[0]!.delta.content).join('')).toBe('Hello from a. You said: hi');
    await expectNothingHeld(srv);
    // The loaded-through request's activity row, like any granted one's, has its FIFO priority.
    const url = srv.url;
    let rows: Array<{ id: number; metadata?: unknown }> = [];
    await until(async () => (rows = ((await (await fetch(`${url}/api/metrics/activity`)).json()) as { data: typeof rows }).data).length >= 2, 'two activity rows');
    expect(rows.find((r) => r.id === 1)?.metadata).toEqual({ fifo_priority: '0' });
  });

  it('no frames for a request that does not stream, for another path, or for a model with the key off', async () => {
    srv = await startServer(
      `models:\n${demoModel('a', 'sendLoadingState: true', '--load-delay 300')}${demoModel('b', '', '--load-delay 300')}`,
    );
    // Not streamed: the model's JSON answer, as always.
    const plain = await chat(srv.url, 'a');
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-type')).toContain('application/json');
    expect(((await plain.json()) as { object: string }).object).toBe('chat.completion');
    await srv.server.state().runtime.unload();

    // A streamed completion (not chat): proxied as it is.
    const completion = await chat(srv.url, 'a', { stream: true, prompt: 'x' }, { path: '/v1/completions' });
    expect(parse(await completion.text()).loading).toBe('');

    // b keeps the global default (off).
    const b = parse(await (await chat(srv.url, 'b', { stream: true })).text());
    expect(b.loading).toBe('');
    expect(b.chunks.length).toBeGreaterThan(0);
  });

  it('a model can turn the global key off', async () => {
    srv = await startServer(`sendLoadingState: true\nmodels:\n${demoModel('a', 'sendLoadingState: false', '--load-delay 300')}`);
    const p = parse(await (await chat(srv.url, 'a', { stream: true })).text());
    expect(p.loading).toBe('');
    expect(p.data.at(-1)).toBe('[DONE]');
  });

  it('a start that fails: the loading frames, then the error envelope as a frame and [DONE]', async () => {
    srv = await startServer(`sendLoadingState: true\nmodels:\n  a:\n    cmd: ${process.execPath} -e "process.exit(3)" \${PORT}\n`);
    const res = await chat(srv.url, 'a', { stream: true });
    expect(res.status).toBe(200);
    const body = await res.text();
    const p = parse(body);
    expect(p.loading).toMatch(LOADING_TEXT);
    expect(p.data.at(-1)).toBe('[DONE]');
    const error = JSON.parse(p.data.at(-2)!) as { src: string; error: { message: string; type: string; code: string } };
    expect(error.src).toBe('swapstate');
    expect(error.error.type).toBe('server_error');
    expect(error.error.message).toMatch(/^unspecific error: /);
    expect(body.endsWith(`data: ${p.data.at(-2)}\n\ndata: [DONE]\n\n`)).toBe(true);
  });

  it("an upstream's non-2xx answer after the loading frames is framed as its JSON error, then [DONE]", async () => {
    srv = await startServer(`sendLoadingState: true\nmodels:\n${demoModel('a', '', '--load-delay 300')}`);
    // /upstream reads the stream flag from the query; the demo upstream has no such route (404).
    const res = await fetch(`${srv.url}/upstream/a/v1/chat/completions/nope?stream=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'a', stream: true, messages: [] }),
    });
    expect(res.status).toBe(200);
    const p = parse(await res.text());
    expect(p.loading).toMatch(LOADING_TEXT);
    expect(p.data.slice(-2)).toEqual([
      JSON.stringify({ error: { code: 404, message: 'no route for POST /v1/chat/completions/nope', type: 'not_found_error' } }),
      '[DONE]',
    ]);
  });

  it('a request queued behind a busy model is told its position and why it waits', async () => {
    // b loads for 1.6 s: the stream samples the wait's reason at its 750 ms ticks, so the swap
    // that evicts a and starts b must outlast two of them to be seen whatever the phase (with
    // 300 ms, a loaded machine's ticks fell on either side of it: CI, Node 24).
    srv = await startServer(`sendLoadingState: true\nmodels:\n${demoModel('a', '', '')}${demoModel('b', '', '--load-delay 1600')}`);
    // a answers its request only after 2.5 s: b (same swap group) must wait for it.
    expect((await chat(srv.url, 'a')).status).toBe(200);
    const busy = chat(srv.url, 'a', { delay_ms: 2_500 });
    await until(() => srv!.server.state().runtime.state().processes.find((p) => p.model === 'a')?.inFlight === 1, 'a to be busy');
    const p = parse(await (await chat(srv.url, 'b', { stream: true })).text());
    expect(p.loading).toContain('\nQueue position: #1 ');
    expect(p.loading).toContain('\nStatus: would evict model a, which is serving 1 request ');
    expect(p.loading).toContain('\nStatus: model b is loading (evicting a) ');
    expect(p.loading).toMatch(/^━━━━━\nllama-swap loading model: b\n[\s\S]*\nDone! \(\d+\.\d\ds\)\n━━━━━\n \n$/);
    expect(p.chunks.map((c) => c.choices[0]!.delta.content).join('')).toBe('Hello from b. You said: hi');
    expect((await busy).status).toBe(200);
  });

  it('a client that leaves while the model loads: the ticket is cancelled, no timer and no process left', async () => {
    srv = await startServer(`sendLoadingState: true\nmodels:\n${demoModel('a', '', '--load-delay 3000')}`);
    const baseline = activeTimers();
    const abort = new AbortController();
    const res = await chat(srv.url, 'a', { stream: true }, { signal: abort.signal });
    const reader = res.body!.getReader();
    let seen = '';
    while (!seen.includes('━━━━━')) {
      const { done, value } = await reader.read();
      expect(done, 'the stream ended before its header').toBe(false);
      seen += new TextDecoder().decode(value);
    }
    abort.abort();
    await reader.closed.catch(() => undefined);
    await expectNothingHeld(srv);
    await expectNoProcessOrTimerLeft(srv, baseline);
  });
});

describe('GET /api/version', () => {
  it("answers llama-swap's fields; commit and build date unknown as --version says", async () => {
    srv = await startServer(`models:\n${demoModel('a')}`);
    const res = await fetch(`${srv.url}/api/version`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ version: 'test', commit: 'unknown', build_date: 'unknown' });
  });

  it('asks for the API key like the other management routes', async () => {
    srv = await startServer(`apiKeys: [sekrit]\nmodels:\n${demoModel('a')}`);
    expect((await fetch(`${srv.url}/api/version`)).status).toBe(401);
    expect((await fetch(`${srv.url}/api/version`, { headers: { authorization: 'Bearer sekrit' } })).status).toBe(200);
  });
});
