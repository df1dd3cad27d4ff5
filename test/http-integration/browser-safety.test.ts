/**
 * What a web page may make swapstate do (issue 10, item 8): without `apiKeys`, a `Host` that
 * is not one of the server's names is refused (DNS rebinding), and requests a browser sends
 * for another site are refused (an `<img>` on `/unload`, a form that starts a model),
 * unless `allowedHosts` / `allowedOrigins` list them. JSON clients, CORS preflights and
 * `/health` work exactly as in llama-swap. With `apiKeys`, a request without a key is still
 * 401, and a key a browser attaches by itself (Basic) does not make a cross-site request safe.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../helpers/server-harness.ts';
import { request, startsOf } from '../faults/helpers.ts';
import { ECHO_UPSTREAM } from './helpers.ts';
import { freePortBlock } from '../helpers/real-upstreams.ts';

const echo = `  echo:
    cmd: "${process.execPath} ${ECHO_UPSTREAM} --port \${PORT} --id echo"
`;

const CROSS_SITE = { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors' };
const IMG = { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' };

function expect403(res: { status: number; body: string }, message: RegExp): void {
  expect(res.status, res.body).toBe(403);
  const body = JSON.parse(res.body) as { error: { message: string; type: string; code: string } };
  expect(body.error).toMatchObject({ type: 'authentication_error', code: 'forbidden' });
  expect(body.error.message).toMatch(message);
}

const chatBody = JSON.stringify({ model: 'echo', messages: [] });

describe('without apiKeys', () => {
  let srv: RunningServer;
  let host: string;
  beforeAll(async () => {
    srv = await startServer(`models:\n${echo}`);
    host = new URL(srv.url).host;
  });
  afterAll(() => srv?.stop());

  it('a Host that is not one of ours is refused (DNS rebinding), on every route behind auth', async () => {
    for (const path of ['/running', '/v1/models', '/api/state', '/logs', '/ui/']) {
      expect403(await request(srv.url, { path, headers: { host: 'attacker.example:8080' } }), /^host "attacker\.example" is not a name of this server; .* allowedHosts/);
    }
    const chat = await request(srv.url, {
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { host: 'attacker.example', 'content-type': 'application/json' },
      body: chatBody,
    });
    expect403(chat, /allowedHosts/);
    expect(startsOf(srv).echo).toBe(0);
  });

  it('our own names pass: IP addresses, localhost names, this machine, with any port', async () => {
    for (const h of [host, '127.0.0.1', '[::1]:9', 'localhost', 'LOCALHOST:80', 'ui.localhost', 'localhost.', hostname(), '10.1.2.3:8080']) {
      expect((await request(srv.url, { path: '/v1/models', headers: { host: h } })).status, h).toBe(200);
    }
  });

  it('public routes and CORS preflights are answered as in llama-swap, whatever the Host or Origin', async () => {
    expect((await request(srv.url, { path: '/health', headers: { host: 'attacker.example', ...CROSS_SITE } })).status).toBe(200);
    const preflight = await request(srv.url, {
      method: 'OPTIONS',
      path: '/v1/chat/completions',
      headers: { ...CROSS_SITE, 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('*');
  });

  it('an <img> on /unload from another site unloads nothing', async () => {
    const load = await request(srv.url, { method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: chatBody });
    expect(load.status).toBe(200);
    expect403(await request(srv.url, { path: '/unload', headers: IMG }), /^cross-site request from another site refused: add the origin to allowedOrigins/);
    expect(srv.server.state().runtime.process('echo')?.state).toBe('ready');
  });

  it('a form on another site cannot start a model', async () => {
    await srv.server.state().runtime.unload();
    const form = await request(srv.url, {
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...CROSS_SITE, 'sec-fetch-mode': 'navigate' },
      body: 'model=echo',
    });
    expect403(form, /^cross-site request from origin "https:\/\/evil\.example" refused/);
    // A page on another port of this machine is another origin too.
    const sameSite = await request(srv.url, {
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json', origin: 'http://localhost:3000', 'sec-fetch-site': 'same-site' },
      body: chatBody,
    });
    expect403(sameSite, /origin "http:\/\/localhost:3000"/);
    expect(srv.server.state().runtime.process('echo')?.state).toBe('stopped');
  });

  it("the server's own pages, JSON clients and links to the UI keep working", async () => {
    const own = await request(srv.url, {
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json', origin: srv.url, 'sec-fetch-site': 'same-origin' },
      body: chatBody,
    });
    expect(own.status).toBe(200);
    const plain = await request(srv.url, { method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: chatBody });
    expect(plain.status).toBe(200);
    const link = await request(srv.url, { path: '/ui/', headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' } });
    expect(link.status).toBe(200);
    // Not in another site's frame (clickjacking), and not a navigation anywhere else.
    expect403(await request(srv.url, { path: '/ui/', headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'iframe' } }), /cross-site/);
    expect403(await request(srv.url, { path: '/unload', headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' } }), /cross-site/);
    await srv.server.state().runtime.unload();
  });
});

describe('allowedHosts and allowedOrigins', () => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startServer(`allowedHosts: [models.example.com, .lan]
allowedOrigins: ["https://chat.example.com"]
trustProxy: loopback
models:
${echo}`);
  });
  afterAll(() => srv?.stop());

  it('listed host names pass, subdomains with a leading dot', async () => {
    for (const h of ['models.example.com', 'gpu.lan', 'lan', 'a.b.lan:8080']) {
      expect((await request(srv.url, { path: '/running', headers: { host: h } })).status, h).toBe(200);
    }
    expect((await request(srv.url, { path: '/running', headers: { host: 'example.com' } })).status).toBe(403);
  });

  it('behind a trusted proxy, X-Forwarded-Host is the host', async () => {
    const res = await request(srv.url, { path: '/running', headers: { host: '127.0.0.1', 'x-forwarded-host': 'attacker.example' } });
    expect(res.status).toBe(403);
    expect((await request(srv.url, { path: '/running', headers: { 'x-forwarded-host': 'models.example.com' } })).status).toBe(200);
  });

  it('a listed origin may call the API cross-site; others may not', async () => {
    const allowed = await request(srv.url, {
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json', origin: 'https://chat.example.com', 'sec-fetch-site': 'cross-site' },
      body: chatBody,
    });
    expect(allowed.status).toBe(200);
    const list = await request(srv.url, { path: '/v1/models', headers: { origin: 'https://chat.example.com', 'sec-fetch-site': 'cross-site' } });
    expect(list.headers['access-control-allow-origin']).toBe('https://chat.example.com');
    expect((await request(srv.url, { path: '/v1/models', headers: CROSS_SITE })).status).toBe(403);
    await srv.server.state().runtime.unload();
  });
});

describe('with apiKeys', () => {
  const KEY = 'sk-browser-test';
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startServer(`apiKeys: ["${KEY}"]\nmodels:\n${echo}`);
  });
  afterAll(() => srv?.stop());

  it('no Host check (a rebound page has no key), no key is 401 as in llama-swap', async () => {
    expect((await request(srv.url, { path: '/running', headers: { host: 'attacker.example', authorization: `Bearer ${KEY}` } })).status).toBe(200);
    expect((await request(srv.url, { path: '/running', headers: CROSS_SITE })).status).toBe(401);
  });

  it('cross-site: a key the page sent itself passes; Basic credentials the browser attached do not', async () => {
    expect((await request(srv.url, { path: '/running', headers: { ...CROSS_SITE, authorization: `Bearer ${KEY}` } })).status).toBe(200);
    expect((await request(srv.url, { path: '/running', headers: { ...CROSS_SITE, 'x-api-key': KEY } })).status).toBe(200);
    const basic = `Basic ${Buffer.from(`user:${KEY}`).toString('base64')}`;
    expect403(await request(srv.url, { path: '/unload', headers: { ...IMG, authorization: basic } }), /or send the API key as a Bearer token/);
    expect((await request(srv.url, { path: '/running', headers: { authorization: basic } })).status).toBe(200);
  });
});

describe('a reload', () => {
  let srv: RunningServer;
  let dir: string;
  afterAll(async () => {
    await srv?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  // The Host check keeps its verdict on the last Host it saw (browser-guard.ts): a reload
  // that lists or unlists that very name must apply to the next request, and so must keys.
  it('applies to the next request with the same Host: allowedHosts listed, unlisted, then keys', async () => {
    dir = mkdtempSync(join(tmpdir(), 'swapstate-browser-reload-'));
    const configPath = join(dir, 'config.yaml');
    const write = (top: string) => writeFileSync(configPath, `startPort: ${startPort}\n${top}models:\n${echo}`);
    const startPort = await freePortBlock(5);
    write('');
    srv = await startServer(readFileSync(configPath, 'utf8'), { configPath });
    const running = (headers: Record<string, string>) => request(srv.url, { path: '/running', headers });
    const host = { host: 'models.example.com' };

    expect((await running(host)).status).toBe(403);
    write('allowedHosts: [models.example.com]\n');
    expect(await srv.server.reload()).toBe(true);
    expect((await running(host)).status).toBe(200);
    write('');
    expect(await srv.server.reload()).toBe(true);
    expect((await running(host)).status).toBe(403);
    write('apiKeys: [k1]\n');
    expect(await srv.server.reload()).toBe(true);
    expect((await running(host)).status).toBe(401);
    expect((await running({ ...host, authorization: 'Bearer k1' })).status).toBe(200);
  });
});
