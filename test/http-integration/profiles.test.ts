/**
 * Profiles through real HTTP and real upstream processes (reference 2.7, 3.4, 3.6, 3.7, 3.8,
 * 3.11, 3.12): the two routes, the pin rewrite on every way a request names its model (the
 * echo upstream shows what was forwarded), `/upstream` pins, the listing, `/api/events`, and
 * no profile active after a reload. Ported from llama-swap's internal/server/profiles_test.go
 * where it has a case.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePortBlock } from '../helpers/real-upstreams.ts';
import { startServer } from '../helpers/server-harness.ts';
import { SseReader } from '../helpers/sse.ts';
import {
  chat,
  echoModel,
  echoOf,
  expect404,
  expect404Matching,
  expectEnvelope,
  postJson,
  sharedGroup,
  startOnFreePorts,
  until,
  type RunningServer,
} from './helpers.ts';

const PROFILES = `profiles:
  writing:
    pins:
      coder: a
  coding:
    description: Coding profile
    pins:
      coder: b
      fast: real-alias
      real: b
      a: ""
      org/public: real
      public: real-thinking
`;

const CONFIG = `${sharedGroup(['a', 'b', 'real'])}
models:
${echoModel('a')}
${echoModel('b')}
${echoModel('real', 'aliases: [real-alias]\nfilters:\n  setParamsByID:\n    real-thinking:\n      thinking: true')}
${PROFILES}`;

function putActive(url: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/api/profiles/active`, { method: 'PUT', headers: { 'content-type': 'application/json', ...headers }, body });
}

async function activate(url: string, name: string | null): Promise<void> {
  const res = await putActive(url, JSON.stringify({ name }));
  expect(res.status, await res.clone().text()).toBe(200);
  expect(await res.json()).toEqual({ active: name });
}

const chatTo = (url: string, model: string) => postJson(`${url}/v1/chat/completions`, chat(model));

interface Listed {
  id: string;
  meta?: { llamaswap: Record<string, unknown> };
  [key: string]: unknown;
}
async function listed(url: string): Promise<Listed[]> {
  return ((await (await fetch(`${url}/v1/models`)).json()) as { data: Listed[] }).data;
}

describe('profiles on one server', () => {
  let srv: RunningServer;
  let url: string;

  beforeAll(async () => {
    srv = await startOnFreePorts(CONFIG);
    url = srv.url;
  });
  afterAll(async () => {
    await srv?.stop();
  });
  beforeEach(async () => {
    await activate(url, null);
  });

  it('GET /api/profiles lists every profile by id, with pins, and none active at startup', async () => {
    const res = await fetch(`${url}/api/profiles`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      active: null,
      profiles: [
        { id: 'coding', description: 'Coding profile', pins: { a: '', coder: 'b', fast: 'real-alias', 'org/public': 'real', public: 'real-thinking', real: 'b' } },
        { id: 'writing', description: '', pins: { coder: 'a' } },
      ],
    });
    // Pins in Go's map order (sorted keys).
    expect(text).toContain('"pins":{"a":"","coder":"b","fast":"real-alias","org/public":"real","public":"real-thinking","real":"b"}');
  });

  it('a pin name is no model until its profile is active; then it is served by the target, which the body names', async () => {
    await expect404Matching(await chatTo(url, 'coder'), /^no router for requested model "coder"/);
    await activate(url, 'coding');
    expect(((await (await fetch(`${url}/api/profiles`)).json()) as { active: string }).active).toBe('coding');
    expect(srv.logs.proxy.history()).toContain('active profile changed to "coding"');

    const echo = await echoOf(await chatTo(url, 'coder'));
    expect(echo.id).toBe('b');
    expect(JSON.parse(echo.body)).toMatchObject({ model: 'b', messages: [{ role: 'user', content: 'hello' }] });
  });

  it('a pin may shadow a real model id, and target an alias (the body names the alias, as llama-swap leaves it)', async () => {
    await activate(url, 'coding');
    expect((await echoOf(await chatTo(url, 'real'))).id).toBe('b');
    const viaAlias = await echoOf(await chatTo(url, 'fast'));
    expect(viaAlias.id).toBe('real');
    expect(JSON.parse(viaAlias.body).model).toBe('real-alias');
  });

  it('filters see the target: a setParamsByID key as target gets its parameters (llama-swap JSONAndFilters)', async () => {
    await activate(url, 'coding');
    const echo = await echoOf(await chatTo(url, 'public'));
    expect(echo.id).toBe('real');
    expect(JSON.parse(echo.body)).toMatchObject({ model: 'real-thinking', thinking: true });
  });

  it('a pin with an empty target makes its id unavailable while the profile is active', async () => {
    expect((await echoOf(await chatTo(url, 'a'))).id).toBe('a');
    await activate(url, 'coding');
    await expect404(await chatTo(url, 'a'), 'no model id could be identified: "a" is disabled while profile "coding" is active');
    await activate(url, null);
    expect((await echoOf(await chatTo(url, 'a'))).id).toBe('a');
  });

  it('multipart: the form field is rewritten', async () => {
    await activate(url, 'coding');
    const form = new FormData();
    form.append('model', 'coder');
    form.append('file', new Blob([new Uint8Array([0, 1, 2, 255, 13, 10])], { type: 'audio/wav' }), 'a.wav');
    const echo = await echoOf(await fetch(`${url}/v1/audio/transcriptions`, { method: 'POST', body: form }));
    expect(echo.id).toBe('b');
    expect(echo.body).toMatch(/name="model"\r\n\r\nb\r\n/);
    expect(Buffer.from(echo.bodyBase64, 'base64').includes(Buffer.from([0, 1, 2, 255, 13, 10]))).toBe(true);
  });

  it('GET: the query is rewritten, other parameters forwarded as sent', async () => {
    await activate(url, 'coding');
    const echo = await echoOf(await fetch(`${url}/v1/audio/voices?lang=en%20GB&model=coder`));
    expect(echo.id).toBe('b');
    expect(echo.url).toBe('/v1/audio/voices?lang=en%20GB&model=b');
  });

  it('urlencoded: the form pair is rewritten', async () => {
    await activate(url, 'coding');
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'prompt=hi&model=coder',
    });
    const echo = await echoOf(res);
    expect(echo.id).toBe('b');
    expect(echo.body).toBe('prompt=hi&model=b');
  });

  it('switching profiles changes where a pin goes; "" deactivates', async () => {
    await activate(url, 'coding');
    expect((await echoOf(await chatTo(url, 'coder'))).id).toBe('b');
    await activate(url, 'writing');
    expect((await echoOf(await chatTo(url, 'coder'))).id).toBe('a');
    const off = await putActive(url, '{"name":""}');
    expect(await off.json()).toEqual({ active: null });
    await expect404Matching(await chatTo(url, 'coder'), /^no router for requested model "coder"/);
  });

  it('/upstream: the longest pin prefix of the path is replaced by its target', async () => {
    await expect404Matching(await fetch(`${url}/upstream/coder/x`), /^model not found: "coder"/);
    await activate(url, 'coding');
    const echo = await echoOf(await fetch(`${url}/upstream/coder/some/path?q=1`));
    expect(echo).toMatchObject({ id: 'b', url: '/some/path?q=1' });
    // The body is forwarded as sent (no rewrite on /upstream, as in llama-swap).
    const posted = await echoOf(await postJson(`${url}/upstream/coder/custom`, { model: 'coder' }));
    expect(posted).toMatchObject({ id: 'b', body: '{"model":"coder"}' });
    expect((await echoOf(await fetch(`${url}/upstream/org/public/x`))).id).toBe('real');
    const bare = await fetch(`${url}/upstream/coder`, { redirect: 'manual' });
    expect(bare.status).toBe(301);
    expect(bare.headers.get('location')).toBe('/upstream/b/');
    await expect404(await fetch(`${url}/upstream/a/x`), 'model not found: "a" is disabled while profile "coding" is active');
  });

  it('/v1/models lists the active profile pins that name nothing else, unloaded, typed "profile"', async () => {
    const before = await listed(url);
    expect(before.map((m) => m.id)).toEqual(['a', 'b', 'real']);
    await activate(url, 'coding');
    const data = await listed(url);
    // coder, fast and org/public are new; a (disabled) and real (a model) are not listed again.
    expect(data.map((m) => m.id)).toEqual(['a', 'b', 'coder', 'fast', 'org/public', 'public', 'real']);
    const coder = data.find((m) => m.id === 'coder')!;
    expect(coder).toEqual({
      id: 'coder',
      object: 'model',
      created: expect.any(Number),
      owned_by: 'swapstate',
      status: { value: 'unloaded' },
      meta: { llamaswap: { type: 'profile' } },
    });
    expect(data.find((m) => m.id === 'real')?.meta?.llamaswap.type).toBe('model');
  });

  it('PUT /api/profiles/active: every refusal, in the envelope, leaving the active profile as it was', async () => {
    await activate(url, 'coding');
    const bad = (status: number, message: string) => (res: Response) =>
      expectEnvelope(res, status, message, 'invalid_request_error', status === 404 ? 'not_found' : 'bad_request');
    await bad(400, 'invalid profile request')(await putActive(url, 'not json'));
    await bad(400, 'invalid profile request')(await putActive(url, ''));
    await bad(400, 'invalid profile request')(await putActive(url, '["coding"]'));
    await bad(400, 'profile name is required')(await putActive(url, '{}'));
    await bad(400, 'profile name must be a string or null')(await putActive(url, '{"name":1}'));
    await bad(404, 'profile "missing" not found')(await putActive(url, '{"name":"missing"}'));
    expect(((await (await fetch(`${url}/api/profiles`)).json()) as { active: string }).active).toBe('coding');
  });

  it("Go's mux answers other methods: 405 with Allow", async () => {
    const res = await fetch(`${url}/api/profiles/active`, { method: 'POST', body: '{"name":null}' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('PUT');
    const get = await fetch(`${url}/api/profiles`, { method: 'DELETE' });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('GET, HEAD');
  });

  it('/api/events: profileChanged in the initial burst, and on each switch followed by modelStatus', async () => {
    const events = await SseReader.open(url);
    try {
      await events.waitFor('the initial state', (f) => f.type === 'state');
      expect(events.ofType('profileChanged').map((f) => f.data)).toEqual([{ active: null }]);
      const from = events.frames.length;
      await activate(url, 'coding');
      await events.waitFor('profileChanged coding', (f) => f.type === 'profileChanged', from);
      const at = events.frames.findIndex((f, i) => i >= from && f.type === 'profileChanged');
      expect(events.frames[at]!.data).toEqual({ active: 'coding' });
      await events.waitFor('the modelStatus after it', (f) => f.type === 'modelStatus', at);
      // Activating it again changes nothing: no second message.
      await activate(url, 'coding');
      await activate(url, null);
      await events.waitFor('profileChanged null', (f) => f.type === 'profileChanged' && (f.data as { active: unknown }).active === null, at + 1);
      expect(events.ofType('profileChanged', from).map((f) => f.data)).toEqual([{ active: 'coding' }, { active: null }]);
    } finally {
      events.close();
    }
  });
});

describe('profiles and reloads', () => {
  let dir: string;
  let srv: RunningServer | null = null;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'swapstate-profiles-'));
  });
  afterAll(async () => {
    await srv?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('no profile is active after a reload; /api/events clients hear it', async () => {
    const configPath = join(dir, 'config.yaml');
    const text = `startPort: ${await freePortBlock(8)}\n${CONFIG}`;
    writeFileSync(configPath, text);
    srv = await startServer(text, { configPath });
    const url = srv.url;
    await activate(url, 'coding');
    expect((await echoOf(await chatTo(url, 'coder'))).id).toBe('b');
    const events = await SseReader.open(url);
    try {
      await events.waitFor('the initial state', (f) => f.type === 'state');
      expect(events.ofType('profileChanged').map((f) => f.data)).toEqual([{ active: 'coding' }]);
      const from = events.frames.length;
      expect(await srv.server.reload()).toBe(true);
      await events.waitFor('profileChanged null', (f) => f.type === 'profileChanged', from);
      expect(events.ofType('profileChanged', from).map((f) => f.data)).toEqual([{ active: null }]);
    } finally {
      events.close();
    }
    expect(((await (await fetch(`${url}/api/profiles`)).json()) as { active: unknown }).active).toBeNull();
    await expect404Matching(await chatTo(url, 'coder'), /^no router for requested model "coder"/);
    await activate(url, 'coding');
    await until(async () => (await echoOf(await chatTo(url, 'coder'))).id === 'b', 'coder served by b after reload');
  });
});

describe('profiles behind apiKeys', () => {
  it('both routes ask for the key', async () => {
    const srv = await startOnFreePorts(`apiKeys: [sekrit]\nmodels:\n  m:\n    proxy: http://127.0.0.1:9\nprofiles:\n  p:\n    pins:\n      x: m\n`);
    try {
      expect((await fetch(`${srv.url}/api/profiles`)).status).toBe(401);
      expect((await putActive(srv.url, '{"name":"p"}')).status).toBe(401);
      const auth = { authorization: 'Bearer sekrit' };
      expect(await (await fetch(`${srv.url}/api/profiles`, { headers: auth })).json()).toEqual({
        active: null,
        profiles: [{ id: 'p', description: '', pins: { x: 'm' } }],
      });
      expect(await (await putActive(srv.url, '{"name":"p"}', auth)).json()).toEqual({ active: 'p' });
    } finally {
      await srv.stop();
    }
  });
});
