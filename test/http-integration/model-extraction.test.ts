/**
 * Which model a request names and where it is forwarded (reference 3.2-3.4), through real
 * HTTP to real upstream processes: the demo upstream (`m1`, which logs every request it
 * gets) and the echo upstream (`echo`, which answers with what it received).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoModel } from '../helpers/server-harness.ts';
import {
  chat,
  countLine,
  echoModel,
  echoOf,
  expect404,
  expect404Matching,
  postJson,
  sharedGroup,
  startOnFreePorts,
  waitForLine,
  type RunningServer,
} from './helpers.ts';

let srv: RunningServer;
let url: string;

beforeAll(async () => {
  srv = await startOnFreePorts(`${sharedGroup(['m1', 'echo'])}
models:
${demoModel('m1', 'aliases:\n  - m1-alias', '--load-delay 0')}
${echoModel('echo', 'aliases:\n  - echo-alias')}
`);
  url = srv.url;
});

afterAll(async () => {
  await srv?.stop();
});

/** Sends a request and waits until m1 logged `line` once more. */
async function viaM1(line: string, send: () => Promise<Response>): Promise<Response> {
  const before = countLine(srv, 'm1', line);
  const res = await send();
  await waitForLine(srv, 'm1', line, before);
  return res;
}

function multipart(fields: Record<string, string>, file = true): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  if (file) form.append('file', new Blob([new Uint8Array([0, 1, 2, 255, 13, 10, 45, 45])], { type: 'audio/wav' }), 'a.wav');
  return form;
}

describe('JSON bodies', () => {
  it('the top-level model of a JSON body picks the upstream', async () => {
    const res = await viaM1('m1 POST /v1/chat/completions', () => postJson(`${url}/v1/chat/completions`, chat('m1', 'hi there')));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { model: string; choices: Array<{ message: { content: string } }> };
    expect(body.model).toBe('m1');
    expect(body.choices[0]?.message.content).toBe('Hello from m1. You said: hi there');
  });

  it('a Content-Type that merely contains application/json counts as JSON', async () => {
    const res = await postJson(`${url}/v1/embeddings`, { model: 'm1', input: 'x' }, { 'content-type': 'application/json; charset=utf-8' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe('m1');
  });

  it('JSON sent without a JSON Content-Type (curl -d) names no model: 404', async () => {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: JSON.stringify(chat('m1')),
    });
    // llama-swap's text, then what to do about it.
    await expect404(
      res,
      'no model id could be identified: the body looks like JSON, but its Content-Type is application/x-www-form-urlencoded ' +
        '(what curl -d sends): send the header "Content-Type: application/json"',
    );
  });

  it('the query model is ignored for JSON bodies', async () => {
    const res = await postJson(`${url}/v1/chat/completions?model=m1`, { messages: [] });
    await expect404(res, 'no model id could be identified: the JSON body has no "model" field');
  });

  it.each([
    ['missing', { messages: [] }, 'the JSON body has no "model" field'],
    ['empty', { model: '', messages: [] }, 'the JSON body\'s "model" field is empty'],
    ['null', { model: null, messages: [] }, 'the JSON body\'s "model" field is null'],
  ])('a %s model is 404 "no model id could be identified", saying so', async (_what, body, why) => {
    await expect404(await postJson(`${url}/v1/chat/completions`, body), `no model id could be identified: ${why}`);
  });

  it('an empty body and invalid JSON name no model, saying so (with the parser\'s position)', async () => {
    await expect404(
      await postJson(`${url}/v1/chat/completions`, ''),
      'no model id could be identified: the body is empty: send a JSON object with a "model" field',
    );
    await expect404Matching(
      await postJson(`${url}/v1/chat/completions`, '{"model":"m1",'),
      /^no model id could be identified: the body is not valid JSON \(.*\bposition 14\b.*\)$/,
    );
  });

  it('an unknown model is 404 "no router for requested model", naming it and what exists', async () => {
    await expect404(
      await postJson(`${url}/v1/chat/completions`, chat('nope')),
      'no router for requested model "nope": available models are echo, m1, m1-alias, echo-alias',
    );
    // Non-string models are stringified, so they are looked up (and not found) too.
    await expect404(
      await postJson(`${url}/v1/chat/completions`, chat(42)),
      'no router for requested model "42": available models are m1, echo, m1-alias, echo-alias',
    );
    // Closest first: an alias one letter off leads.
    await expect404(
      await postJson(`${url}/v1/chat/completions`, chat('echo-alia')),
      'no router for requested model "echo-alia": available models are echo-alias, echo, m1-alias, m1',
    );
  });

  it('an alias is served by its model, and the body keeps the alias', async () => {
    const res = await viaM1('m1 POST /v1/chat/completions', () => postJson(`${url}/v1/chat/completions`, chat('m1-alias', 'via alias')));
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { model: string; choices: Array<{ message: { content: string } }> };
    expect(answer.model).toBe('m1'); // the demo upstream answers with its own id
    expect(answer.choices[0]?.message.content).toBe('Hello from m1. You said: via alias');

    // The echo upstream shows the forwarded body: not rewritten from alias to id.
    const sent = JSON.stringify(chat('echo-alias', 'x'));
    const echo = await echoOf(await postJson(`${url}/v1/chat/completions`, sent));
    expect(echo.id).toBe('echo');
    expect(echo.body).toBe(sent);
  });
});

