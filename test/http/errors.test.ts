/**
 * The error catalogue and its three renderings (and Go's plain mux answers). Unit level
 * through renderError; sendError against a real express app on port 0.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { envelopeTypeAndCode, fromSchedError, httpErrors } from '../../src/http/error-catalogue.ts';
import { errorEnvelope, escapeHtml, renderError, sendError } from '../../src/http/error-response.ts';
import { noModelReasonText, QUOTED_CLIENT_TEXT_MAX, quoteClientText, type NoModelReason } from '../../src/http/error-wording.ts';
import { HttpError } from '../../src/http/http-error.ts';

const {
  backingOff,
  badRequestTarget,
  clientError,
  crossSiteRefused,
  hostNotAllowed,
  ignoredPathNotLoaded,
  ignoredWebsocketNotLoaded,
  comfyuiNotFound,
  comfyuiNotLoaded,
  sleepNotEnabled,
  sleepNotIdle,
  inflightNotFound,
  invalidLogger,
  methodNotAllowed,
  modelNotFound,
  modelNotIdentified,
  noLocalServer,
  noRouter,
  payloadTooLarge,
  routeNotFound,
  shuttingDown,
  tooManyBufferedBodies,
  tooManyRequests,
  unauthorized,
  unhealthy,
  unspecific,
  upstreamUnreachable,
  peerProxyError,
} = httpErrors;

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
    [
      modelNotIdentified({ kind: 'json-sent-as-form' }),
      404,
      'no model id could be identified: the body looks like JSON, but its Content-Type is application/x-www-form-urlencoded ' +
        '(what curl -d sends): send the header "Content-Type: application/json"',
    ],
    [
      noRouter('lama-3', { closest: ['llama-3', 'llama-3-8b', 'qwen'], more: 0 }),
      404,
      'no router for requested model "lama-3": available models are llama-3, llama-3-8b, qwen',
    ],
    [noLocalServer(), 404, 'no local server found for requested model'],
    [noLocalServer('m'), 404, 'no local server found for requested model "m"'],
    [inflightNotFound(), 404, 'inflight request not found'],
    [modelNotFound('nope', { closest: ['a'], more: 0 }), 404, 'model not found: "nope"; available models are a'],
    [modelNotFound(null, { closest: [], more: 0 }), 404, 'model not found: the path names no model; no models are available'],
    [unauthorized(), 401, 'unauthorized: invalid or missing API key'],
    [tooManyRequests(), 429, 'Too many requests'],
    [unspecific('health check timed out after 2m0s'), 500, 'unspecific error: health check timed out after 2m0s'],
    [unhealthy('scheduler is not running (stopped)'), 503, 'scheduler is not running (stopped)'],
    [
      tooManyBufferedBodies(1024),
      503,
      'too many request bodies in memory at once (maxBufferedRequestBytes is 1024 bytes); retry shortly',
    ],
    [shuttingDown(), 503, 'swapstate is shutting down'],
    [upstreamUnreachable('m', 'connect ECONNREFUSED'), 502, 'bad gateway: upstream m unreachable: connect ECONNREFUSED'],
    [peerProxyError('connect ECONNREFUSED 127.0.0.1:9'), 502, 'peer proxy error: connect ECONNREFUSED 127.0.0.1:9'],
    [invalidLogger(), 400, "invalid logger. Use 'proxy', 'upstream' or a model's ID"],
    [ignoredPathNotLoaded('x'), 409, 'model x is not loaded; path matches upstream.ignorePaths'],
    [ignoredWebsocketNotLoaded('x'), 409, 'model x is not loaded; ignored websocket requests cannot start it'],
    [comfyuiNotFound(), 404, 'local model comfyui_auto not found'],
    [comfyuiNotLoaded(), 409, 'model comfyui_auto is not loaded; only /comfyui/ can start it'],
    [sleepNotEnabled('x'), 400, 'model x does not have sleep mode enabled (sleepMode: enable)'],
    [sleepNotIdle('x', 'busy'), 409, 'model x is busy: only a ready model with no request in flight can be put to sleep'],
    [unspecific('filter failed'), 500, 'unspecific error: filter failed'],
    [payloadTooLarge(1024), 413, 'request body is too large: limit is 1024 bytes'],
    [shuttingDown('boom'), 503, 'swapstate scheduler failed: boom'],
    [
      backingOff('b', 'upstream command exited prematurely', 4_000),
      503,
      'model b failed to start repeatedly; next try in 4s. Last error: upstream command exited prematurely',
    ],
    [
      hostNotAllowed('evil.example'),
      403,
      'host "evil.example" is not a name of this server; a web page may have rebound its DNS name to it. ' +
        'Add the name to allowedHosts in the config (or set apiKeys) to allow it',
    ],
    [
      crossSiteRefused('https://a.example', true),
      403,
      'cross-site request from origin "https://a.example" refused: add the origin to allowedOrigins in the config, or send the API key as a Bearer token',
    ],
    [crossSiteRefused(null, false), 403, 'cross-site request from another site refused: add the origin to allowedOrigins in the config'],
    [clientError(400, 'Failed to decode param'), 400, 'Failed to decode param'],
    [routeNotFound(), 404, '404 page not found'],
    [methodNotAllowed('GET, HEAD'), 405, 'Method Not Allowed'],
    [badRequestTarget(), 400, '400 Bad Request'],
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

describe('every catalogue entry', () => {
  // One example call per entry: an entry added to the catalogue without one here fails to compile.
  const examples: { [K in keyof typeof httpErrors]: Parameters<(typeof httpErrors)[K]> } = {
    modelNotIdentified: [{ kind: 'empty-body' }],
    noRouter: ['q', { closest: ['a'], more: 0 }],
    noLocalServer: ['m'],
    modelNotFound: ['q', { closest: [], more: 0 }],
    upstreamModelDisabled: ['coder', 'fast'],
    unauthorized: [],
    hostNotAllowed: ['h'],
    crossSiteRefused: ['https://a.example', false],
    payloadTooLarge: [1],
    tooManyBufferedBodies: [1],
    tooManyRequests: [],
    unspecific: ['x'],
    shuttingDown: [],
    noSpilloverTargets: ['s'],
    backingOff: ['m', 'x', 1000],
    upstreamUnreachable: ['m', 'x'],
    peerProxyError: ['x'],
    upstreamStatusInStream: ['m', 404, 'no route'],
    ignoredPathNotLoaded: ['m'],
    ignoredWebsocketNotLoaded: ['m'],
    comfyuiNotFound: [],
    comfyuiNotLoaded: [],
    sleepNotEnabled: ['m'],
    sleepNotIdle: ['m', 'busy'],
    unhealthy: ['x'],
    invalidLogger: [],
    invalidProfileRequest: [],
    profileNameRequired: [],
    profileNameNotString: [],
    profileNotFound: ['x'],
    inflightNotFound: [],
    badActivityQuery: ['invalid limit'],
    invalidCaptureId: [],
    captureNotFound: [],
    clientError: [418, 'x'],
    routeNotFound: [],
    methodNotAllowed: ['GET, HEAD'],
    badRequestTarget: [],
  };
  const make = (name: keyof typeof httpErrors): HttpError => (httpErrors[name] as (...args: unknown[]) => HttpError)(...examples[name]);

  it.each(Object.keys(examples) as Array<keyof typeof httpErrors>)('%s is an error status with a message and an envelope', (name) => {
    const err = make(name);
    expect(err).toBeInstanceOf(HttpError);
    expect(err.status).toBeGreaterThanOrEqual(400);
    expect(err.status).toBeLessThan(600);
    expect(err.message).not.toBe('');
    if (err.plain) return;
    const table = envelopeTypeAndCode(err.status);
    expect(json(err)).toEqual({ src: 'swapstate', error: { message: err.message, type: err.type ?? table.type, param: null, code: err.code ?? table.code } });
  });

  it("Go's mux answers stay plain text whatever the client accepts, with no product prefix", () => {
    for (const accept of [undefined, 'text/html', 'text/plain', 'application/json']) {
      const out = renderError(accept, methodNotAllowed('GET, HEAD, POST'));
      expect(out.status).toBe(405);
      expect(out.headers).toMatchObject({ 'Content-Type': 'text/plain; charset=utf-8', Allow: 'GET, HEAD, POST' });
      expect(out.body).toBe('Method Not Allowed');
    }
    expect(renderError('text/html', routeNotFound()).body).toBe('404 page not found');
    expect(renderError(undefined, badRequestTarget()).headers).toMatchObject({ Connection: 'close', 'Content-Type': 'text/plain; charset=utf-8' });
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
    expect(errorEnvelope(modelNotIdentified())).toBe(
      '{"src":"swapstate","error":{"message":"no model id could be identified","type":"invalid_request_error","param":null,"code":"not_found"}}',
    );
    expect(errorEnvelope(new HttpError(500, 'x', { code: '' }))).toBe(
      '{"src":"swapstate","error":{"message":"x","type":"server_error","param":null}}',
    );
  });

  it('escapes <, > and & like Go encoding/json', () => {
    const body = errorEnvelope(unspecific(`failed to start command '<a & b>'`));
    expect(body).toContain('"unspecific error: failed to start command \'\\u003ca \\u0026 b\\u003e\'"');
    expect((JSON.parse(body) as { error: { message: string } }).error.message).toBe(
      "unspecific error: failed to start command '<a & b>'",
    );
  });
});

describe('Accept negotiation', () => {
  it('text/plain wins, even over text/html listed first', () => {
    const out = renderError('text/html, text/plain;q=0.1', modelNotIdentified());
    expect(out.headers['Content-Type']).toBe('text/plain');
    expect(out.body).toBe('swapstate: no model id could be identified');
  });

  it('text/html gets the page with the message escaped like Go html.EscapeString', () => {
    const out = renderError(['text/html'], new HttpError(400, `<b>"it's" & more</b>`));
    expect(out.headers['Content-Type']).toBe('text/html');
    expect(out.body).toBe(
      '<html><body><h1>swapstate</h1><p>&lt;b&gt;&#34;it&#39;s&#34; &amp; more&lt;/b&gt;</p></body></html>',
    );
  });

  it('anything else gets JSON', () => {
    expect(renderError('application/json', modelNotIdentified()).headers['Content-Type']).toBe('application/json');
    expect(renderError('*/*', modelNotIdentified()).headers['Content-Type']).toBe('application/json');
    expect(renderError(undefined, modelNotIdentified()).headers['Content-Length']).toBe(
      String(Buffer.byteLength(errorEnvelope(modelNotIdentified()))),
    );
  });

  it('escapeHtml covers the five characters', () => {
    expect(escapeHtml(`&'<>"x`)).toBe('&amp;&#39;&lt;&gt;&#34;x');
  });
});

