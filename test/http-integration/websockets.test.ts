/**
 * Websockets through `/upstream/<model>/...` and `/comfyui/...` (reference 3.8, 3.9, 4.10),
 * the `/comfyui` routes, and per-model `timeouts` (2.12): real swapstate, real demo upstreams
 * (their `/ws` echo), real sockets.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';
import { freePortBlock, until } from '../helpers/real-upstreams.ts';

let srv: RunningServer | null = null;
afterEach(async () => {
  await srv?.stop();
  srv = null;
});

const wsUrl = (s: RunningServer, path: string) => `${s.url.replace(/^http/, 'ws')}${path}`;

/** Opens a websocket, or resolves with the HTTP answer that refused it. */
function openWs(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ ws: WebSocket } | { status: number; contentType: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body }));
      res.on('error', reject);
    });
    ws.once('error', reject);
  });
}

async function connected(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const r = await openWs(url, headers);
  if (!('ws' in r)) throw new Error(`refused: ${r.status} ${r.body}`);
  return r.ws;
}

async function refused(url: string, headers: Record<string, string> = {}) {
  const r = await openWs(url, headers);
  if ('ws' in r) {
    r.ws.terminate();
    throw new Error('the websocket was accepted');
  }
  return r;
}

function roundTrip(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data) => resolve(String(data)));
    ws.once('error', reject);
    ws.send(text);
  });
}

function closeWs(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    ws.once('close', () => resolve());
    ws.close();
  });
}

const inFlight = (s: RunningServer, model: string): number =>
  s.server.state().runtime.actor.getSnapshot().context.fifo.inFlight[model] ?? 0;

const envelope = (message: string, type: string, code: string) => ({ src: 'swapstate', error: { message, type, param: null, code } });

describe('websockets on /upstream/<model>/...', () => {
  it('start a cold model, round-trip through it, and hold its slot until the socket closes', async () => {
    srv = await startServer(`models:\n${demoModel('m')}`);
    expect(srv.server.state().runtime.serving('m')).toBe(false);
    const ws = await connected(wsUrl(srv, '/upstream/m/ws'));
    expect(srv.server.state().runtime.serving('m')).toBe(true);
    expect(await roundTrip(ws, 'hello')).toBe('m: hello');
    expect(await roundTrip(ws, 'again')).toBe('m: again');
    // The slot is held for the socket's life: a swap would wait for it.
    expect(inFlight(srv, 'm')).toBe(1);
    await closeWs(ws);
    await until(() => inFlight(srv!, 'm') === 0, 'the slot to be given back');
  });

  it('shutdown does not wait for an open websocket: it is cut', async () => {
    srv = await startServer(`models:\n${demoModel('m')}`);
    const s = srv;
    const ws = await connected(wsUrl(s, '/upstream/m/ws'));
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    const started = performance.now();
    srv = null;
    await s.stop(); // a 5 s budget
    await closed;
    expect(performance.now() - started).toBeLessThan(4000);
  });

  it('a swap waits for an open websocket', async () => {
    srv = await startServer(`models:\n${demoModel('a')}${demoModel('b')}`);
    const s = srv;
    const ws = await connected(wsUrl(s, '/upstream/a/ws'));
    let answered = false;
    const other = fetch(`${s.url}/upstream/b/health`).then((r) => {
      answered = true;
      return r.status;
    });
    // b's request is queued behind the socket (a swap would stop a): a keeps serving.
    const queued = () => s.server.state().runtime.actor.getSnapshot().context.fifo.queue.some((r) => r.model === 'b');
    await until(queued, "b's request to be queued");
    expect(await roundTrip(ws, 'still here')).toBe('a: still here');
    expect(answered).toBe(false);
    expect(s.server.state().runtime.serving('a')).toBe(true);
    await closeWs(ws);
    expect(await other).toBe(200);
    expect(s.server.state().runtime.serving('a')).toBe(false);
  });

  it('need the API key like any /upstream request', async () => {
    srv = await startServer(`apiKeys: [sekrit]\nmodels:\n${demoModel('m')}`);
    const r = await refused(wsUrl(srv, '/upstream/m/ws'));
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body)).toEqual(envelope('unauthorized: invalid or missing API key', 'authentication_error', 'unauthorized'));
    expect(srv.server.state().runtime.serving('m')).toBe(false);
    const ws = await connected(wsUrl(srv, '/upstream/m/ws'), { authorization: 'Bearer sekrit' });
    expect(await roundTrip(ws, 'k')).toBe('m: k');
    await closeWs(ws);
  });

  it('a cross-site page cannot open one (browser guard)', async () => {
    srv = await startServer(`models:\n${demoModel('m')}`);
    const r = await refused(wsUrl(srv, '/upstream/m/ws'), { origin: 'https://evil.example' });
    expect(r.status).toBe(403);
    expect(srv.server.state().runtime.serving('m')).toBe(false);
  });

  it('an upgrade to a route that does not proxy gets that route its answer, then the socket closes', async () => {
    srv = await startServer(`models:\n${demoModel('m')}`);
    const models = await refused(wsUrl(srv, '/v1/models'));
    expect(models.status).toBe(200);
    expect(JSON.parse(models.body).data.map((d: { id: string }) => d.id)).toEqual(['m']);
    const none = await refused(wsUrl(srv, '/no/such/path'));
    expect(none.status).toBe(404);
    expect(none.body.trim()).toBe('404 page not found');
  });

  it('an unknown model is answered 404 in the envelope, on the socket', async () => {
    srv = await startServer(`models:\n${demoModel('m')}`);
    const r = await refused(wsUrl(srv, '/upstream/nope/ws'));
    expect(r.status).toBe(404);
    expect(r.contentType).toBe('application/json');
    expect(JSON.parse(r.body).error.message).toMatch(/^model not found/);
    // The server is still serving.
    expect((await fetch(`${srv.url}/health`)).status).toBe(200);
  });
});

