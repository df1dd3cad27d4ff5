/**
 * Errors a newcomer can act on (issue 11), through real HTTP: an unknown model is named and
 * the closest models are offered; a request without a model says why; a start that failed
 * right after an eviction (and was retried once) says how long the client waited and why.
 * llama-swap's text always comes first, with its status.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoModel } from '../helpers/server-harness.ts';
import { chat, expect404, expectEnvelope, postJson, startOnFreePorts, type RunningServer } from './helpers.ts';

let srv: RunningServer;
let url: string;

/** A model that is never started (no request in this file names it). */
const idle = (id: string, extra = '') => `  ${id}:\n    cmd: never-started\n    proxy: http://127.0.0.1:9\n${extra}`;

beforeAll(async () => {
  // No groups: every model is in the default group, so loading one evicts the other.
  srv = await startOnFreePorts(`models:
${demoModel('ok', '', '--load-delay 0')}
${demoModel('crash', '', '--crash-after 30 --load-delay 10000')}
${idle('llama-3', '    aliases: [l3]\n')}
${idle('llama-3-8b')}
${idle('qwen')}
${idle('secret-model', '    unlisted: true\n    aliases: [hidden-alias]\n')}
${['m01', 'm02', 'm03', 'm04', 'm05', 'm06'].map((id) => idle(id)).join('')}
`);
  url = srv.url;
});

afterAll(async () => {
  await srv?.stop();
});

describe('an unknown model', () => {
  it('is named, with at most ten listed names, closest first (aliases too, unlisted models never)', async () => {
    const res = await postJson(`${url}/v1/chat/completions`, chat('lama-3'));
    await expect404(
      res,
      'no router for requested model "lama-3": available models are llama-3, l3, llama-3-8b, m03, crash, m01, m02, m04, m05, m06 ' +
        'and 2 more (GET /v1/models lists them all)',
    );
  });

  it('an unlisted model is served but never offered', async () => {
    const res = await postJson(`${url}/v1/chat/completions`, chat('secret-mode'));
    const { error } = (await res.json()) as { error: { message: string } };
    expect(res.status).toBe(404);
    expect(error.message).toMatch(/^no router for requested model "secret-mode": available models are /);
    expect(error.message).not.toMatch(/secret-model|hidden-alias/);
  });
});

describe('no model identified', () => {
  it('a POST without a Content-Type says which header to send', async () => {
    // undici adds text/plain for a string body; a Uint8Array body goes without one.
    const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', body: new TextEncoder().encode(JSON.stringify(chat('ok'))) });
    expect(res.headers.get('content-type')).toBe('application/json');
    await expect404(
      res,
      'no model id could be identified: the body is not read as JSON because the request has no Content-Type: ' +
        'send the header "Content-Type: application/json"',
    );
  });
});

describe('a start that fails right after an eviction', () => {
  it('is retried once, and the answer says so and how long the request waited', async () => {
    const loaded = await postJson(`${url}/v1/chat/completions`, chat('ok'));
    expect(loaded.status, await loaded.text()).toBe(200);
    const started = performance.now();
    const res = await postJson(`${url}/v1/chat/completions`, chat('crash')); // evicts ok, crashes, is retried, crashes
    const elapsed = (performance.now() - started) / 1000;
    const body = (await res.clone().json()) as { error: { message: string } };
    const m = /^unspecific error: upstream command exited prematurely \(exit code 1\): crash crashing on purpose \(--crash-after 30\) \(the request waited (\d+\.\d)s: the start was retried once after evicting ok\)$/.exec(
      body.error.message,
    );
    expect(m, body.error.message).not.toBeNull();
    // At least the 1 s retry delay, and no more than the client saw.
    const waited = Number(m![1]);
    expect(waited).toBeGreaterThanOrEqual(1.0);
    expect(waited).toBeLessThanOrEqual(elapsed + 0.1);
    await expectEnvelope(res, 500, body.error.message, 'server_error', 'internal_error');
    // Nothing was evicted this time: no retry, and the message is llama-swap's alone.
    const again = await postJson(`${url}/v1/chat/completions`, chat('crash'));
    await expectEnvelope(
      again,
      500,
      'unspecific error: upstream command exited prematurely (exit code 1): crash crashing on purpose (--crash-after 30)',
      'server_error',
      'internal_error',
    );
  });
});
