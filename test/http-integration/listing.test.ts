/**
 * Model listing and management routes (reference 3.6, 3.7) through real HTTP, with real
 * upstream processes loaded and unloaded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoModel } from '../helpers/server-harness.ts';
import { chat, expect404, postJson, sharedGroup, startOnFreePorts, type RunningServer } from './helpers.ts';

interface ModelRecord {
  id: string;
  object: string;
  created: number;
  owned_by: string;
  name?: string;
  description?: string;
  meta: { llamaswap: Record<string, unknown> };
  status: { value: 'loaded' | 'unloaded' };
}
interface Listing {
  object: string;
  data: ModelRecord[];
}
interface Running {
  model: string;
  state: string;
  cmd: string;
  proxy: string;
  ttl: number;
  name: string;
  description: string;
}

const MODELS = `models:
${demoModel(
  'zeta',
  `name: "  Zeta Model "
description: " the last one "
aliases: [z1, a-z]
metadata:
  family: z
  type: user-type
  nested: {a: [1, 2]}`,
  '--load-delay 0',
)}
  alpha:
    cmd: |
      # the demo upstream, on its own lines
      ${process.execPath} src/demo/upstream.mjs
        --port \${PORT} --id alpha --load-delay 0
    ttl: 300
${demoModel('hidden', 'unlisted: true\naliases: [hid]', '--load-delay 0')}
`;

async function listing(url: string, path = '/v1/models', headers: Record<string, string> = {}): Promise<Listing> {
  const res = await fetch(`${url}${path}`, { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (await res.json()) as Listing;
}

const statusOf = (l: Listing) => Object.fromEntries(l.data.map((r) => [r.id, r.status.value]));

async function running(url: string): Promise<Running[]> {
  const res = await fetch(`${url}/running`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { running: Running[] };
  expect(Object.keys(body)).toEqual(['running']);
  return body.running;
}

async function load(url: string, model: string): Promise<void> {
  const res = await postJson(`${url}/v1/chat/completions`, chat(model));
  expect(res.status, await res.text()).toBe(200);
}

describe('with includeAliasesInList', () => {
  let srv: RunningServer;
  let url: string;

  beforeAll(async () => {
    srv = await startOnFreePorts(`includeAliasesInList: true
allowedOrigins: ["http://app.example:3000"]
globalTTL: 600
${sharedGroup(['zeta', 'alpha', 'hidden'])}
${MODELS}`);
    url = srv.url;
  });

  afterAll(async () => {
    await srv?.stop();
  });

  it('lists models and aliases sorted by id, unlisted ones hidden', async () => {
    const l = await listing(url);
    expect(l.object).toBe('list');
    expect(l.data.map((r) => r.id)).toEqual(['a-z', 'alpha', 'z1', 'zeta']);
    expect(Object.values(statusOf(l))).toEqual(['unloaded', 'unloaded', 'unloaded', 'unloaded']);
  });

  it('a model record: trimmed name/description, metadata with type and aliases', async () => {
    const before = Math.floor(Date.now() / 1000);
    const l = await listing(url);
    const after = Math.floor(Date.now() / 1000);
    const zeta = l.data.find((r) => r.id === 'zeta');
    expect(zeta).toStrictEqual({
      id: 'zeta',
      object: 'model',
      created: expect.any(Number),
      owned_by: 'swapstate',
      name: 'Zeta Model',
      description: 'the last one',
      meta: { llamaswap: { family: 'z', nested: { a: [1, 2] }, type: 'model', aliases: ['a-z', 'z1'] } },
      status: { value: 'unloaded' },
    });
    expect(zeta!.created).toBeGreaterThanOrEqual(before);
    expect(zeta!.created).toBeLessThanOrEqual(after);
    for (const r of l.data) expect(r.created).toBe(zeta!.created);
  });

  it('a model without name, description or aliases has none of those keys', async () => {
    const alpha = (await listing(url)).data.find((r) => r.id === 'alpha');
    expect(alpha).toStrictEqual({
      id: 'alpha',
      object: 'model',
      created: expect.any(Number),
      owned_by: 'swapstate',
      meta: { llamaswap: { type: 'model' } },
      status: { value: 'unloaded' },
    });
  });

  it('an alias record copies its model and says whose alias it is', async () => {
    const z1 = (await listing(url)).data.find((r) => r.id === 'z1');
    expect(z1).toStrictEqual({
      id: 'z1',
      object: 'model',
      created: expect.any(Number),
      owned_by: 'swapstate',
      name: 'Zeta Model',
      description: 'the last one',
      meta: { llamaswap: { family: 'z', nested: { a: [1, 2] }, type: 'alias', modelID: 'zeta' } },
      status: { value: 'unloaded' },
    });
  });

  it('/models is the same listing', async () => {
    const strip = (l: Listing) => l.data.map(({ created: _c, ...rest }) => rest);
    expect(strip(await listing(url, '/models'))).toEqual(strip(await listing(url)));
  });

  it('echoes Origin on the listing only (for an origin in allowedOrigins; others are refused)', async () => {
    const origin = 'http://app.example:3000';
    for (const path of ['/v1/models', '/models']) {
      const res = await fetch(`${url}${path}`, { headers: { origin } });
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    }
    // swapstate: a browser page of another origin may not read the listing unless allowed.
    expect((await fetch(`${url}/v1/models`, { headers: { origin: 'http://other.example' } })).status).toBe(403);
    expect((await fetch(`${url}/v1/models`)).headers.get('access-control-allow-origin')).toBeNull();
    expect((await fetch(`${url}/running`, { headers: { origin } })).headers.get('access-control-allow-origin')).toBeNull();
    expect((await fetch(`${url}/health`, { headers: { origin } })).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('nothing runs at first', async () => {
    expect(await running(url)).toEqual([]);
  });

  it('a request loads a model: listed as loaded, in /running as ready', async () => {
    await load(url, 'alpha');
    expect(statusOf(await listing(url))).toEqual({ 'a-z': 'unloaded', alpha: 'loaded', z1: 'unloaded', zeta: 'unloaded' });
    const [alpha, ...rest] = await running(url);
    expect(rest).toEqual([]);
    expect(alpha).toStrictEqual({
      model: 'alpha',
      state: 'ready',
      cmd: expect.any(String),
      proxy: expect.stringMatching(/^http:\/\/localhost:\d+$/),
      ttl: 300,
      name: '',
      description: '',
    });
    // The expanded command, without its comment line.
    const port = new URL(alpha!.proxy).port;
    expect(alpha!.cmd).not.toContain('#');
    expect(alpha!.cmd).not.toContain('${PORT}');
    expect(alpha!.cmd).toContain(`--port ${port} --id alpha`);
    expect(alpha!.cmd).toContain('src/demo/upstream.mjs');
  });

  it('an unlisted model is still routable (also by alias) and shows in /running, sorted by model', async () => {
    await load(url, 'hid');
    await load(url, 'z1');
    const r = await running(url);
    expect(r.map((m) => m.model)).toEqual(['alpha', 'hidden', 'zeta']);
    expect(r.every((m) => m.state === 'ready')).toBe(true);
    const zeta = r.find((m) => m.model === 'zeta')!;
    expect(zeta.ttl).toBe(600); // no ttl of its own: globalTTL
    expect(zeta.name.trim()).toBe('Zeta Model');
    expect(zeta.cmd).toContain('--id zeta');
    const l = await listing(url);
    expect(statusOf(l)).toEqual({ 'a-z': 'loaded', alpha: 'loaded', z1: 'loaded', zeta: 'loaded' });
    expect(l.data.some((m) => m.id === 'hidden' || m.id === 'hid')).toBe(false);
  });

  it('GET /unload stops everything before answering OK', async () => {
    const res = await fetch(`${url}/unload`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe('OK');
    expect(await running(url)).toEqual([]);
    expect(Object.values(statusOf(await listing(url))).every((s) => s === 'unloaded')).toBe(true);
  });

  it('POST /api/models/unload stops everything and answers {"msg":"ok"}', async () => {
    await load(url, 'alpha');
    expect((await running(url)).map((m) => m.model)).toEqual(['alpha']);
    const res = await fetch(`${url}/api/models/unload`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.text()).toBe('{"msg":"ok"}');
    expect(await running(url)).toEqual([]);
  });

  it('POST /api/models/unload/<alias> stops that model only', async () => {
    await load(url, 'alpha');
    await load(url, 'zeta');
    const res = await fetch(`${url}/api/models/unload/z1`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('OK');
    expect((await running(url)).map((m) => m.model)).toEqual(['alpha']);
    expect(statusOf(await listing(url))).toEqual({ 'a-z': 'unloaded', alpha: 'loaded', z1: 'unloaded', zeta: 'unloaded' });
    // By id, and for a model that is not running: OK all the same.
    expect(await (await fetch(`${url}/api/models/unload/alpha`, { method: 'POST' })).text()).toBe('OK');
    expect(await (await fetch(`${url}/api/models/unload/hid`, { method: 'POST' })).text()).toBe('OK');
    expect(await running(url)).toEqual([]);
  });

  it('POST /api/models/unload/<unknown> is 404 "model not found", naming it and the listed models (not the unlisted one)', async () => {
    await expect404(
      await fetch(`${url}/api/models/unload/nope`, { method: 'POST' }),
      'model not found: "nope"; available models are a-z, alpha, z1, zeta',
    );
    // Undecodable: named as the client wrote it.
    await expect404(
      await fetch(`${url}/api/models/unload/%ff`, { method: 'POST' }),
      'model not found: "%ff"; available models are a-z, z1, zeta, alpha',
    );
  });

  it('/health answers OK; GET / redirects to /ui', async () => {
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(health.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await health.text()).toBe('OK');
    const root = await fetch(`${url}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/ui');
  });
});

describe('without includeAliasesInList', () => {
  let srv: RunningServer;

  beforeAll(async () => {
    srv = await startOnFreePorts(MODELS);
  });

  afterAll(async () => {
    await srv?.stop();
  });

  it('lists models only; aliases only in their metadata', async () => {
    const l = await listing(srv.url);
    expect(l.data.map((r) => r.id)).toEqual(['alpha', 'zeta']);
    expect(l.data[1]?.meta.llamaswap).toEqual({ family: 'z', nested: { a: [1, 2] }, type: 'model', aliases: ['a-z', 'z1'] });
    expect(await running(srv.url)).toEqual([]);
  });
});
