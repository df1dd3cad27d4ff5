/**
 * The error catalogue and its three renderings. Unit level through renderError; sendError
 * against a real express app on port 0.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import {
  badGateway,
  badRequest,
  conflict,
  envelopeTypeAndCode,
  errorEnvelope,
  escapeHtml,
  fromSchedError,
  HttpError,
  internalError,
  modelNotFound,
  modelNotIdentified,
  noLocalServer,
  noPeer,
  noRouter,
  notReady,
  payloadTooLarge,
  peerProxyError,
  renderError,
  sendError,
  serviceUnavailable,
  shuttingDown,
  swapFailed,
  tooManyRequests,
  unauthorized,
} from '../../src/http/errors.ts';

const servers: http.Server[] = [];

async function listen(app: express.Express): Promise<string> {
  const server = http.createServer(app);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

const json = (err: HttpError): unknown => JSON.parse(renderError(undefined, err).body);

describe('catalogue', () => {
  it.each([
    [modelNotIdentified(), 404, 'no model id could be identified'],
    [noRouter(), 404, 'no router for requested model'],
    [noLocalServer(), 404, 'no local server found for requested model'],
    [noPeer(), 404, 'no peer found for requested model'],
    [modelNotFound(), 404, 'model not found'],
    [unauthorized(), 401, 'unauthorized: invalid or missing API key'],
    [tooManyRequests(), 429, 'Too many requests'],
    [swapFailed('health check timed out after 2m0s'), 500, 'unspecific error: health check timed out after 2m0s'],
    [notReady('llama'), 503, '[llama] process is not ready'],
    [serviceUnavailable('selector "x" has no available spillover targets'), 503, 'selector "x" has no available spillover targets'],
    [shuttingDown(), 503, 'swapstate is shutting down'],
    [badGateway('boom'), 502, 'boom'],
    [peerProxyError('dial tcp: refused'), 502, 'peer proxy error: dial tcp: refused'],
    [badRequest('bad'), 400, 'bad'],
    [conflict('model x is not loaded; ignored websocket requests cannot start it'), 409, 'model x is not loaded; ignored websocket requests cannot start it'],
    [internalError('filter failed'), 500, 'filter failed'],
    [payloadTooLarge(1024), 413, 'request body is too large: limit is 1024 bytes'],
  ])('%o', (err, status, message) => {
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toBeInstanceOf(Error);
    expect(err.status).toBe(status);
    expect(err.message).toBe(message);
  });

  it('401 carries the Basic challenge with our realm', () => {
    expect(unauthorized().headers).toEqual({ 'WWW-Authenticate': 'Basic realm="swapstate"' });
    expect(json(unauthorized())).toEqual({
      src: 'swapstate',
      error: { message: 'unauthorized: invalid or missing API key', type: 'authentication_error', param: null, code: 'unauthorized' },
    });
  });

  it('429 is llama-swap concurrency body byte for byte, with Retry-After: 1', () => {
    const out = renderError(undefined, tooManyRequests());
    expect(out.status).toBe(429);
    expect(out.headers['Retry-After']).toBe('1');
    expect(out.headers['Content-Type']).toBe('application/json');
    expect(out.body).toBe(
      '{"src":"swapstate","error":{"message":"Too many requests","type":"rate_limit_error","param":null,"code":"concurrency_limit"}}',
    );
  });

  it('413 says payload_too_large as an invalid_request_error', () => {
    expect(json(payloadTooLarge(5))).toMatchObject({ error: { type: 'invalid_request_error', code: 'payload_too_large' } });
  });
});

describe('envelope', () => {
  it.each([
    [400, 'invalid_request_error', 'bad_request'],
    [401, 'authentication_error', 'unauthorized'],
    [403, 'authentication_error', 'forbidden'],
    [404, 'invalid_request_error', 'not_found'],
    [409, 'invalid_request_error', 'conflict'],
    [429, 'rate_limit_error', 'rate_limit_exceeded'],
    [502, 'server_error', 'bad_gateway'],
    [503, 'server_error', 'service_unavailable'],
    [504, 'server_error', 'gateway_timeout'],
    [418, 'invalid_request_error', 'invalid_request'],
    [413, 'invalid_request_error', 'invalid_request'],
    [500, 'server_error', 'internal_error'],
    [507, 'server_error', 'internal_error'],
  ])('status %i -> %s / %s', (status, type, code) => {
    expect(envelopeTypeAndCode(status)).toEqual({ type, code });
    expect(json(new HttpError(status, 'm'))).toEqual({ src: 'swapstate', error: { message: 'm', type, param: null, code } });
  });

  it('keeps the key order of llama-swap and omits an empty code', () => {
    expect(errorEnvelope(noRouter())).toBe(
      '{"src":"swapstate","error":{"message":"no router for requested model","type":"invalid_request_error","param":null,"code":"not_found"}}',
    );
    expect(errorEnvelope(new HttpError(500, 'x', { code: '' }))).toBe(
      '{"src":"swapstate","error":{"message":"x","type":"server_error","param":null}}',
    );
  });

  it('escapes <, > and & like Go encoding/json', () => {
    const body = errorEnvelope(swapFailed(`failed to start command '<a & b>'`));
    expect(body).toContain('"unspecific error: failed to start command \'\\u003ca \\u0026 b\\u003e\'"');
    expect((JSON.parse(body) as { error: { message: string } }).error.message).toBe(
      "unspecific error: failed to start command '<a & b>'",
    );
  });
});

describe('Accept negotiation', () => {
  it('text/plain wins, even over text/html listed first', () => {
    const out = renderError('text/html, text/plain;q=0.1', noRouter());
    expect(out.headers['Content-Type']).toBe('text/plain');
    expect(out.body).toBe('swapstate: no router for requested model');
  });

  it('text/html gets the page with the message escaped like Go html.EscapeString', () => {
    const out = renderError(['text/html'], new HttpError(400, `<b>"it's" & more</b>`));
    expect(out.headers['Content-Type']).toBe('text/html');
    expect(out.body).toBe(
      '<html><body><h1>swapstate</h1><p>&lt;b&gt;&#34;it&#39;s&#34; &amp; more&lt;/b&gt;</p></body></html>',
    );
  });

  it('anything else gets JSON', () => {
    expect(renderError('application/json', noRouter()).headers['Content-Type']).toBe('application/json');
    expect(renderError('*/*', noRouter()).headers['Content-Type']).toBe('application/json');
    expect(renderError(undefined, noRouter()).headers['Content-Length']).toBe(
      String(Buffer.byteLength(errorEnvelope(noRouter()))),
    );
  });

  it('escapeHtml covers the five characters', () => {
    expect(escapeHtml(`&'<>"x`)).toBe('&amp;&#39;&lt;&gt;&#34;x');
  });
});

