/**
 * Lifecycle wiring through the real server (reference 4.6-4.9, 2.9, 7.1, 3.8, 3.10):
 * concurrency limit, TTL and globalTTL, unload grace, preload, per-model logs, the access
 * log and the /upstream pass-through.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isAlive, until } from '../helpers/real-upstreams.ts';
import { chat, demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';

let srv: RunningServer | null = null;
afterEach(async () => {
  await srv?.stop();
  srv = null;
});

async function running(url: string): Promise<string[]> {
  const body = (await (await fetch(`${url}/running`)).json()) as { running: Array<{ model: string }> };
  return body.running.map((r) => r.model);
}

function pidOf(s: RunningServer, model: string): number {
  const pid = s.server.state().runtime.process(model)?.pid;
  if (!pid) throw new Error(`${model} has no pid`);
  return pid;
}

describe('lifecycle wiring', () => {
  it('concurrencyLimit: the request over the limit gets 429 with Retry-After: 1 at once', async () => {
    srv = await startServer(`models:\n${demoModel('a', 'concurrencyLimit: 1')}`);
    const slow = chat(srv.url, 'a', { delay_ms: 1_500 });
    await until(() => srv!.server.state().runtime.actor.getSnapshot().context.fifo.reserved['a'] === 1, 'the first request to be admitted');
    const over = await chat(srv.url, 'a');
    expect(over.status).toBe(429);
    expect(over.headers.get('retry-after')).toBe('1');
    expect(await over.json()).toEqual({
      src: 'swapstate',
      error: { message: 'Too many requests', type: 'rate_limit_error', param: null, code: 'concurrency_limit' },
    });
    expect((await slow).status).toBe(200);
    expect((await chat(srv.url, 'a')).status).toBe(200); // the slot came back
  });

  it('ttl: an idle model is unloaded after its TTL, and only once idle', async () => {
    srv = await startServer(`models:\n${demoModel('a', 'ttl: 1')}`);
    const started = Date.now();
    const res = await chat(srv.url, 'a', { delay_ms: 1_500 }); // busy longer than the TTL
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
    expect(await running(srv.url)).toEqual(['a']); // not unloaded while it was serving
    const pid = pidOf(srv, 'a');
    await until(async () => (await running(srv!.url)).length === 0, 'the TTL unload', 10_000);
    await until(() => !isAlive(pid), 'the process to be gone');
    expect(srv.logs.proxy.history()).toContain('a Unloading model, TTL of 1s reached');
  });

  it('globalTTL applies to models without their own ttl', async () => {
    srv = await startServer(`globalTTL: 1\nmodels:\n${demoModel('a')}${demoModel('b', 'ttl: 0')}`);
    expect(srv.server.config.models['a']!.ttl).toBe(1);
    expect(srv.server.config.models['b']!.ttl).toBe(0);
    expect((await chat(srv.url, 'a')).status).toBe(200);
    await until(async () => (await running(srv!.url)).length === 0, 'the globalTTL unload', 10_000);
  });

  it('unload: an upstream ignoring SIGTERM is SIGKILLed after its unloadTimeout', async () => {
    srv = await startServer(`models:\n${demoModel('a', 'unloadTimeout: 1', '--ignore-sigterm')}`);
    expect((await chat(srv.url, 'a')).status).toBe(200);
    const pid = pidOf(srv, 'a');
    const t0 = Date.now();
    const res = await fetch(`${srv.url}/api/models/unload/a`, { method: 'POST' });
    expect(await res.text()).toBe('OK');
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(1_000); // it waited for the grace...
    expect(took).toBeLessThan(8_000); // ...not for the 10 s default
    expect(isAlive(pid)).toBe(false);
    expect(srv.logs.hub.forModel('a').history()).toContain('ignoring SIGTERM');
  });

  it('hooks.on_startup.preload loads the listed models (aliases resolved) without a request', async () => {
    srv = await startServer(`hooks:\n  on_startup:\n    preload: [" first ", nope]\nmodels:\n${demoModel('a', 'aliases: [first]')}`);
    await until(() => srv!.logs.proxy.history().includes('preloaded a'), 'the preload');
    expect(await running(srv.url)).toEqual(['a']);
    expect(srv.logs.proxy.history()).not.toContain('nope');
  });

  it("upstream output lands in the model's log: /logs/stream/<model> history, live, and ?no-history", async () => {
    srv = await startServer(`models:\n${demoModel('a')}`);
    expect((await chat(srv.url, 'a')).status).toBe(200);
    const ac = new AbortController();
    const res = await fetch(`${srv.url}/logs/stream/a`, { signal: ac.signal });
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    const reader = res.body!.getReader();
    let text = '';
    const readUntil = async (needle: string) => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${needle}`);
        text += new TextDecoder().decode(value);
      }
    };
    await readUntil('listening on'); // history: the upstream's start-up line
    await chat(srv.url, 'a');
    await readUntil('POST /v1/chat/completions'); // live: the upstream logs each request
    ac.abort();

    const bare = new AbortController();
    const noHistory = await fetch(`${srv.url}/logs/stream/a?no-history`, { signal: bare.signal });
    const r2 = noHistory.body!.getReader();
    const first = r2.read();
    await chat(srv.url, 'a', { messages: [{ role: 'user', content: 'second' }] });
    const chunk = new TextDecoder().decode((await first).value);
    expect(chunk).not.toContain('listening on');
    bare.abort();

    const bad = await fetch(`${srv.url}/logs/stream/nope`);
    expect(bad.status).toBe(400);
  });

  it('the access log line has llama-swap\'s shape', async () => {
    srv = await startServer(`models:\n${demoModel('a')}`);
    await fetch(`${srv.url}/v1/models`, { headers: { 'user-agent': 'tester/1.0', 'x-forwarded-for': '10.1.2.3, 10.0.0.1' } });
    await until(() => srv!.logs.proxy.history().includes('tester/1.0'), 'the access log line');
    // swapstate: X-Forwarded-For counts only through a proxy `trustProxy` trusts (none by default).
    expect(srv.logs.proxy.history()).toMatch(
      /\[INFO\] Request 127\.0\.0\.1 "GET \/v1\/models HTTP\/1\.1" 200 \d+ "tester\/1\.0" [\d.]+(ms|µs|s)\n/,
    );
  });

  it('/upstream/<model>/...: redirect, pass-through through the scheduler, ignorePaths, unknown model', async () => {
    srv = await startServer(`models:\n${demoModel('a', 'aliases: [al]')}`);
    const redirect = await fetch(`${srv.url}/upstream/a?x=1`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/upstream/a/?x=1');
    const post = await fetch(`${srv.url}/upstream/a`, { method: 'POST', redirect: 'manual' });
    expect(post.status).toBe(308);

    // Not loaded and the path matches the default ignorePaths: 409, no swap.
    const ignored = await fetch(`${srv.url}/upstream/a/favicon.ico`);
    expect(ignored.status).toBe(409);
    expect(await running(srv.url)).toEqual([]);

    // A normal path starts the model and is forwarded without the prefix.
    const health = await fetch(`${srv.url}/upstream/al/health`);
    expect(health.status).toBe(200);
    expect(await running(srv.url)).toEqual(['a']);
    expect(srv.logs.hub.forModel('a').history()).toContain('GET /health');

    const unknown = await fetch(`${srv.url}/upstream/nope/x`);
    expect(unknown.status).toBe(404);
    // llama-swap's text, then the path's first segment and what exists.
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toBe(
      'model not found: "nope"; available models are a, al',
    );
  });
});