describe('form bodies', () => {
  it('an urlencoded body names the model in its `model` field, forwarded as is', async () => {
    const body = 'model=echo&prompt=a+b%26c';
    const echo = await echoOf(
      await fetch(`${url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      }),
    );
    expect(echo.url).toBe('/v1/completions');
    expect(echo.body).toBe(body);
  });

  it('an urlencoded body without a model falls back to the query', async () => {
    const echo = await echoOf(
      await fetch(`${url}/v1/completions?model=echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'prompt=x',
      }),
    );
    expect(echo.url).toBe('/v1/completions?model=echo');
  });

  it('multipart: the `model` form field picks the upstream, which gets the whole request', async () => {
    const res = await viaM1('m1 POST /v1/audio/transcriptions', () =>
      fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', body: multipart({ model: 'm1', language: 'en' }) }),
    );
    // The demo upstream has no such route: its own 404 comes back verbatim.
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: { code: 404, message: 'no route for POST /v1/audio/transcriptions', type: 'not_found_error' },
    });
  });

  it('multipart: the file part arrives intact', async () => {
    const form = multipart({ model: 'echo' });
    const echo = await echoOf(await fetch(`${url}/v1/images/edits`, { method: 'POST', body: form }));
    expect(echo.url).toBe('/v1/images/edits');
    expect(String(echo.headers['content-type'])).toMatch(/^multipart\/form-data; boundary=/);
    const raw = Buffer.from(echo.bodyBase64, 'base64');
    expect(raw.includes(Buffer.from([0, 1, 2, 255, 13, 10, 45, 45]))).toBe(true);
    expect(raw.toString('latin1')).toContain('name="model"\r\n\r\necho\r\n');
    expect(Number(echo.headers['content-length'])).toBe(raw.length);
  });

  it('multipart: a model in the query works too (FormValue reads both)', async () => {
    const res = await viaM1('m1 POST /v1/audio/transcriptions', () =>
      fetch(`${url}/v1/audio/transcriptions?model=m1`, { method: 'POST', body: multipart({}) }),
    );
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe('no route for POST /v1/audio/transcriptions');
  });

  it('multipart without a model is 404 "no model id could be identified"', async () => {
    const res = await fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', body: multipart({ language: 'en' }) });
    await expect404(res, 'no model id could be identified: the multipart form has no "model" field (and the query no ?model=)');
  });
});

