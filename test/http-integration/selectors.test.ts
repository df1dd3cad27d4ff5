/**
 * Selectors through real HTTP (reference 2.8, 3.4, 3.7, 5.6): the echo upstream answers with
 * the exact request it received, so the tests see that the chosen target replaced the model
 * wherever the request named it (JSON body, multipart field, urlencoded body, GET query), that
 * filters then apply for the target as requested, and what `/v1/models` lists.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multipart, AUDIO } from '../http/multipart-body.ts';
import { demoModel } from '../helpers/server-harness.ts';
import { chat, echoModel, echoOf, expectEnvelope, postJson, startOnFreePorts, until, type RunningServer } from './helpers.ts';

let srv: RunningServer;
let url: string;

beforeAll(async () => {
  srv = await startOnFreePorts(`groups:
  shared:
    swap: false
    exclusive: false
    members: [a, b, c]
  alone:
    swap: false
    exclusive: false
    members: [stubborn]
models:
${echoModel(
  'a',
  `aliases: [alias-a]
filters:
  setParamsByID:
    variant:
      thinking: true`,
)}
${echoModel('b')}
${echoModel('c')}
${demoModel('stubborn', 'unloadTimeout: 3', '--ignore-sigterm')}
selectors:
  public:
    strategy: pin
    targets: [variant, b]
    name: " Public Model "
    description: Public selector
    metadata:
      purpose: testing
      type: user-type
  second-first:
    strategy: pin
    targets: [b, a]
  warm:
    strategy: warm
    targets: [c, alias-a, b]
  balanced:
    strategy: spillover
    targets: [a, b, c]
  lonely:
    strategy: spillover
    targets: [stubborn]
    settings: {spillover: 2}
  hidden:
    strategy: pin
    targets: [a]
    unlisted: true
`);
  url = srv.url;
});
afterAll(async () => {
  await srv.stop();
});

interface Listing {
  data: Array<{ id: string; name?: string; description?: string; meta?: { llamaswap: Record<string, unknown> }; status: { value: string } }>;
}
const listing = async (): Promise<Listing> => (await (await fetch(`${url}/v1/models`)).json()) as Listing;
const running = async (): Promise<Array<{ model: string; state: string }>> =>
  ((await (await fetch(`${url}/running`)).json()) as { running: Array<{ model: string; state: string }> }).running;

describe('selectors on the model routes', () => {
  it('JSON: the body names the pin target (as listed, the setParamsByID alias); its filters apply', async () => {
    const echo = await echoOf(await postJson(`${url}/v1/chat/completions?model=public`, chat('public', 'hi', { n: 1 })));
    expect(echo.id).toBe('a');
    const body = JSON.parse(echo.body) as Record<string, unknown>;
    expect(body).toMatchObject({ model: 'variant', thinking: true, n: 1 });
    // JSON requests name their model in the body: the query is forwarded as sent.
    expect(echo.url).toBe('/v1/chat/completions?model=public');
  });

  it('/v1/models lists selectors (not unlisted ones) with their fields and meta; loaded when a local target is ready', async () => {
    const byId = new Map((await listing()).data.map((r) => [r.id, r]));
    expect(byId.get('public')).toEqual({
      id: 'public',
      object: 'model',
      created: expect.any(Number),
      owned_by: 'swapstate',
      name: 'Public Model',
      description: 'Public selector',
      meta: { llamaswap: { purpose: 'testing', type: 'selector', strategy: 'pin', targets: ['variant', 'b'] } },
      status: { value: 'loaded' },
    });
    expect(byId.get('balanced')?.meta?.llamaswap).toEqual({ type: 'selector', strategy: 'spillover', targets: ['a', 'b', 'c'], spillover: 1 });
    expect(byId.get('lonely')?.meta?.llamaswap).toMatchObject({ spillover: 2 });
    // warm: a (its second target) is ready.
    expect(byId.get('warm')?.status.value).toBe('loaded');
    // pin: only the first target counts, and b is not running.
    expect(byId.get('second-first')?.status.value).toBe('unloaded');
    expect(byId.has('hidden')).toBe(false);
    expect(byId.get('lonely')?.status.value).toBe('unloaded');
  });

  it('warm: the ready target serves; the cold first target is not started', async () => {
    const echo = await echoOf(await postJson(`${url}/v1/chat/completions`, chat('warm')));
    expect(echo.id).toBe('a');
    expect(JSON.parse(echo.body)).toMatchObject({ model: 'alias-a' });
    expect((await running()).map((r) => r.model)).not.toContain('c');
  });

  it('multipart: the model field is replaced; every other byte arrives as sent', async () => {
    const boundary = 'sel-boundary-1';
    const parts = [
      { name: 'file', value: AUDIO, filename: 'a.wav', type: 'audio/wav' },
      { name: 'model', value: 'public' },
      { name: 'language', value: 'en' },
    ];
    const res = await fetch(`${url}/v1/audio/transcriptions`, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      body: multipart(boundary, parts),
    });
    const echo = await echoOf(res);
    expect(echo.id).toBe('a');
    const sent = Buffer.from(echo.bodyBase64, 'base64');
    expect(sent.equals(multipart(boundary, parts.map((p) => (p.name === 'model' ? { ...p, value: 'variant' } : p))))).toBe(true);
  });

  it('urlencoded: the model pair is replaced', async () => {
    const res = await fetch(`${url}/v1/audio/speech`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'input=hi+there&model=public&voice=x',
    });
    const echo = await echoOf(res);
    expect(echo.id).toBe('a');
    expect(echo.body).toBe('input=hi+there&model=variant&voice=x');
  });

  it('GET: the query model is replaced, the rest of the query kept', async () => {
    const echo = await echoOf(await fetch(`${url}/v1/audio/voices?lang=en&model=public&x=%20y`));
    expect(echo.id).toBe('a');
    expect(echo.url).toBe('/v1/audio/voices?lang=en&model=variant&x=%20y');
  });

  it('spillover: one request at a time stays on the first target in use', async () => {
    for (let i = 0; i < 3; i++) expect((await echoOf(await postJson(`${url}/v1/chat/completions`, chat('balanced')))).id).toBe('a');
  });

  it('not on /upstream/<selector>/...: 404 model not found, as llama-swap', async () => {
    const res = await postJson(`${url}/upstream/public/v1/chat/completions`, chat('public'));
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/^model not found/);
  });

  it('spillover with every target stopping: 503 "selector \\"lonely\\" has no available spillover targets"', async () => {
    // stubborn ignores SIGTERM: stopping it takes its unloadTimeout (3 s) before the SIGKILL.
    const started = await postJson(`${url}/v1/chat/completions`, chat('lonely'));
    expect(started.status, await started.text()).toBe(200);
    const unloaded = fetch(`${url}/api/models/unload/stubborn`, { method: 'POST' });
    await until(async () => (await running()).some((r) => r.model === 'stubborn' && r.state === 'stopping'), 'stubborn to be stopping');
    await expectEnvelope(
      await postJson(`${url}/v1/chat/completions`, chat('lonely')),
      503,
      'selector "lonely" has no available spillover targets',
      'server_error',
      'service_unavailable',
    );
    expect((await unloaded).status).toBe(200);
  });
});
