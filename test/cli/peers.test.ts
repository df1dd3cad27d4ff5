/**
 * swapstate as another swapstate's peer (issue 14; reference 2.6, 5.5), with two real
 * swapstate processes on loopback:
 *
 * - box B serves two demo models in one swap group, behind `apiKeys`;
 * - box A has one local model, and B as peer `b` with B's key and filters.
 *
 * A serves `b/<model>` from B; B swaps its own models as usual (its /running says so); the
 * key and the filters reach B's model (the demo upstream echoes what it received); A's
 * /api/state shows a slow stream as forwarded while it runs; A's local model is never
 * stopped by any of it.
 */
import { afterAll, afterEach, describe, it } from 'vitest';
import type { ApiState } from '../../src/http/api-state.ts';
import { demoModel, freePortPair, getJson, killRuns, printed, removeTempDirs, runningIds, startCli, until, upstreamPid } from './cli-harness.ts';

afterEach((ctx) => killRuns(ctx.task.id));
afterAll(() => {
  killRuns();
  removeTempDirs();
});

const B_KEY = 'b-secret-key';

/** A POST to a chat route with a JSON body and optional headers. */
function post(url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: signal ?? AbortSignal.timeout(30_000),
  });
}

const ask = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });

interface Echoed {
  model: string;
  echo: { method: string; url: string; headers: Record<string, string>; body: string };
}

describe('two swapstates: B is A’s peer', () => {
  it('A serves b/<model> from B; B swaps its own models; apiKey and filters apply; A shows the forward; A’s local model stays', async ({
    expect,
    task,
  }) => {
    const b = await startCli(
      task.id,
      `logToStdout: both
apiKeys: [${B_KEY}]
startPort: ${await freePortPair()}
models:
${demoModel('b1')}${demoModel('b2')}groups:
  pair:
    swap: true
    members: [b1, b2]
`,
    );
    const a = await startCli(
      task.id,
      `logToStdout: both
logLevel: debug
startPort: ${await freePortPair()}
models:
${demoModel('local')}peers:
  b:
    proxy: ${b.url}
    apiKey: ${B_KEY}
    models: [b1, b2]
    filters:
      stripParams: temperature
      setParams:
        max_tokens: 3
`,
    );
    const bGet = <T>(path: string) =>
      fetch(`${b.url}${path}`, { headers: { authorization: `Bearer ${B_KEY}` } }).then(async (r) => {
        expect(r.status, path).toBe(200);
        return (await r.json()) as T;
      });
    const bRunning = async () => (await bGet<{ running: Array<{ model: string }> }>('/running')).running.map((r) => r.model);

    // B wants its key: a client of B without it gets nowhere.
    expect((await post(b.url, ask('b1'))).status).toBe(401);

    // A's own model first: it must still be this very process at the end.
    expect((await post(a.url, ask('local'))).status).toBe(200);
    const localPid = upstreamPid(a.run, 'local');
    expect(localPid).not.toBeNull();

    // b/b1 through A: B starts b1; the key A sends replaced the client's, the filters applied.
    const first = await post(a.url, ask('b/b1', { echo: true, temperature: 0.5, max_tokens: 100 }), { authorization: 'Bearer client-token' });
    const firstBody = await first.text();
    expect(first.status, firstBody).toBe(200);
    const echoed = JSON.parse(firstBody) as Echoed;
    expect(echoed.model).toBe('b1');
    expect(echoed.echo.headers['authorization']).toBe(`Bearer ${B_KEY}`);
    expect(echoed.echo.headers['x-api-key']).toBe(B_KEY);
    expect(JSON.parse(echoed.echo.body)).toEqual({ model: 'b1', messages: [{ role: 'user', content: 'hi' }], echo: true, max_tokens: 3 });
    expect(await bRunning()).toEqual(['b1']);

    // b/b2: B swaps inside its own group, as for any client.
    const second = await post(a.url, ask('b/b2'));
    expect(second.status, await second.text()).toBe(200);
    expect(await bRunning()).toEqual(['b2']);
    expect(await runningIds(a.url)).toEqual(['local']);

    // A slow stream from b/b1 (B swaps back): A's /api/state shows it as forwarded meanwhile.
    // A's filter caps max_tokens at 3, so the stream is 3 chunks: slow ones (the first comes
    // at once, the end after 10 s), to be in flight for every look below.
    const ac = new AbortController();
    const stream = await post(a.url, ask('b/b1', { stream: true, chunk_delay_ms: 5_000 }), {}, ac.signal);
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toMatch(/^data: /);
    const during = await getJson<ApiState>(`${a.url}/api/state`);
    expect(during.forwarded).toEqual([expect.objectContaining({ peer: 'b', requested: 'b/b1', model: 'b1', path: '/v1/chat/completions' })]);
    expect(during.peers['b']).toMatchObject({ inFlight: 1, forwarded: 3, failed: 0 });
    expect(during.processes).toEqual([expect.objectContaining({ model: 'local', state: 'ready' })]);
    expect(await bRunning()).toEqual(['b1']);
    // B sees a request of its own for b1, in flight (its scheduler counts it).
    const bState = await bGet<ApiState>('/api/state');
    expect(bState.processes.find((p) => p.model === 'b1')?.inFlight).toBe(1);
    ac.abort();
    await until(async () => (await getJson<ApiState>(`${a.url}/api/state`)).forwarded.length === 0, "A's forward to end");
    // The abort went through A to B and on to B's model.
    await printed(b.run, 'b1 client closed stream after');
    await until(async () => (await bGet<ApiState>('/api/state')).processes.find((p) => p.model === 'b1')?.inFlight === 0, "B's request to end");

    // A lists B's models by FQN, and logged each forward.
    const listing = await getJson<{ data: Array<{ id: string; name?: string }> }>(`${a.url}/v1/models`);
    expect(listing.data.map((m) => [m.id, m.name])).toEqual([
      ['b/b1', 'b: b1'],
      ['b/b2', 'b: b2'],
      ['local', undefined],
    ]);
    await printed(a.run, '[DEBUG] peer: routing model b/b2 to peer b as b2');

    // Through all of it A's local model was never stopped or restarted.
    expect(upstreamPid(a.run, 'local')).toBe(localPid);
    const end = await getJson<ApiState>(`${a.url}/api/state`);
    expect(end.processes).toEqual([expect.objectContaining({ model: 'local', state: 'ready', starts: 1, restarts: 0 })]);
  });

  it('B down: A answers b/<model> with the 502 envelope and keeps serving its local model', async ({ expect, task }) => {
    const gone = `http://127.0.0.1:${await freePortPair()}`;
    const a = await startCli(
      task.id,
      `startPort: ${await freePortPair()}
models:
${demoModel('local')}peers:
  b:
    proxy: ${gone}
    models: [b1]
`,
    );
    const res = await post(a.url, ask('b/b1'));
    const body = (await res.json()) as { error: { message: string; code: string } };
    expect(res.status).toBe(502);
    expect(body.error.code).toBe('bad_gateway');
    expect(body.error.message).toMatch(/^peer proxy error: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    expect((await post(a.url, ask('local'))).status).toBe(200);
  });
});