describe('websockets to a peer model', () => {
  let peer: RunningServer | null = null;
  afterEach(async () => {
    await peer?.stop();
    peer = null;
  });

  it('are proxied to the peer as websockets (here a swapstate whose /upstream starts its model)', async () => {
    peer = await startServer(`models:\n${demoModel('m')}`);
    srv = await startServer(`peers:\n  b:\n    proxy: ${peer.url}\n    models: [m]\nmodels: {}\n`);
    const ws = await connected(wsUrl(srv, '/upstream/b/m/upstream/m/ws'));
    expect(await roundTrip(ws, 'via peer')).toBe('m: via peer');
    expect(peer.server.state().runtime.serving('m')).toBe(true);
    await closeWs(ws);
  });
});

describe('websocket failures', () => {
  it('a client that drops its socket while the model loads costs nothing: slot freed, server up', async () => {
    srv = await startServer(`models:\n${demoModel('m', '', '--load-delay 300')}`);
    const s = srv;
    const port = Number(new URL(s.url).port);
    const sock = connect(port, '127.0.0.1');
    sock.on('error', () => {});
    await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
    sock.write('GET /upstream/m/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    await until(() => s.server.state().runtime.process('m')?.state === 'starting', 'm to start');
    sock.resetAndDestroy();
    await until(() => inFlight(s, 'm') === 0 && s.server.state().runtime.actor.getSnapshot().context.fifo.queue.length === 0, 'the ticket to end');
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
    // And the model still serves websockets.
    const ws = await connected(wsUrl(s, '/upstream/m/ws'));
    expect(await roundTrip(ws, 'after')).toBe('m: after');
    await closeWs(ws);
  });

  it('an upstream that cannot be reached: 502 in the envelope, on the socket', async () => {
    const dead = await freePortBlock(1);
    srv = await startServer(`models:\n${demoModel('m', `proxy: http://127.0.0.1:${dead}\ncheckEndpoint: none`)}`);
    const r = await refused(wsUrl(srv, '/upstream/m/ws'));
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body).error.message).toMatch(/^bad gateway: upstream m unreachable: .*ECONNREFUSED/);
    await until(() => inFlight(srv!, 'm') === 0, 'the slot to be given back');
  });

  it("an upstream path that is no websocket: the upstream's answer is relayed", async () => {
    srv = await startServer(`models:\n${demoModel('m')}`);
    const r = await refused(wsUrl(srv, '/upstream/m/nows'));
    expect(r.status).toBe(404);
    expect(r.body).toBe('no socket');
    await until(() => inFlight(srv!, 'm') === 0, 'the slot to be given back');
  });
});

