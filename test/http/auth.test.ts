/** API-key auth: key extraction on plain header objects, the check through the route guard every keyed route passes (route-guard.ts). */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.ts';
import { extractApiKey, matchesApiKey } from '../../src/http/auth.ts';
import type { AppDeps } from '../../src/http/deps.ts';
import { routeGuard } from '../../src/http/route-guard.ts';

const basic = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('extractApiKey', () => {
  it.each([
    ['Bearer', { authorization: 'Bearer tok' }, 'tok'],
    ['bearer, any case', { authorization: 'bEaReR tok' }, 'tok'],
    ['Basic password', { authorization: basic('user', 'pw:with:colons') }, 'pw:with:colons'],
    ['basic, any case', { authorization: basic('', 'pw').replace('Basic', 'BASIC') }, 'pw'],
    ['x-api-key', { 'x-api-key': 'xk' }, 'xk'],
    ['Bearer beats x-api-key', { authorization: 'Bearer b', 'x-api-key': 'x' }, 'b'],
    ['Basic beats x-api-key', { authorization: basic('u', 'p'), 'x-api-key': 'x' }, 'p'],
    ['Basic with empty password falls back', { authorization: basic('u', ''), 'x-api-key': 'x' }, 'x'],
    ['Basic without colon falls back', { authorization: `Basic ${Buffer.from('nocolon').toString('base64')}`, 'x-api-key': 'x' }, 'x'],
    ['malformed base64 falls back', { authorization: 'Basic !!!notbase64', 'x-api-key': 'x' }, 'x'],
    ['base64 needing no padding', { authorization: 'Basic dTpw' }, 'p'],
    ['unpadded base64 is malformed, as in Go', { authorization: 'Basic dTpwdw', 'x-api-key': 'x' }, 'x'],
    ['unknown scheme falls back', { authorization: 'Digest abc', 'x-api-key': 'x' }, 'x'],
    ['scheme only', { authorization: 'Bearer' }, ''],
    ['nothing', {}, ''],
  ])('%s', (_name, headers, key) => {
    expect(extractApiKey(headers)).toBe(key);
  });
});

describe('matchesApiKey', () => {
  it('matches any configured key exactly', () => {
    expect(matchesApiKey('b', ['a', 'b', 'c'])).toBe(true);
    expect(matchesApiKey('B', ['a', 'b'])).toBe(false);
    expect(matchesApiKey('bb', ['b'])).toBe(false);
    expect(matchesApiKey('', ['a'])).toBe(false);
    expect(matchesApiKey('a-much-longer-key-than-configured', ['a'])).toBe(false);
  });
});

const servers: http.Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** A config with no models, whose `apiKeys` are `keys()` at each request (as a reload would change them). */
const BASE = loadConfigText('models: {}\n', 'auth-test.yaml');

async function appWithKeys(keys: () => string[]): Promise<string> {
  const app = express();
  // Only what the route guard reads of the server's dependencies.
  const deps = { current: () => ({ config: { ...BASE, apiKeys: keys() } }), listenHost: '127.0.0.1' } as unknown as AppDeps;
  app.use(routeGuard(deps));
  app.get('/v1/models', (req, res) => {
    res.json({ ok: true, auth: req.headers.authorization ?? null });
  });
  const server = http.createServer(app);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/models`;
}

describe('the API-key check of the route guard', () => {
  it('passes everything when no keys are configured', async () => {
    const url = await appWithKeys(() => []);
    expect((await fetch(url)).status).toBe(200);
  });

  it('accepts each way of presenting a key, and leaves Authorization in place', async () => {
    const url = await appWithKeys(() => ['k1', 'k2']);
    const r = await fetch(url, { headers: { authorization: 'Bearer k2' } });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ ok: true, auth: 'Bearer k2' });
    expect((await fetch(url, { headers: { authorization: basic('anyone', 'k1') } })).status).toBe(200);
    expect((await fetch(url, { headers: { 'x-api-key': 'k1' } })).status).toBe(200);
  });

  it('rejects a wrong or missing key with the 401 envelope and Basic challenge', async () => {
    const url = await appWithKeys(() => ['k1']);
    for (const headers of [{}, { authorization: 'Bearer nope' }, { 'x-api-key': 'k1x' }] as Array<Record<string, string>>) {
      const r = await fetch(url, { headers });
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('Basic realm="swapstate"');
      expect(await r.json()).toEqual({
        src: 'swapstate',
        error: { message: 'unauthorized: invalid or missing API key', type: 'authentication_error', param: null, code: 'unauthorized' },
      });
    }
  });

  it('a Bearer that is wrong is not rescued by a right x-api-key (precedence)', async () => {
    const url = await appWithKeys(() => ['good']);
    expect((await fetch(url, { headers: { authorization: 'Bearer bad', 'x-api-key': 'good' } })).status).toBe(401);
  });

  it('reads the keys per request, so a reload applies at once', async () => {
    let keys = ['old'];
    const url = await appWithKeys(() => keys);
    expect((await fetch(url, { headers: { 'x-api-key': 'old' } })).status).toBe(200);
    keys = ['new'];
    expect((await fetch(url, { headers: { 'x-api-key': 'old' } })).status).toBe(401);
    expect((await fetch(url, { headers: { 'x-api-key': 'new' } })).status).toBe(200);
  });

  it('plain-text clients get the text rendering', async () => {
    const url = await appWithKeys(() => ['k']);
    const r = await fetch(url, { headers: { accept: 'text/plain' } });
    expect(await r.text()).toBe('swapstate: unauthorized: invalid or missing API key');
  });
});