describe('fromSchedError', () => {
  it('unknown model keeps llama-swap text, without the core suffix', () => {
    const e = fromSchedError({ code: 'MODEL_NOT_FOUND', message: 'no local server found for requested model: foo' });
    expect([e.status, e.message]).toEqual([404, 'no local server found for requested model']);
  });

  it('concurrency limit is the 429', () => {
    const e = fromSchedError({ code: 'CONCURRENCY_LIMIT', message: 'Too many requests' });
    expect(e.status).toBe(429);
    expect(e.code).toBe('concurrency_limit');
    expect(e.headers).toEqual({ 'Retry-After': '1' });
  });

  it('swap failures and unloads are 500 unspecific errors', () => {
    const a = fromSchedError({ code: 'SWAP_FAILED', message: 'upstream command exited prematurely' });
    expect([a.status, a.message]).toEqual([500, 'unspecific error: upstream command exited prematurely']);
    const b = fromSchedError({ code: 'MODEL_UNLOADED', message: 'swapstate: model unloaded' });
    expect([b.status, b.message]).toEqual([500, 'unspecific error: swapstate: model unloaded']);
  });

  it('shutting down is 503 (llama-swap: 500)', () => {
    const a = fromSchedError({ code: 'SHUTTING_DOWN', message: 'swapstate is shutting down' });
    expect([a.status, a.message]).toEqual([503, 'swapstate is shutting down']);
    expect(fromSchedError({ code: 'SHUTTING_DOWN', message: '' }).message).toBe('swapstate is shutting down');
  });
});

describe('sendError over HTTP', () => {
  it('writes status, extra headers, exact content type and body', async () => {
    const app = express();
    app.get('/x', (req, res) => sendError(req, res, unauthorized()));
    const base = await listen(app);

    const r = await fetch(`${base}/x`);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Basic realm="swapstate"');
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(await r.json()).toMatchObject({ src: 'swapstate', error: { code: 'unauthorized' } });

    const t = await fetch(`${base}/x`, { headers: { accept: 'text/plain' } });
    expect(t.headers.get('content-type')).toBe('text/plain');
    expect(await t.text()).toBe('swapstate: unauthorized: invalid or missing API key');
  });

  it('does not throw once headers are sent; the response is aborted instead', async () => {
    let threw: unknown = 'not called';
    const app = express();
    app.get('/stream', (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n', () => {
        try {
          sendError(req, res, swapFailed('late'));
          threw = null;
        } catch (err) {
          threw = err;
        }
      });
    });
    const base = await listen(app);
    const r = await fetch(`${base}/stream`);
    expect(r.status).toBe(200);
    await expect(r.text()).rejects.toThrow();
    expect(threw).toBeNull();
  });

  it('is a no-op on a finished response', async () => {
    const app = express();
    app.get('/done', (req, res) => {
      res.end('fine');
      expect(() => sendError(req, res, swapFailed('late'))).not.toThrow();
    });
    const base = await listen(app);
    const r = await fetch(`${base}/done`);
    expect(await r.text()).toBe('fine');
  });
});