describe('compat.ignoreWebsockets', () => {
  const config = `models:\n${demoModel('m', 'compat:\n  ignoreWebsockets: true')}`;

  it('a websocket never starts the model: 409 while it is not loaded', async () => {
    srv = await startServer(config);
    const r = await refused(wsUrl(srv, '/upstream/m/ws'));
    expect(r.status).toBe(409);
    expect(JSON.parse(r.body)).toEqual(
      envelope('model m is not loaded; ignored websocket requests cannot start it', 'invalid_request_error', 'conflict'),
    );
    expect(srv.server.state().runtime.serving('m')).toBe(false);
  });

  it('passes through once loaded, taking no slot', async () => {
    srv = await startServer(config);
    expect((await fetch(`${srv.url}/upstream/m/health`)).status).toBe(200);
    const ws = await connected(wsUrl(srv, '/upstream/m/ws'));
    expect(await roundTrip(ws, 'x')).toBe('m: x');
    expect(inFlight(srv, 'm')).toBe(0);
    await closeWs(ws);
  });
});

describe('/comfyui', () => {
  it('without a comfyui_auto model: 404', async () => {
    srv = await startServer(`models:\n${demoModel('m')}`);
    const res = await fetch(`${srv.url}/comfyui/x`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual(envelope('local model comfyui_auto not found', 'invalid_request_error', 'not_found'));
  });

  it('redirects /comfyui, lets only /comfyui/ start the model, then proxies (websockets too)', async () => {
    srv = await startServer(`models:\n${demoModel('comfyui_auto')}`);
    const get = await fetch(`${srv.url}/comfyui?a=1`, { redirect: 'manual' });
    expect(get.status).toBe(301);
    expect(get.headers.get('location')).toBe('/comfyui/?a=1');
    const post = await fetch(`${srv.url}/comfyui`, { method: 'POST', redirect: 'manual' });
    expect(post.status).toBe(308);

    const early = await fetch(`${srv.url}/comfyui/health`);
    expect(early.status).toBe(409);
    expect(await early.json()).toEqual(
      envelope('model comfyui_auto is not loaded; only /comfyui/ can start it', 'invalid_request_error', 'conflict'),
    );
    const r = await refused(wsUrl(srv, '/comfyui/ws'));
    expect(r.status).toBe(409);
    expect(srv.server.state().runtime.serving('comfyui_auto')).toBe(false);

    // The root starts it (the demo upstream has no page there: its 404 passes through).
    const root = await fetch(`${srv.url}/comfyui/`);
    expect(await root.text()).toContain('no route for GET /');
    expect(srv.server.state().runtime.serving('comfyui_auto')).toBe(true);
    expect((await fetch(`${srv.url}/comfyui/health`)).status).toBe(200);
    const ws = await connected(wsUrl(srv, '/comfyui/ws'));
    expect(await roundTrip(ws, 'p')).toBe('comfyui_auto: p');
    // Forced ignoreWebsockets: the socket holds no slot.
    expect(inFlight(srv, 'comfyui_auto')).toBe(0);
    await closeWs(ws);
  });
});

describe('models.<id>.timeouts', () => {
  it('responseHeader: a slow upstream fails with 502 after it, on model routes and /upstream', async () => {
    srv = await startServer(`models:\n${demoModel('m', 'timeouts:\n  responseHeader: 1')}`);
    const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], delay_ms: 4000 });
    const headers = { 'content-type': 'application/json' };
    for (const path of ['/v1/chat/completions', '/upstream/m/v1/chat/completions']) {
      const started = performance.now();
      const res = await fetch(`${srv.url}${path}`, { method: 'POST', headers, body });
      const text = await res.text();
      expect(res.status, text).toBe(502);
      expect(text).toContain('timeout awaiting response headers');
      expect(performance.now() - started).toBeLessThan(3500);
    }
    // A fast answer is unaffected.
    const ok = await fetch(`${srv.url}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify({ model: 'm', messages: [] }) });
    expect(ok.status).toBe(200);
  });
});
