/**
 * The route list: every route is recorded as data by its module and registered from that
 * record, and the same records decide Go's 404 and 405 with `Allow` (reference 3.1, 3.6).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { allowedMethods } from '../../src/http/allowed-methods.ts';
import { appRoutes } from '../../src/http/app.ts';
import type { AppDeps } from '../../src/http/deps.ts';
import { modelRoutes } from '../../src/http/model-routes.ts';
import { mountRoutes, RouteList, under, type Route } from '../../src/http/route-list.ts';
import { MODEL_ROUTES } from '../../src/http/route-table.ts';

// Building the lists reads no dependency: handlers read them per request.
const deps = {} as AppDeps;
const show = (r: Route) => `${r.method ?? 'ANY'} ${r.path}${r.prefix ? '*' : ''}${r.guarded ? '' : ' (public)'}`;

describe('the registered routes', () => {
  it("are llama-swap's, in the order they are tried, public ones first", () => {
    expect(appRoutes(deps).map(show)).toEqual([
      'GET /health (public)',
      'GET /wol-health (public)',
      'GET / (public)',
      'GET /upstream (public)',
      'ANY /upstream (public)',
      'GET /v1/models',
      'GET /models',
      'GET /running',
      'GET /api/version',
      'GET /api/state',
      'GET /unload',
      'POST /api/models/unload',
      'POST /api/models/unload/*',
      'POST /api/models/sleep/*',
      'GET /metrics',
      'GET /api/profiles',
      'PUT /api/profiles/active',
      'GET /api/events',
      'POST /api/inflight/*',
      'GET /api/metrics/activity',
      'GET /api/metrics/stats',
      'GET /api/captures/*',
      'GET /api/machines/process',
      'GET /ui',
      'GET /ui/*',
      'GET /logs',
      'GET /logs/stream',
      'GET /logs/stream/*',
      'ANY /upstream/*',
      'ANY /comfyui',
      'ANY /comfyui/*',
    ]);
  });

  it('the model routes are the route table, exact and guarded', () => {
    expect(modelRoutes(deps).routes.map(show)).toEqual(MODEL_ROUTES.map((r) => `${r.method} ${r.path}`));
  });
});

describe('allowedMethods (Go 405)', () => {
  const noop = () => undefined;
  const routes = [
    ...new RouteList(false).get('/health', noop).routes,
    ...new RouteList().get('/v1/audio/voices', noop).post('/v1/audio/voices', noop).post(under('/api/inflight/'), noop).routes,
    ...new RouteList().get(under('/ui/'), noop).all(under('/upstream/'), noop).routes,
  ];

  it('lists every method of every route taking the path, HEAD with GET, sorted', () => {
    expect(allowedMethods(routes, '/v1/audio/voices')).toBe('GET, HEAD, POST');
    expect(allowedMethods(routes, '/health')).toBe('GET, HEAD');
    expect(allowedMethods(routes, '/api/inflight/x/cancel')).toBe('POST');
    expect(allowedMethods(routes, '/ui/a/b')).toBe('GET, HEAD');
  });

  it('null (404) when no route takes the path; paths are exact, prefixes take what is under them', () => {
    expect(allowedMethods(routes, '/v1/audio/voices/')).toBeNull();
    expect(allowedMethods(routes, '/api/inflight')).toBeNull();
    expect(allowedMethods(routes, '/nope')).toBeNull();
    // A route of any method never leads to a 405.
    expect(allowedMethods(routes, '/upstream/m/x')).toBeNull();
  });
});

describe('mountRoutes', () => {
  const servers: http.Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
  });

  async function serve(routes: Route[]): Promise<string> {
    const app = express();
    app.set('strict routing', true);
    app.set('case sensitive routing', true);
    const guard = (req: http.IncomingMessage, res: http.ServerResponse, next: () => void) => {
      if (req.headers.authorization === 'ok') return next();
      res.statusCode = 401;
      res.end('guard');
    };
    mountRoutes(app, routes, guard);
    app.use((_req, res) => void res.status(404).end('none'));
    const server = http.createServer(app);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  const said = (what: string) => (req: express.Request, res: express.Response) => void res.end(`${what} ${req.method} ${req.originalUrl}`);

  it('puts guarded routes behind the guard and public ones not', async () => {
    const base = await serve([...new RouteList(false).get('/open', said('open')).routes, ...new RouteList().get('/shut', said('shut')).routes]);
    expect(await (await fetch(`${base}/open`)).text()).toBe('open GET /open');
    expect(await (await fetch(`${base}/shut`)).text()).toBe('guard');
    expect(await (await fetch(`${base}/shut`, { headers: { authorization: 'ok' } })).text()).toBe('shut GET /shut');
  });

  it('matches exact paths exactly, prefixes without decoding, HEAD with GET, any method with all', async () => {
    const base = await serve(
      new RouteList(false).get('/a', said('a')).post(under('/p.x/'), said('p')).all(under('/any/'), said('any')).routes,
    );
    expect((await fetch(`${base}/a/`)).status).toBe(404);
    expect((await fetch(`${base}/A`)).status).toBe(404);
    expect((await fetch(`${base}/a`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${base}/a`, { method: 'POST' })).status).toBe(404);
    // An undecodable escape reaches the handler as written (Express would answer 400).
    expect(await (await fetch(`${base}/p.x/%ff`, { method: 'POST' })).text()).toBe('p POST /p.x/%ff');
    // The prefix is literal: `.` is no wildcard.
    expect((await fetch(`${base}/pax/1`, { method: 'POST' })).status).toBe(404);
    expect(await (await fetch(`${base}/any/1`, { method: 'DELETE' })).text()).toBe('any DELETE /any/1');
  });
});
