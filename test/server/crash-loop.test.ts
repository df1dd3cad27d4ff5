/**
 * Crash-loop protection through the real server: a model whose server keeps dying at start
 * is backed off, and clients are told so (503 + Retry-After) instead of each paying for a
 * doomed start.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../helpers/real-upstreams.ts';
import { demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';

let srv: RunningServer | null = null;
afterEach(async () => {
  await srv?.stop();
  srv = null;
});

function chat(url: string, model: string) {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
}

describe('crash-loop protection', () => {
  it('after 3 failed starts: 503 with Retry-After and the last error, shown in /running and /v1/models; retried after the backoff', async () => {
    // Separate non-exclusive groups: x's starts evict nothing (an eviction would earn it one retry).
    srv = await startServer(
      `models:\n${demoModel('x', '', '--crash-after 30 --load-delay 10000')}${demoModel('ok')}` +
        `groups:\n  gx: { exclusive: false, members: [x] }\n  gok: { exclusive: false, members: [ok] }\n`,
    );
    // How the start failed, with the server's last stderr line: in the answer and, at warn
    // level, in swapstate's own log.
    const failure = 'upstream command exited prematurely (exit code 1): x crashing on purpose (--crash-after 30)';
    for (let i = 0; i < 3; i++) {
      const res = await chat(srv.url, 'x');
      expect(res.status).toBe(500);
      expect(((await res.json()) as { error: { message: string } }).error.message).toBe(`unspecific error: ${failure}`);
    }
    expect(srv.logs.proxy.history().split('\n').filter((l) => l.endsWith(`[WARN] x failed to start: ${failure}`))).toHaveLength(3);
    const refused = await chat(srv.url, 'x');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    const body = (await refused.json()) as { error: { message: string; code: string } };
    expect(body.error.code).toBe('model_backing_off');
    expect(body.error.message).toContain(`Last error: ${failure}`);
    expect(srv.server.state().runtime.process('x')?.starts).toBe(3); // the refusal started nothing

    const running = (await (await fetch(`${srv.url}/running`)).json()) as { running: Array<Record<string, unknown>> };
    expect(running.running).toEqual([
      expect.objectContaining({ model: 'x', state: 'backoff', error: failure, retry_after_s: 1 }),
    ]);
    const models = (await (await fetch(`${srv.url}/v1/models`)).json()) as { data: Array<{ id: string; status: unknown }> };
    expect(models.data.find((m) => m.id === 'x')?.status).toEqual({
      value: 'unloaded',
      failed: true,
      error: failure,
      retry_after_s: 1,
    });

    // Other models are unaffected.
    expect((await chat(srv.url, 'ok')).status).toBe(200);

    // Once the backoff has passed, a request tries again (and fails again: backoff doubles).
    await until(() => srv!.server.state().runtime.process('x')?.state === 'stopped', 'the backoff to pass');
    const retry = await chat(srv.url, 'x');
    expect(retry.status, await retry.clone().text()).toBe(500);
    expect(srv.server.state().runtime.process('x')?.starts).toBe(4);
    const again = await chat(srv.url, 'x');
    expect(again.status).toBe(503);
    expect(again.headers.get('retry-after')).toBe('2');
  });
});