describe('GET routes take the model from the query', () => {
  it.each(['/props', '/v1/audio/voices', '/sdapi/v1/loras'])('GET %s?model=m1 reaches m1', async (path) => {
    const res = await viaM1(`m1 GET ${path}`, () => fetch(`${url}${path}?model=m1`));
    expect(res.status).toBe(404); // the demo upstream's own answer
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(`no route for GET ${path}`);
  });

  it('GET /props via an alias, query forwarded unchanged', async () => {
    const echo = await echoOf(await fetch(`${url}/props?model=echo-alias&x=%2Fa%20b&x=2`));
    expect(echo.method).toBe('GET');
    expect(echo.url).toBe('/props?model=echo-alias&x=%2Fa%20b&x=2');
  });

  it('POST /v1/audio/voices takes the model from the body', async () => {
    const echo = await echoOf(await postJson(`${url}/v1/audio/voices`, { model: 'echo' }));
    expect(echo.method).toBe('POST');
    expect(echo.url).toBe('/v1/audio/voices');
  });

  it.each([
    ['/props', 'a GET request names its model in the query string: add ?model= with a model id or alias'],
    ['/props?model=', 'the "model" query parameter is empty'],
    ['/v1/audio/voices?other=1', 'a GET request names its model in the query string: add ?model= with a model id or alias'],
  ])('GET %s names no model: 404, saying why', async (path, why) => {
    await expect404(await fetch(`${url}${path}`), `no model id could be identified: ${why}`);
  });

  it('GET with an unknown model: 404 "no router for requested model", naming it', async () => {
    await expect404(
      await fetch(`${url}/props?model=nope`),
      'no router for requested model "nope": available models are echo, m1, m1-alias, echo-alias',
    );
  });
});

describe('forwarded paths', () => {
  it('versionless /v/chat/completions is forwarded as /chat/completions', async () => {
    const res = await viaM1('m1 POST /chat/completions', () => postJson(`${url}/v/chat/completions`, chat('m1')));
    expect(res.status).toBe(404); // the demo upstream only knows /v1/...
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe('no route for POST /chat/completions');
  });

  it.each([
    ['/v/embeddings', '/embeddings'],
    ['/v/messages/count_tokens', '/messages/count_tokens'],
    ['/v/rerank', '/rerank'],
    ['/audioapi/v1/tasks/run', '/v1/tasks/run'],
    ['/v1/messages', '/v1/messages'],
  ])('%s is forwarded as %s', async (path, upstreamPath) => {
    const echo = await echoOf(await postJson(`${url}${path}`, { model: 'echo' }));
    expect(echo.url).toBe(upstreamPath);
  });

  it('/audioapi/v1/tasks/run reaches the demo upstream as /v1/tasks/run', async () => {
    const res = await viaM1('m1 POST /v1/tasks/run', () => postJson(`${url}/audioapi/v1/tasks/run`, { model: 'm1' }));
    expect(res.status).toBe(404);
  });

  it('query strings are forwarded unchanged', async () => {
    const q = '?a=1&b=x%20y&a=2&empty=&flag&enc=%E2%9C%93';
    expect((await echoOf(await postJson(`${url}/v1/chat/completions${q}`, chat('echo')))).url).toBe(`/v1/chat/completions${q}`);
    expect((await echoOf(await postJson(`${url}/v/completions${q}`, { model: 'echo' }))).url).toBe(`/completions${q}`);
    expect((await echoOf(await postJson(`${url}/audioapi/v1/tasks/run${q}`, { model: 'echo' }))).url).toBe(`/v1/tasks/run${q}`);
  });

  it('the upstream sees the client headers and X-Forwarded-For', async () => {
    const echo = await echoOf(await postJson(`${url}/v1/chat/completions`, chat('echo'), { 'x-custom': 'kept' }));
    expect(echo.headers['x-custom']).toBe('kept');
    expect(echo.headers['x-forwarded-for']).toBe('127.0.0.1');
  });
});

describe('exact paths and methods', () => {
  it.each(['/v1/chat/completions/', '/V1/chat/completions', '/v1/chat/completions/extra', '/v2/chat/completions'])(
    'POST %s is Go mux 404 plain text, not the envelope',
    async (path) => {
      const before = countLine(srv, 'm1', `m1 POST ${path}`);
      const res = await postJson(`${url}${path}`, chat('m1'));
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await res.text()).toBe('404 page not found');
      expect(countLine(srv, 'm1', `m1 POST ${path}`)).toBe(before);
    },
  );

  it('GET on a POST-only model route is 405 with Allow', async () => {
    const res = await fetch(`${url}/v1/chat/completions?model=m1`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(await res.text()).toBe('Method Not Allowed');
  });

  it('POST on a GET-only model route is 405; Allow lists GET and HEAD', async () => {
    const res = await postJson(`${url}/props`, { model: 'm1' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
  });

  it('/v1/audio/voices answers both GET and POST', async () => {
    const res = await fetch(`${url}/v1/audio/voices`, { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')?.split(', ').sort()).toEqual(['GET', 'HEAD', 'POST']);
  });
});