describe('fromSchedError', () => {
  it('unknown model keeps llama-swap text first, then names the model', () => {
    const e = fromSchedError({ code: 'MODEL_NOT_FOUND', message: 'no local server found for requested model: foo' }, { model: 'foo' });
    expect([e.status, e.message]).toEqual([404, 'no local server found for requested model "foo"']);
    expect(fromSchedError({ code: 'MODEL_NOT_FOUND', message: 'x' }).message).toBe('no local server found for requested model');
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
    const b = fromSchedError({ code: 'MODEL_UNLOADED' });
    expect([b.status, b.message]).toEqual([500, 'unspecific error: swapstate: model unloaded']);
  });

  it('a failed start says how long the request waited, and that it was retried after an eviction (issue 11)', () => {
    const timeout = { code: 'SWAP_FAILED', message: 'health check timed out after 15s' } as const;
    // Retried once after evicting b: the client waited two health-check timeouts and the retry delay.
    expect(fromSchedError({ ...timeout, retriedAfterEvicting: ['b'] }, { waitedMs: 31_234 }).message).toBe(
      'unspecific error: health check timed out after 15s (the request waited 31.2s: the start was retried once after evicting b)',
    );
    expect(fromSchedError({ ...timeout, retriedAfterEvicting: ['b', 'c'] }, { waitedMs: 800 }).message).toBe(
      'unspecific error: health check timed out after 15s (the request waited 0.8s: the start was retried once after evicting b, c)',
    );
    // Not retried: a timeout still says what the client waited (an eviction before the start, say).
    expect(fromSchedError(timeout, { waitedMs: 35_060 }).message).toBe(
      'unspecific error: health check timed out after 15s (the request waited 35.1s)',
    );
    // Other failures state no duration: unchanged unless retried, however long they took.
    const crash = { code: 'SWAP_FAILED', message: 'upstream command exited prematurely (exit code 1)' } as const;
    expect(fromSchedError(crash, { waitedMs: 9_000 }).message).toBe('unspecific error: upstream command exited prematurely (exit code 1)');
    expect(fromSchedError({ ...crash, retriedAfterEvicting: ['b'] }, { waitedMs: 1_300 }).message).toBe(
      'unspecific error: upstream command exited prematurely (exit code 1) (the request waited 1.3s: the start was retried once after evicting b)',
    );
    expect(fromSchedError(crash).message).toBe('unspecific error: upstream command exited prematurely (exit code 1)');
  });

  it('shutting down is 503 (llama-swap: 500)', () => {
    const a = fromSchedError({ code: 'SHUTTING_DOWN' });
    expect([a.status, a.message]).toEqual([503, 'swapstate is shutting down']);
    expect(fromSchedError({ code: 'SHUTTING_DOWN', message: '' }).message).toBe('swapstate is shutting down');
    // The scheduler actor failed: its error says why.
    expect(fromSchedError({ code: 'SHUTTING_DOWN', message: 'boom' }).message).toBe('swapstate scheduler failed: boom');
  });

  it('a model backing off is 503 with the wait and the last error (the core gives the facts, the catalogue the words)', () => {
    const e = fromSchedError({ code: 'BACKING_OFF', model: 'b', message: 'upstream command exited prematurely', retryAfterMs: 4_000 });
    expect([e.status, e.message]).toEqual([
      503,
      'model b failed to start repeatedly; next try in 4s. Last error: upstream command exited prematurely',
    ]);
    expect(e.code).toBe('model_backing_off');
    expect(e.headers).toEqual({ 'Retry-After': '4' });
    // A wait under a second still asks for one: Retry-After: 0 would mean at once.
    expect(fromSchedError({ code: 'BACKING_OFF', model: 'b', message: 'x', retryAfterMs: 200 }).headers).toEqual({ 'Retry-After': '1' });
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
          sendError(req, res, unspecific('late'));
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
      expect(() => sendError(req, res, unspecific('late'))).not.toThrow();
    });
    const base = await listen(app);
    const r = await fetch(`${base}/done`);
    expect(await r.text()).toBe('fine');
  });
});

