/**
 * API keys (reference 3.13) and CORS (3.15) through real HTTP, with real upstreams behind
 * the protected routes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoModel } from '../helpers/server-harness.ts';
import {
  chat,
  echoModel,
  echoOf,
  expectEnvelope,
  postJson,
  sharedGroup,
  startOnFreePorts,
  type RunningServer,
} from './helpers.ts';

const K1 = 'k1-Alpha-s3cret';
const K2 = 'k2-Beta:s3cret'; // a colon: Basic takes everything after the first one
const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString('base64')}`;
const AUTH = { authorization: `Bearer ${K1}` };

let srv: RunningServer;
let url: string;

beforeAll(async () => {
  srv = await startOnFreePorts(`apiKeys: [${K1}, "${K2}"]
logLevel: debug
logToStdout: both
${sharedGroup(['m', 'echo'])}
models:
${demoModel('m', '', '--load-delay 0')}
${echoModel('echo')}
`);
  url = srv.url;
});

afterAll(async () => {
  await srv?.stop();
});

async function expect401(res: Response): Promise<void> {
  expect(res.headers.get('www-authenticate')).toBe('Basic realm="swapstate"');
  await expectEnvelope(res, 401, 'unauthorized: invalid or missing API key', 'authentication_error', 'unauthorized');
}

async function runningModels(): Promise<string[]> {
  const res = await fetch(`${url}/running`, { headers: AUTH });
  expect(res.status).toBe(200);
  return ((await res.json()) as { running: Array<{ model: string }> }).running.map((r) => r.model);
}

const PROTECTED: Array<[string, string, unknown?]> = [
  ['GET', '/v1/models'],
  ['GET', '/models'],
  ['GET', '/running'],
  ['GET', '/logs'],
  ['GET', '/logs/stream'],
  ['GET', '/logs/stream/m'],
  ['GET', '/unload'],
  ['POST', '/api/models/unload'],
  ['POST', '/api/models/unload/m'],
  ['GET', '/upstream/echo/health'],
  ['POST', '/upstream/echo/v1/chat/completions', chat('echo')],
  ['POST', '/v1/chat/completions', chat('m')],
  ['POST', '/v1/embeddings', { model: 'nope', input: 'x' }],
  ['GET', '/props?model=m'],
];

function send(method: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: 'manual',
  });
}

describe('API keys', () => {
  it.each(PROTECTED)('%s %s needs a key', async (method, path, body) => {
    await expect401(await send(method, path, body));
  });

  it('refused requests started nothing', async () => {
    expect(await runningModels()).toEqual([]);
  });

  it.each([
    ['Bearer', { authorization: `Bearer ${K1}` }],
    ['bearer (scheme in any case)', { authorization: `bearer ${K2}` }],
    ['BEARER', { authorization: `BEARER ${K1}` }],
    ['Basic: the password is the key', { authorization: basic(`user:${K2}`) }],
    ['Basic with an empty user', { authorization: basic(`:${K1}`) }],
    ['basic (scheme in any case)', { authorization: basic(`x:${K1}`).replace('Basic', 'basic') }],
    ['Basic: a password containing a colon', { authorization: basic(`u:${K2}`) }],
    ['x-api-key', { 'x-api-key': K2 }],
  ])('accepts %s', async (_what, headers) => {
    const res = await fetch(`${url}/v1/models`, { headers });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { object: string }).object).toBe('list');
  });

  it.each([
    ['a wrong Bearer key', { authorization: 'Bearer nope' }],
    ['a key with a suffix', { authorization: `Bearer ${K1}x` }],
    ['a key in another case', { authorization: `Bearer ${K1.toUpperCase()}` }],
    ['the key as the Basic user', { authorization: basic(`${K1}:`) }],
    ['Basic with the key not base64-encoded', { authorization: `Basic ${K1}` }],
    ['no scheme', { authorization: K1 }],
    ['an unknown scheme', { authorization: `Token ${K1}` }],
    ['a wrong x-api-key', { 'x-api-key': 'nope' }],
    ['Basic before x-api-key', { authorization: basic('u:nope'), 'x-api-key': K1 }],
    ['Bearer before x-api-key', { authorization: 'Bearer nope', 'x-api-key': K1 }],
  ])('refuses %s', async (_what, headers) => {
    await expect401(await fetch(`${url}/v1/models`, { headers }));
  });

  it('public routes need no key', async () => {
    for (const path of ['/health', '/wol-health']) {
      const res = await fetch(`${url}${path}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('OK');
    }
    const root = await fetch(`${url}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/ui');
    const upstream = await fetch(`${url}/upstream`, { redirect: 'manual' });
    expect(upstream.status).toBe(302);
    expect(upstream.headers.get('location')).toBe('/ui/models');
  });

  it('model requests with a key reach the upstream', async () => {
    const res = await postJson(`${url}/v1/chat/completions`, chat('m', 'with key'), { 'x-api-key': K2 });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message.content).toBe(
      'Hello from m. You said: with key',
    );
  });

  it('the client Authorization header is forwarded to the upstream unchanged', async () => {
    const auth = `bearer ${K2}`;
    const echo = await echoOf(await postJson(`${url}/v1/chat/completions`, chat('echo'), { authorization: auth }));
    expect(echo.headers['authorization']).toBe(auth);
    const viaBasic = await echoOf(await postJson(`${url}/v1/chat/completions`, chat('echo'), { authorization: basic(`me:${K1}`) }));
    expect(viaBasic.headers['authorization']).toBe(basic(`me:${K1}`));
  });

  it('/upstream/... with a key reaches the upstream', async () => {
    const echo = await echoOf(await fetch(`${url}/upstream/echo/some/path?q=1`, { headers: AUTH }));
    expect(echo.url).toBe('/some/path?q=1');
  });

  it('management and log routes work with a key', async () => {
    expect((await fetch(`${url}/logs`, { headers: AUTH })).status).toBe(200);
    expect((await fetch(`${url}/running`, { headers: { 'x-api-key': K1 } })).status).toBe(200);
    const unload = await fetch(`${url}/api/models/unload`, { method: 'POST', headers: { authorization: basic(`a:${K2}`) } });
    expect(await unload.text()).toBe('{"msg":"ok"}');
    expect(await runningModels()).toEqual([]);
  });
});

describe('unmatched requests answer before auth, as in Go\'s mux', () => {
  it('an unknown path without a key is the plain 404, not 401', async () => {
    const res = await fetch(`${url}/no/such/route`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('404 page not found');
  });

  it('a wrong method on a known path without a key is the plain 405 with Allow', async () => {
    const res = await fetch(`${url}/v1/chat/completions`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });
});

describe('CORS', () => {
  const DEFAULT_HEADERS = 'Content-Type, Authorization, Accept, X-Requested-With';

  async function preflight(path: string, headers: Record<string, string> = {}): Promise<Response> {
    const res = await fetch(`${url}${path}`, { method: 'OPTIONS', headers });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, POST, PUT, PATCH, DELETE, OPTIONS');
    expect(res.headers.get('access-control-max-age')).toBe('86400');
    expect(res.headers.get('www-authenticate')).toBeNull();
    return res;
  }

  it.each(['/v1/chat/completions', '/v1/models', '/running', '/upstream/echo/x', '/no/such/path', '/', '/health'])(
    'OPTIONS %s: 204 without a key, default allowed headers',
    async (path) => {
      const res = await preflight(path, { origin: 'http://site.example', 'access-control-request-method': 'POST' });
      expect(res.headers.get('access-control-allow-headers')).toBe(DEFAULT_HEADERS);
    },
  );

  it('a preflight with a wrong key is answered all the same', async () => {
    await preflight('/v1/chat/completions', { authorization: 'Bearer wrong' });
  });

  it('a preflight never starts a model', async () => {
    await preflight('/upstream/m/health');
    expect(await runningModels()).toEqual([]);
  });

  it.each([
    ['X-Custom, content-type,authorization', 'X-Custom, content-type, authorization'],
    ['x-ok, bad header, x-two', 'x-ok, x-two'],
    ['x-a,,  ,x-b', 'x-a, x-b'],
    ['x-ok, a"b, c(d), e:f, x-last', 'x-ok, x-last'],
    ["x-tok!#$%&'*+.^_`|~", "x-tok!#$%&'*+.^_`|~"],
  ])('echoes sanitised Access-Control-Request-Headers %j as %j', async (requested, allowed) => {
    const res = await preflight('/v1/chat/completions', { 'access-control-request-headers': requested });
    expect(res.headers.get('access-control-allow-headers')).toBe(allowed);
  });

  it('other responses get no CORS headers from swapstate', async () => {
    const origin = 'http://site.example';
    const health = await fetch(`${url}/health`, { headers: { origin } });
    expect(health.headers.get('access-control-allow-origin')).toBeNull();
    const chatRes = await postJson(`${url}/v1/chat/completions`, chat('m'), { ...AUTH, origin });
    expect(chatRes.status).toBe(200);
    expect(chatRes.headers.get('access-control-allow-origin')).toBeNull();
    expect(chatRes.headers.get('access-control-allow-methods')).toBeNull();
    const refused = await fetch(`${url}/running`, { headers: { origin } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    // The listing echoes the Origin (with a key).
    const list = await fetch(`${url}/v1/models`, { headers: { ...AUTH, origin } });
    expect(list.headers.get('access-control-allow-origin')).toBe(origin);
  });
});

describe('keys never reach the logs', () => {
  it('neither swapstate logs nor /logs contain a key, in any encoding', async () => {
    // Make sure every kind of log line was produced with keys on the wire.
    await postJson(`${url}/v1/chat/completions`, chat('m'), { authorization: basic(`user:${K1}`) });
    await postJson(`${url}/v1/chat/completions`, chat('nope'), { 'x-api-key': K2 });
    await fetch(`${url}/running`, { headers: { authorization: `Bearer ${K2}x` } });
    await fetch(`${url}/upstream/echo/x`, { headers: { authorization: `Bearer ${K1}` } });
    const logsRes = await fetch(`${url}/logs`, { headers: AUTH });
    const served = await logsRes.text();
    const texts = [
      srv.logs.proxy.history(),
      srv.logs.mux.history(),
      srv.logs.hub.upstream.history(),
      srv.logs.hub.forModel('m').history(),
      srv.logs.hub.forModel('echo').history(),
      served,
    ];
    // Something was logged, access lines included...
    expect(srv.logs.proxy.history()).toContain('"POST /v1/chat/completions HTTP/1.1" 200');
    expect(srv.logs.proxy.history()).toContain('"GET /running HTTP/1.1" 401');
    expect(served).toContain('"GET /upstream/echo/x HTTP/1.1" 200');
    // ...but no key.
    const secrets = [K1, K2, basic(`user:${K1}`).slice(6), Buffer.from(K1).toString('base64'), Buffer.from(K2).toString('base64')];
    for (const text of texts) for (const secret of secrets) expect(text).not.toContain(secret);
  });
});
