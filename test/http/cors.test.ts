/** CORS preflight and the /v1/models origin echo. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { corsPreflight, DEFAULT_ALLOW_HEADERS, echoOrigin, preflightHeaders, sanitizeRequestHeaders } from '../../src/http/cors.ts';

describe('sanitizeRequestHeaders', () => {
  it.each([
    ['Content-Type, Authorization', 'Content-Type, Authorization'],
    ['  X-Custom ,  Accept ', 'X-Custom, Accept'],
    ['content-type,x-stainless-os,,', 'content-type, x-stainless-os'],
    ['Valid, Bad Header', 'Valid'],
    ['Bad@Header', ''],
    ['a<script>, b', 'b'],
    ["x-!#$%&'*+-.^_`|~0Z", "x-!#$%&'*+-.^_`|~0Z"],
  ])('%j -> %j', (input, out) => {
    expect(sanitizeRequestHeaders(input)).toBe(out);
  });

  it('falls back to the default list only when nothing was requested', () => {
    expect(preflightHeaders({})['Access-Control-Allow-Headers']).toBe(DEFAULT_ALLOW_HEADERS);
    expect(preflightHeaders({ 'access-control-request-headers': 'Bad Header' })['Access-Control-Allow-Headers']).toBe('');
  });
});

const servers: http.Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

async function start(): Promise<string> {
  const app = express();
  app.use(corsPreflight());
  app.use((_req, res, next) => {
    // Stands for the auth that preflights must never reach.
    if (_req.headers['x-api-key'] !== 'k') {
      res.status(401).end();
      return;
    }
    next();
  });
  app.get('/v1/models', (req, res) => {
    echoOrigin(req, res);
    res.json({ data: [] });
  });
  const server = http.createServer(app);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('corsPreflight', () => {
  it('answers OPTIONS on any path with 204 and the exact headers, before auth', async () => {
    const base = await start();
    for (const path of ['/v1/chat/completions', '/does/not/exist', '/']) {
      const r = await fetch(`${base}${path}`, {
        method: 'OPTIONS',
        headers: { origin: 'http://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, x-bad header, authorization' },
      });
      expect(r.status).toBe(204);
      expect(r.headers.get('access-control-allow-origin')).toBe('*');
      expect(r.headers.get('access-control-allow-methods')).toBe('GET, POST, PUT, PATCH, DELETE, OPTIONS');
      expect(r.headers.get('access-control-allow-headers')).toBe('content-type, authorization');
      expect(r.headers.get('access-control-max-age')).toBe('86400');
      expect(await r.text()).toBe('');
    }
  });

  it('uses the default header list when none are requested', async () => {
    const base = await start();
    const r = await fetch(`${base}/v1/models`, { method: 'OPTIONS' });
    expect(r.headers.get('access-control-allow-headers')).toBe('Content-Type, Authorization, Accept, X-Requested-With');
  });

  it('leaves other methods alone', async () => {
    const base = await start();
    const r = await fetch(`${base}/v1/models`, { headers: { 'x-api-key': 'k' } });
    expect(r.status).toBe(200);
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('echoOrigin', () => {
  it('echoes the Origin on /v1/models, and nothing without one', async () => {
    const base = await start();
    const r = await fetch(`${base}/v1/models`, { headers: { 'x-api-key': 'k', origin: 'http://app.example:3000' } });
    expect(r.headers.get('access-control-allow-origin')).toBe('http://app.example:3000');
  });
});
