/**
 * Peers through real HTTP (reference 2.6, 3.4, 3.7, 3.8, 3.13, 5.5): swapstate in process,
 * its peers real servers in processes of their own (the echo upstream shows what arrived;
 * the demo upstream streams), and one local model beside them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiState } from '../../src/http/api-state.ts';
import { freePort, until } from '../helpers/real-upstreams.ts';
import { demoModel } from '../helpers/server-harness.ts';
import { AUDIO, multipart } from '../http/multipart-body.ts';
import { SseReader } from '../helpers/sse.ts';
import { stalledListener, type StalledListener } from '../helpers/stalled-listener.ts';
import type { InflightRequest } from '../../src/observability/inflight.ts';
import { chat, ECHO_UPSTREAM, echoOf, postJson, startOnFreePorts, type RunningServer } from './helpers.ts';

const DEMO_UPSTREAM = fileURLToPath(new URL('../../src/demo/upstream.mjs', import.meta.url));

interface Standalone {
  child: ChildProcess;
  port: number;
  stdout(): string;
}

/** A server script in a process of its own, listening on a free port: a peer needs no swapstate of its own to be one. */
async function standalone(script: string, args: string[]): Promise<Standalone> {
  const port = await freePort();
  const child = spawn(process.execPath, [script, '--port', String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  await until(() => /listening on/.test(out), `${script} to listen on ${port}`);
  return { child, port, stdout: () => out };
}

let srv: RunningServer;
let echo: Standalone;
let demo: Standalone;
let slowPeer: Standalone;
let closedPort: number;
let stalled: StalledListener;

beforeAll(async () => {
  [echo, demo, slowPeer] = await Promise.all([
    standalone(ECHO_UPSTREAM, ['--id', 'peer-echo']),
    standalone(DEMO_UPSTREAM, ['--id', 'peer-demo', '--chunk-delay', '150']),
    // A peer slow to send its response headers (the requests ask it for a long delay_ms).
    standalone(DEMO_UPSTREAM, ['--id', 'peer-slow']),
  ]);
  closedPort = await freePort();
  stalled = await stalledListener();
  srv = await startOnFreePorts(`logLevel: debug
models:
${demoModel('local', '', '--load-delay 0')}
peers:
  e:
    proxy: http://127.0.0.1:${echo.port}/base/
    models: [org/model, m2, twice]
  k:
    proxy: http://127.0.0.1:${echo.port}
    apiKey: sk-peer
    models: [keyed, twice]
    filters:
      stripParams: "temperature, top_p"
      setParams:
        max_tokens: 7
        provider: {data_collection: deny}
  d:
    proxy: http://127.0.0.1:${demo.port}
    models: [streamer]
  slow:
    proxy: http://127.0.0.1:${slowPeer.port}
    models: [stuck]
    timeouts: {responseHeader: 1}
  down:
    proxy: http://127.0.0.1:${closedPort}
    models: [gone]
  dark:
    proxy: http://127.0.0.1:${stalled.port}
    models: [unlit]
    timeouts: {connect: 1}
selectors:
  far-first:
    strategy: pin
    targets: [e/m2, local]
profiles:
  remote:
    pins:
      coder: e/org/model
      helper: far-first
`);
});

afterAll(async () => {
  await srv?.stop();
  for (const s of [echo, demo, slowPeer]) s?.child.kill('SIGKILL');
  stalled?.close();
});

const state = async (): Promise<ApiState> => (await (await fetch(`${srv.url}/api/state`)).json()) as ApiState;

describe('profile pins and selectors in front of peers (reference 3.4: pin, then selector, then peer)', () => {
  it('a pin to a peer model, and a pin to a selector whose target is a peer model, reach the peer as its own id', async () => {
    const setProfile = (name: string | null) =>
      fetch(`${srv.url}/api/profiles/active`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
    expect((await postJson(`${srv.url}/v1/chat/completions`, chat('coder'))).status).toBe(404);
    expect((await setProfile('remote')).status).toBe(200);
    try {
      const pinned = await echoOf(await postJson(`${srv.url}/v1/chat/completions`, chat('coder')));
      expect(pinned.url).toBe('/base/v1/chat/completions');
      expect(JSON.parse(pinned.body).model).toBe('org/model');
      const selected = await echoOf(await postJson(`${srv.url}/v1/chat/completions`, chat('helper')));
      expect(JSON.parse(selected.body).model).toBe('m2');
      // The selector alone, without the profile, picks the same peer model.
      expect(JSON.parse((await echoOf(await postJson(`${srv.url}/v1/chat/completions`, chat('far-first')))).body).model).toBe('m2');
      // On /upstream the pin replaces its prefix of the path, and the peer model's path goes to the peer.
      expect((await echoOf(await fetch(`${srv.url}/upstream/coder/props?x=1`))).url).toBe('/base/props?x=1');
    } finally {
      await setProfile(null);
    }
  });
});

describe('forwarding a model route to a peer', () => {
  it('appends the request path and query to the proxy URL path, and sends the FQN as the peer id, every other byte kept', async () => {
    const raw = '{"model": "e/org/model",  "messages":[{"role":"user","content":"hi"}], "n": 12345678901234567890}';
    const got = await echoOf(await postJson(`${srv.url}/v1/chat/completions?x=1&y=%2F`, raw));
    expect(got.url).toBe('/base/v1/chat/completions?x=1&y=%2F');
    expect(got.body).toBe('{"model": "org/model",  "messages":[{"role":"user","content":"hi"}], "n": 12345678901234567890}');
    expect(got.headers['content-length']).toBe(String(Buffer.byteLength(got.body)));
  });

  it('a bare id one peer lists is forwarded as it is; versionless routes lose their /v', async () => {
    const got = await echoOf(await postJson(`${srv.url}/v/chat/completions`, chat('m2')));
    expect(got.url).toBe('/base/chat/completions');
    expect(JSON.parse(got.body).model).toBe('m2');
  });

  it('a bare id two peers list is ambiguous: 404, nothing forwarded', async () => {
    const res = await postJson(`${srv.url}/v1/chat/completions`, chat('twice'));
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/^no router for requested model "twice": available models are/);
  });

  it('a multipart body gets the peer id in its model field; the file and the Content-Type stay as sent', async () => {
    const boundary = 'xYzZY';
    const body = multipart(boundary, [
      { name: 'file', value: AUDIO, filename: 'a.wav', type: 'audio/wav' },
      { name: 'model', value: 'e/m2' },
      { name: 'language', value: 'en' },
    ]);
    const res = await fetch(`${srv.url}/v1/audio/transcriptions`, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      body,
    });
    const got = await echoOf(res);
    expect(got.url).toBe('/base/v1/audio/transcriptions');
    expect(got.headers['content-type']).toBe(`multipart/form-data; boundary=${boundary}`);
    const expected = multipart(boundary, [
      { name: 'file', value: AUDIO, filename: 'a.wav', type: 'audio/wav' },
      { name: 'model', value: 'm2' },
      { name: 'language', value: 'en' },
    ]);
    expect(Buffer.from(got.bodyBase64, 'base64').equals(expected)).toBe(true);
  });

  it("a GET's query names the peer id; the other parameters stay as written", async () => {
    const got = await echoOf(await fetch(`${srv.url}/v1/audio/voices?voice=a%20b&model=e%2Fm2&z`));
    expect(got.method).toBe('GET');
    expect(got.url).toBe('/base/v1/audio/voices?voice=a%20b&model=m2&z');
  });

  it('a urlencoded body gets the peer id in its model pair', async () => {
    const res = await fetch(`${srv.url}/v1/audio/speech`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'input=hello+there&model=e%2Fm2',
    });
    expect((await echoOf(res)).body).toBe('input=hello+there&model=m2');
  });

  it("without apiKey the client's Authorization goes through; Host is the peer's, no X-Forwarded-* goes out", async () => {
    const got = await echoOf(
      await postJson(`${srv.url}/v1/chat/completions`, chat('e/m2'), {
        authorization: 'Bearer client-token',
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-host': 'spoof.example',
      }),
    );
    expect(got.headers.authorization).toBe('Bearer client-token');
    expect(got.headers.host).toBe(`127.0.0.1:${echo.port}`);
    expect(Object.keys(got.headers).filter((h) => h.startsWith('x-forwarded'))).toEqual([]);
  });

  it("with apiKey, Authorization: Bearer <key> and x-api-key: <key> replace the client's", async () => {
    const got = await echoOf(
      await postJson(`${srv.url}/v1/chat/completions`, chat('k/keyed'), { authorization: 'Bearer client-token', 'x-api-key': 'client-key' }),
    );
    expect(got.headers.authorization).toBe('Bearer sk-peer');
    expect(got.headers['x-api-key']).toBe('sk-peer');
    expect(got.url).toBe('/v1/chat/completions');
  });

  it("the peer's filters apply to JSON bodies: stripParams and setParams, the model rewritten", async () => {
    const got = await echoOf(
      await postJson(`${srv.url}/v1/chat/completions`, chat('k/keyed', 'hi', { temperature: 0.2, top_p: 0.9, max_tokens: 100, stream: false })),
    );
    expect(JSON.parse(got.body)).toEqual({
      model: 'keyed',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 7,
      stream: false,
      provider: { data_collection: 'deny' },
    });
  });

  it('streams without buffering: the first event arrives long before the stream ends; SSE gets X-Accel-Buffering: no', async () => {
    const started = performance.now();
    const res = await postJson(`${srv.url}/v1/chat/completions`, chat('d/streamer', 'one two three', { stream: true, chunks: 8 }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    const reader = res.body!.getReader();
    const first = await reader.read();
    const firstAt = performance.now() - started;
    expect(new TextDecoder().decode(first.value)).toMatch(/^data: \{.*"model":"peer-demo"/);
    let text = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
    const endAt = performance.now() - started;
    expect(text).toContain('data: [DONE]');
    // 8 chunks 150 ms apart: the first came at once, the whole took over a second.
    expect(endAt - firstAt).toBeGreaterThan(700);
  });

  it('a streaming forward shows in /api/state (forwarded, counters) and the in-flight tracker while it runs; a client abort reaches the peer', async () => {
    const before = (await state()).peers['d']!;
    const res = await postJson(`${srv.url}/v1/chat/completions`, chat('d/streamer', 'x', { stream: true, chunks: 200 }));
    const reader = res.body!.getReader();
    await reader.read();
    const snap = await state();
    expect(snap.forwarded).toEqual([
      expect.objectContaining({ peer: 'd', requested: 'd/streamer', model: 'streamer', method: 'POST', path: '/v1/chat/completions' }),
    ]);
    expect(snap.forwarded[0]!.reqId).toMatch(/^peer-\d+$/);
    expect(snap.peers['d']).toEqual({ inFlight: 1, forwarded: before.forwarded + 1, failed: before.failed });
    // No process, no swap, no queue on this server for it.
    expect(snap.processes.map((p) => p.model)).toEqual(['local']);
    expect(snap.waiting).toEqual([]);
    await reader.cancel();
    await until(() => /peer-demo client closed stream after \d+ chunks/.test(demo.stdout()), 'the peer to see the client leave');
    await until(async () => (await state()).forwarded.length === 0, 'the forward to end');
    expect((await state()).peers['d']!.inFlight).toBe(0);
  });

  it('the in-flight tracker shows a forward under its full name, and cancelling it closes the peer request', async () => {
    const events = await SseReader.open(srv.url);
    try {
      const res = await postJson(`${srv.url}/v1/chat/completions`, chat('d/streamer', 'x', { stream: true, chunks: 200 }));
      const reader = res.body!.getReader();
      await reader.read();
      const frame = await events.waitFor('the forward in the in-flight tracker', (f) => {
        const d = f.data as { operation: string; request?: InflightRequest };
        return f.type === 'inflight' && d.operation === 'upsert' && d.request?.model === 'd/streamer';
      });
      const entry = (frame.data as { request: InflightRequest }).request;
      expect(entry).toMatchObject({ req_path: '/v1/chat/completions', method: 'POST', phase: 'serving' });
      expect(entry.req_id).toMatch(/^peer-\d+$/);
      const before = (demo.stdout().match(/client closed stream/g) ?? []).length;
      const cancel = await fetch(`${srv.url}/api/inflight/${entry.id}/cancel`, { method: 'POST' });
      expect(await cancel.json()).toEqual({ msg: 'ok' });
      await expect(
        (async () => {
          for (let r = await reader.read(); !r.done; r = await reader.read());
        })(),
      ).rejects.toThrow();
      await until(() => (demo.stdout().match(/client closed stream/g) ?? []).length > before, 'the peer to see the cancel');
    } finally {
      events.close();
    }
  });

  it('/v1/models lists one record per FQN, named "<peer>: <model>", type peer, always unloaded', async () => {
    const listing = (await (await fetch(`${srv.url}/v1/models`)).json()) as { data: Array<Record<string, unknown>> };
    const peerRecords = listing.data.filter((r) => (r['meta'] as { llamaswap: { type: string } }).llamaswap.type === 'peer');
    expect(peerRecords.map((r) => r['id'])).toEqual(['d/streamer', 'dark/unlit', 'down/gone', 'e/m2', 'e/org/model', 'e/twice', 'k/keyed', 'k/twice', 'slow/stuck']);
    expect(peerRecords.find((r) => r['id'] === 'e/org/model')).toEqual({
      id: 'e/org/model',
      object: 'model',
      created: expect.any(Number),
      owned_by: 'swapstate',
      name: 'e: org/model',
      meta: { llamaswap: { type: 'peer', peerID: 'e' } },
      status: { value: 'unloaded' },
    });
  });
});

describe('peer failures', () => {
  it('an unreachable peer is a 502 envelope "peer proxy error: ..."; a local model keeps serving meanwhile', async () => {
    const before = (await state()).peers['down']!;
    const res = await postJson(`${srv.url}/v1/chat/completions`, chat('down/gone'));
    const body = (await res.json()) as { src: string; error: { message: string; type: string; code: string } };
    expect(res.status).toBe(502);
    expect(body).toEqual({
      src: 'swapstate',
      error: { message: expect.stringMatching(/^peer proxy error: connect ECONNREFUSED 127\.0\.0\.1:\d+$/), type: 'server_error', param: null, code: 'bad_gateway' },
    });
    expect((await state()).peers['down']).toEqual({ inFlight: 0, forwarded: before.forwarded + 1, failed: before.failed + 1 });
    const local = await postJson(`${srv.url}/v1/chat/completions`, chat('local'));
    expect(local.status).toBe(200);
    expect(srv.logs.proxy.history()).toMatch(/\[WARN\] peer down: proxy error: connect ECONNREFUSED/);
  });

  it('a peer that sends no response headers within timeouts.responseHeader is a 502', async () => {
    const started = performance.now();
    const res = await postJson(`${srv.url}/v1/chat/completions`, chat('slow/stuck', 'x', { delay_ms: 10_000 }));
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
      'peer proxy error: net/http: timeout awaiting response headers (timeouts.responseHeader is 1s)',
    );
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('a peer whose connection never completes fails with 502 after timeouts.connect, as Go\'s dialer does', async () => {
    // The peer's port drops SYNs (a full accept queue): without the limit, the request would
    // wait for the kernel's SYN retries (about two minutes).
    const before = (await state()).peers['dark']!;
    const res = await postJson(`${srv.url}/v1/chat/completions`, chat('dark/unlit'));
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
      `peer proxy error: dial tcp 127.0.0.1:${stalled.port}: i/o timeout (timeouts.connect is 1s)`,
    );
    expect((await state()).peers['dark']).toEqual({ inFlight: 0, forwarded: before.forwarded + 1, failed: before.failed + 1 });
  });

  it('a peer request never evicts, stops or queues behind a running local model', async () => {
    expect((await postJson(`${srv.url}/v1/chat/completions`, chat('local'))).status).toBe(200);
    const pid = srv.server.state().runtime.process('local')?.pid;
    expect(pid).toBeGreaterThan(0);
    const results = await Promise.all([
      postJson(`${srv.url}/v1/chat/completions`, chat('e/m2')),
      postJson(`${srv.url}/v1/chat/completions`, chat('k/keyed')),
      postJson(`${srv.url}/v1/chat/completions`, chat('down/gone')),
    ]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 502]);
    await Promise.all(results.map((r) => r.arrayBuffer()));
    const p = srv.server.state().runtime.process('local');
    expect({ state: p?.state, pid: p?.pid }).toEqual({ state: 'ready', pid });
    const running = (await (await fetch(`${srv.url}/running`)).json()) as { running: Array<{ model: string }> };
    expect(running.running.map((r) => r.model)).toEqual(['local']);
  });

  it('logs one debug line per forwarded request, in llama-swap words', () => {
    expect(srv.logs.proxy.history()).toContain('[DEBUG] peer: routing model e/org/model to peer e as org/model');
  });
});

describe('/upstream/<peer model>/... (reference 3.8)', () => {
  it('forwards the rest of the path under the peer proxy URL, the model prefix taken by its longest match', async () => {
    const got = await echoOf(await fetch(`${srv.url}/upstream/e/org/model/slots?id=1`));
    expect(got.url).toBe('/base/slots?id=1');
    const bare = await echoOf(await fetch(`${srv.url}/upstream/m2/props`));
    expect(bare.url).toBe('/base/props');
  });

  it('a body naming the model as asked for goes with the peer id; no filters', async () => {
    const got = await echoOf(await postJson(`${srv.url}/upstream/k/keyed/v1/chat/completions`, chat('k/keyed', 'x', { temperature: 1 })));
    expect(got.url).toBe('/v1/chat/completions');
    expect(JSON.parse(got.body)).toEqual({ model: 'keyed', messages: [{ role: 'user', content: 'x' }], temperature: 1 });
    expect(got.headers.authorization).toBe('Bearer sk-peer');
  });

  it('exactly /upstream/<peer model> redirects to its slash form', async () => {
    const res = await fetch(`${srv.url}/upstream/e/org/model`, { redirect: 'manual' });
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe('/upstream/e/org/model/');
  });
});

describe('shutdown', () => {
  it('waits for a peer stream in flight within the budget, then cancels what is left', async () => {
    const own = await startOnFreePorts(`peers:\n  d:\n    proxy: http://127.0.0.1:${demo.port}\n    models: [streamer]\n`);
    try {
      // A short stream finishes within the budget; a long one is cut when it is over.
      const short = await postJson(`${own.url}/v1/chat/completions`, chat('d/streamer', 'x', { stream: true, chunks: 4 }));
      const long = await postJson(`${own.url}/v1/chat/completions`, chat('d/streamer', 'x', { stream: true, chunks: 400 }));
      const shortText = short.text();
      const longText = long.text().catch((err: Error) => `cut: ${err.message}`);
      const started = performance.now();
      await own.server.shutdown(2_000);
      expect(performance.now() - started).toBeGreaterThan(1_500);
      expect(await shortText).toContain('data: [DONE]');
      expect(await longText).not.toContain('data: [DONE]');
      expect(own.logs.proxy.history()).toContain('shutdown: 1 peer request(s) still in flight after the drain; cancelled');
    } finally {
      await own.stop();
    }
  });
});
