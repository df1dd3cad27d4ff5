/**
 * Error responses (reference 3.5) through real HTTP: the envelope's exact shape for 404,
 * 401, 429 and 500, its text and HTML renderings, failing starts of real processes, and
 * upstream errors passed through verbatim.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoModel } from '../helpers/server-harness.ts';
import {
  chat,
  countLine,
  expect404,
  expectEnvelope,
  postJson,
  sharedGroup,
  startOnFreePorts,
  waitForLine,
  type RunningServer,
} from './helpers.ts';

const KEY = 'errors-test-key';
const AUTH = { authorization: `Bearer ${KEY}` };

let srv: RunningServer;
let url: string;

beforeAll(async () => {
  srv = await startOnFreePorts(`apiKeys: [${KEY}]
${sharedGroup(['ok', 'crash', 'nocmd', 'limited'])}
models:
${demoModel('ok', '', '--load-delay 0')}
${demoModel('crash', '', '--crash-after 50 --load-delay 5000')}
  nocmd:
    cmd: /nonexistent/dir/llama-server --port \${PORT}
${demoModel('limited', 'concurrencyLimit: 1', '--load-delay 0')}
`);
  url = srv.url;
});

afterAll(async () => {
  await srv?.stop();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  postJson(`${url}${path}`, body, { ...AUTH, ...headers });

/** llama-swap's text, then the name asked for and the models there are, closest first. */
const UNKNOWN = 'no router for requested model "unknown-model": available models are nocmd, limited, ok, crash';

interface Envelope {
  src: string;
  error: { message: string; type: string; param: null; code: string };
}

describe('the JSON envelope', () => {
  it('404: no model', async () => {
    await expect404(await post('/v1/chat/completions', { messages: [] }), 'no model id could be identified: the JSON body has no "model" field');
  });

  it('404: unknown model', async () => {
    await expect404(await post('/v1/chat/completions', chat('unknown-model')), UNKNOWN);
  });

  it('401: missing key, with the Basic challenge', async () => {
    const res = await postJson(`${url}/v1/chat/completions`, chat('ok'));
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="swapstate"');
    await expectEnvelope(res, 401, 'unauthorized: invalid or missing API key', 'authentication_error', 'unauthorized');
  });

  it('429: the concurrency limit, with Retry-After: 1', async () => {
    const line = 'limited POST /v1/chat/completions';
    const before = countLine(srv, 'limited', line);
    const ac = new AbortController();
    // Holds the only slot: the demo upstream answers after delay_ms (or when we hang up).
    const held = fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify(chat('limited', 'hold', { delay_ms: 30_000 })),
      signal: ac.signal,
    }).then(
      (r) => `answered ${r.status}`,
      () => 'aborted',
    );
    try {
      await waitForLine(srv, 'limited', line, before);
      const res = await post('/v1/chat/completions', chat('limited'));
      expect(res.headers.get('retry-after')).toBe('1');
      await expectEnvelope(res, 429, 'Too many requests', 'rate_limit_error', 'concurrency_limit');
    } finally {
      ac.abort();
    }
    expect(await held).toBe('aborted');
  });

  it('500: a command that exits while loading', async () => {
    // llama-swap's text first, then how it ended and its last stderr line.
    const message = 'unspecific error: upstream command exited prematurely (exit code 1): crash crashing on purpose (--crash-after 50)';
    const res = await post('/v1/chat/completions', chat('crash'));
    await expectEnvelope(res, 500, message, 'server_error', 'internal_error');
    // The failure is not sticky: the next request tries again and fails the same way.
    await expectEnvelope(await post('/v1/chat/completions', chat('crash')), 500, message, 'server_error', 'internal_error');
  });

  it('500: a command that cannot be started', async () => {
    const res = await post('/v1/chat/completions', chat('nocmd'));
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as Envelope;
    expect(Object.keys(body)).toEqual(['src', 'error']);
    expect(Object.keys(body.error)).toEqual(['message', 'type', 'param', 'code']);
    expect(body.src).toBe('swapstate');
    expect(body.error.message).toMatch(/^unspecific error: failed to start command '\/nonexistent\/dir\/llama-server --port \d+'/);
    expect(body.error).toMatchObject({ type: 'server_error', param: null, code: 'internal_error' });
  });
});

describe('renderings by Accept', () => {
  it('text/plain: "swapstate: <message>"', async () => {
    const res = await post('/v1/chat/completions', chat('unknown-model'), { accept: 'text/plain' });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(await res.text()).toBe(`swapstate: ${UNKNOWN}`);
  });

  it('text/html: a minimal page', async () => {
    const res = await post('/v1/chat/completions', { messages: [] }, { accept: 'text/html,application/xhtml+xml' });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('text/html');
    expect(await res.text()).toBe(
      '<html><body><h1>swapstate</h1><p>no model id could be identified: the JSON body has no &#34;model&#34; field</p></body></html>',
    );
  });

  it('text/plain wins over text/html', async () => {
    const res = await post('/v1/chat/completions', chat('unknown-model'), { accept: 'text/html, text/plain;q=0.1' });
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(await res.text()).toBe(`swapstate: ${UNKNOWN}`);
  });

  it('401 as text keeps its challenge', async () => {
    const res = await fetch(`${url}/running`, { headers: { accept: 'text/plain' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="swapstate"');
    expect(await res.text()).toBe('swapstate: unauthorized: invalid or missing API key');
  });

  it('the HTML rendering escapes the message', async () => {
    const res = await post('/v1/chat/completions', chat('nocmd'), { accept: 'text/html' });
    expect(res.status).toBe(500);
    const html = await res.text();
    expect(html).toMatch(
      /^<html><body><h1>swapstate<\/h1><p>unspecific error: failed to start command &#39;\/nonexistent\/dir\/llama-server --port \d+&#39;: .*<\/p><\/body><\/html>$/,
    );
    expect(html.slice('<html><body><h1>swapstate</h1><p>'.length)).not.toContain("'");
  });

  it('anything else gets JSON', async () => {
    const res = await post('/v1/chat/completions', chat('unknown-model'), { accept: 'application/xml' });
    await expect404(res, UNKNOWN);
  });
});

describe('upstream errors pass through verbatim', () => {
  it('an upstream 404 (route it does not know) keeps its status and body', async () => {
    const line = 'ok POST /v1/rerank';
    const before = countLine(srv, 'ok', line);
    const res = await post('/v1/rerank', { model: 'ok', query: 'q', documents: ['a'] });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.text()).toBe('{"error":{"code":404,"message":"no route for POST /v1/rerank","type":"not_found_error"}}');
    await waitForLine(srv, 'ok', line, before);
  });

  it('an upstream 400 keeps its status and body, whatever the client accepts', async () => {
    // An urlencoded body names the model for us, but is no JSON for the demo upstream.
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/x-www-form-urlencoded', accept: 'text/plain' },
      body: 'model=ok&messages=x',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as { src?: string; error: { code: number; message: string; type: string } };
    expect(body.src).toBeUndefined();
    expect(body.error.code).toBe(400);
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toMatch(/^invalid JSON body: /);
  });

  it('a successful answer after all that: the server is fine', async () => {
    const res = await post('/v1/chat/completions', chat('ok', 'still here'));
    expect(res.status).toBe(200);
  });
});