describe('client text in messages (issue 11)', () => {
  it('quotes a model name JSON-style and cuts it at 100 characters', () => {
    expect(quoteClientText('lama-3')).toBe('"lama-3"');
    expect(quoteClientText('a"b\nc')).toBe('"a\\"b\\nc"');
    const long = quoteClientText('x'.repeat(60_000));
    expect(long).toBe(`"${'x'.repeat(QUOTED_CLIENT_TEXT_MAX)}"…`);
    // Never half of a surrogate pair.
    expect(quoteClientText(`${'x'.repeat(99)}😀tail`)).toBe(`"${'x'.repeat(99)}"…`);
  });

  it('a 60 KB model name makes a short error, escaped once more in the envelope', () => {
    const err = noRouter(`${'x'.repeat(60 * 1024)}"<`, { closest: ['a'], more: 0 });
    expect(err.message.length).toBeLessThan(200);
    const body = errorEnvelope(noRouter('a"<b', { closest: ['a'], more: 0 }));
    expect(body).toContain('no router for requested model \\"a\\\\\\"\\u003cb\\"');
    expect((JSON.parse(body) as { error: { message: string } }).error.message).toBe(
      'no router for requested model "a\\"<b": available models are a',
    );
  });

  it('lists at most the ten names it was given and counts the rest', () => {
    const closest = Array.from({ length: 10 }, (_, i) => `m${i}`);
    expect(noRouter('q', { closest, more: 5 }).message).toBe(
      `no router for requested model "q": available models are ${closest.join(', ')} and 5 more (GET /v1/models lists them all)`,
    );
    expect(noRouter('q', { closest: [], more: 0 }).message).toBe('no router for requested model "q": no models are available');
  });

  it.each<[NoModelReason, string]>([
    [{ kind: 'get-without-query' }, 'a GET request names its model in the query string: add ?model= with a model id or alias'],
    [{ kind: 'empty-body' }, 'the body is empty: send a JSON object with a "model" field'],
    [{ kind: 'invalid-json', detail: 'Unexpected end of JSON input' }, 'the body is not valid JSON (Unexpected end of JSON input)'],
    [{ kind: 'invalid-json' }, 'the body is not valid JSON'],
    [{ kind: 'json-not-object', got: 'an array' }, 'the JSON body is an array, not an object with a "model" field'],
    [{ kind: 'no-model-field', source: 'json' }, 'the JSON body has no "model" field'],
    [{ kind: 'no-model-field', source: 'multipart' }, 'the multipart form has no "model" field (and the query no ?model=)'],
    [{ kind: 'no-model-field', source: 'form' }, 'the form has no "model" field (and the query no ?model=)'],
    [{ kind: 'empty-model-field', source: 'json', value: 'null' }, 'the JSON body\'s "model" field is null'],
    [{ kind: 'empty-model-field', source: 'json', value: 'empty' }, 'the JSON body\'s "model" field is empty'],
    [{ kind: 'empty-model-field', source: 'query', value: 'empty' }, 'the "model" query parameter is empty'],
    [{ kind: 'multipart-unreadable', detail: 'Unexpected end of form' }, 'the multipart body cannot be read (Unexpected end of form)'],
    [{ kind: 'form-too-large', limit: 10 }, 'the form body is over 10 bytes, so its fields are not read'],
    [
      { kind: 'body-not-read', contentType: 'text/plain', emptyBody: false },
      'the body is not read as JSON because its Content-Type is "text/plain": send the header "Content-Type: application/json"',
    ],
    [
      { kind: 'body-not-read', contentType: null, emptyBody: false },
      'the body is not read as JSON because the request has no Content-Type: send the header "Content-Type: application/json"',
    ],
    [
      { kind: 'body-not-read', contentType: null, emptyBody: true },
      'the request has no body and no ?model=: send a JSON object with a "model" field and the header "Content-Type: application/json"',
    ],
  ])('no model: %o', (reason, text) => {
    expect(noModelReasonText(reason)).toBe(text);
    expect(modelNotIdentified(reason).message).toBe(`no model id could be identified: ${text}`);
    expect(modelNotIdentified(reason).status).toBe(404);
  });
});
