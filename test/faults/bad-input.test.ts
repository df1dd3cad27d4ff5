/**
 * The bad input catalogue: request bodies, model names, routes, methods, headers and sizes
 * that a client gets wrong. Every row gets a clear 4xx (the error envelope, or Go's plain
 * 404/405/400 where llama-swap answers with those), starts no model, and leaves the server
 * serving. Test names are the catalogue's row names, so the docs can link each row to its test.
 *
 * One server for the whole file; no row may spawn a model process, so the last test is the
 * only one that starts one.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';
import {
  chatBody,
  expectEnvelope,
  expectEnvelopeMatching,
  expectNoModelStarted,
  expectPlain,
  expectServing,
  parseResponse,
  postBytes,
  rawExchange,
  rawHead,
  request,
  type RawResponse,
} from './helpers.ts';

const LIMIT = 1_048_576;

let srv: RunningServer;

beforeAll(async () => {
  srv = await startServer(`maxRequestBodyBytes: ${LIMIT}
models:
${demoModel('a', '', '--load-delay 0')}
${demoModel('b', '', '--load-delay 0')}
`);
});

afterAll(async () => {
  await srv?.stop();
});

/** llama-swap's 404 text, then why (issue 11). */
const NO_MODEL = (why: string) => `no model id could be identified: ${why}`;
/** The parser's own words follow (they vary by Node version). */
const INVALID_JSON = /^no model id could be identified: the body is not valid JSON \(.+\)$/;
/** llama-swap's 404 text, then the name asked for (JSON-quoted) and the models there are. */
const NO_ROUTER = (quoted: string) => `no router for requested model ${quoted}: available models are a, b`;

/** 10 kB of model name: routed nowhere, echoed only as its first 100 characters, and never into a log line. */
const LONG_NAME = `long-${'x'.repeat(10 * 1024)}`;

interface Row {
  name: string;
  send(url: string): Promise<RawResponse>;
  check(res: RawResponse): void;
}

const envelope = (status: number, message: string) => (res: RawResponse) => expectEnvelope(res, status, message);
const plain = (status: number, body: string, allow?: string) => (res: RawResponse) => expectPlain(res, status, body, allow);

/** The catalogue of bad bodies and model values on a model route. */
const bodyRows: Row[] = [
  {
    name: 'malformed JSON body with JSON content type',
    send: (url) => postBytes(url, '{"model":"a","messages":[{"role":"user","content":"hi"}'),
    check: (res) => expectEnvelopeMatching(res, 404, INVALID_JSON),
  },
  {
    // curl -d sends urlencoded; fetch sends text/plain. llama-swap reads no model from either.
    name: 'JSON without a JSON content type',
    send: async (url) => {
      const text = await postBytes(url, chatBody('a'), 'text/plain;charset=UTF-8');
      expectEnvelope(
        text,
        404,
        NO_MODEL('the body is not read as JSON because its Content-Type is "text/plain": send the header "Content-Type: application/json"'),
      );
      return postBytes(url, chatBody('a'), 'application/x-www-form-urlencoded');
    },
    check: envelope(
      404,
      NO_MODEL(
        'the body looks like JSON, but its Content-Type is application/x-www-form-urlencoded (what curl -d sends): ' +
          'send the header "Content-Type: application/json"',
      ),
    ),
  },
  {
    name: 'model missing',
    send: (url) => postBytes(url, JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] })),
    check: envelope(404, NO_MODEL('the JSON body has no "model" field')),
  },
  {
    name: 'model empty string',
    send: (url) => postBytes(url, chatBody('')),
    check: envelope(404, NO_MODEL('the JSON body\'s "model" field is empty')),
  },
  // Non-strings are stringified as gjson does ("42", '{"id":"a"}', '["a"]', "true"): no such
  // model. null stringifies to "", which names no model at all.
  { name: 'model not a string: number', send: (url) => postBytes(url, chatBody(42)), check: envelope(404, NO_ROUTER('"42"')) },
  {
    name: 'model not a string: object',
    send: (url) => postBytes(url, chatBody({ id: 'a' })),
    check: envelope(404, NO_ROUTER('"{\\"id\\":\\"a\\"}"')),
  },
  { name: 'model not a string: array', send: (url) => postBytes(url, chatBody(['a'])), check: envelope(404, NO_ROUTER('"[\\"a\\"]"')) },
  {
    name: 'model not a string: null',
    send: (url) => postBytes(url, chatBody(null)),
    check: envelope(404, NO_MODEL('the JSON body\'s "model" field is null')),
  },
  { name: 'model not a string: true', send: (url) => postBytes(url, chatBody(true)), check: envelope(404, NO_ROUTER('"true"')) },
  {
    name: 'a 10 kB long model name',
    send: (url) => postBytes(url, chatBody(LONG_NAME)),
    check: (res) => {
      // llama-swap's text, then the name cut to 100 characters: a short answer, whatever the name.
      expectEnvelope(res, 404, NO_ROUTER(`"${LONG_NAME.slice(0, 100)}"…`));
      expect(res.body.length).toBeLessThan(400);
      expect(srv.logs.proxy.history()).not.toContain('x'.repeat(100));
    },
  },
  {
    // A UTF-16 body (with its byte order mark), and raw 0xff bytes where JSON needs structure.
    name: 'invalid UTF-8 bytes in the body',
    send: async (url) => {
      const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(chatBody('a'), 'utf16le')]);
      expectEnvelopeMatching(await postBytes(url, utf16), 404, INVALID_JSON);
      return postBytes(url, Buffer.concat([Buffer.from('{"model":"a",'), Buffer.from([0xff, 0xfe]), Buffer.from('}')]));
    },
    check: (res) => expectEnvelopeMatching(res, 404, INVALID_JSON),
  },
  {
    // "a\xff" must not be read as "a" (nor as anything that is a model).
    name: 'invalid UTF-8 bytes in the model value',
    send: async (url) => {
      const only = Buffer.concat([Buffer.from('{"model":"'), Buffer.from([0xff]), Buffer.from('"}')]);
      expectEnvelope(await postBytes(url, only), 404, NO_ROUTER('"\ufffd"'));
      return postBytes(url, Buffer.concat([Buffer.from('{"model":"a'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]));
    },
    check: envelope(404, NO_ROUTER('"a\ufffd("')),
  },
  {
    name: 'valid JSON with an array at top level',
    send: (url) => postBytes(url, JSON.stringify([{ model: 'a', messages: [] }])),
    check: envelope(404, NO_MODEL('the JSON body is an array, not an object with a "model" field')),
  },
  {
    name: 'valid JSON with a scalar at top level',
    send: async (url) => {
      for (const [scalar, kind] of [
        ['"a"', 'a string'],
        ['42', 'a number'],
        ['true', 'a boolean'],
        ['null', 'null'],
      ]) {
        expectEnvelope(await postBytes(url, scalar!), 404, NO_MODEL(`the JSON body is ${kind}, not an object with a "model" field`));
      }
      return postBytes(url, '"model"');
    },
    check: envelope(404, NO_MODEL('the JSON body is a string, not an object with a "model" field')),
  },
];

/** Unknown routes and methods: Go's mux answers them in plain text, before any middleware. */
const routeRows: Row[] = [
  {
    name: 'unknown route',
    send: (url) => request(url, { path: '/v2/chat/completions', method: 'POST', body: chatBody('a') }),
    check: plain(404, '404 page not found'),
  },
  {
    name: 'model route with a trailing slash',
    send: (url) => request(url, { path: '/v1/chat/completions/', method: 'POST', body: chatBody('a') }),
    check: plain(404, '404 page not found'),
  },
  {
    name: 'wrong method on a model route',
    send: (url) => request(url, { path: '/v1/chat/completions?model=a' }),
    check: plain(405, 'Method Not Allowed', 'POST'),
  },
  {
    name: 'wrong method on a management route',
    send: (url) => request(url, { path: '/running', method: 'DELETE' }),
    check: plain(405, 'Method Not Allowed', 'GET, HEAD'),
  },
  {
    // Go sorts the methods of every pattern matching the path.
    name: 'wrong method on a route that answers GET and POST',
    send: (url) => request(url, { path: '/v1/audio/voices', method: 'PUT', body: chatBody('a') }),
    check: plain(405, 'Method Not Allowed', 'GET, HEAD, POST'),
  },
  {
    name: 'wrong method on a route with a path parameter',
    send: async (url) => {
      expectPlain(await request(url, { path: '/logs/stream/a', method: 'POST' }), 405, 'Method Not Allowed', 'GET, HEAD');
      return request(url, { path: '/api/models/unload/a' });
    },
    check: plain(405, 'Method Not Allowed', 'POST'),
  },
  {
    // Go's URL parser refuses the request target: "400 Bad Request", and the connection closes.
    name: 'an invalid percent-escape in the path',
    send: (url) => rawExchange(url, rawHead('POST', '/v1/chat/completions%zz', { 'Content-Length': '0' })),
    check: (res) => {
      expectPlain(res, 400, '400 Bad Request');
      expect(res.headers.connection).toBe('close');
    },
  },
  {
    // Express would answer an undecodable parameter with a 400 quoting it; llama-swap decodes
    // the name to bytes that name no model.
    name: 'an undecodable model name in a path parameter',
    send: (url) => request(url, { path: '/api/models/unload/%ff', method: 'POST' }),
    check: envelope(404, 'model not found: "%ff"; available models are a, b'),
  },
];

/** Oversized requests. */
const sizeRows: Row[] = [
  {
    // Node's limit is 16 KiB of headers (Go's is 1 MiB): Node answers 431 and closes.
    name: 'a 20 kB header',
    send: (url) => rawExchange(url, rawHead('GET', '/v1/models', { 'X-Padding': 'p'.repeat(20 * 1024) })),
    check: (res) => expect(res.status).toBe(431),
  },
  {
    // The declared length is refused before a byte of the body is read.
    name: 'a Content-Length over maxRequestBodyBytes',
    send: (url) =>
      rawExchange(url, rawHead('POST', '/v1/chat/completions', { 'Content-Type': 'application/json', 'Content-Length': String(50 * 1024 * 1024) })),
    check: envelope(413, `request body is too large: limit is ${LIMIT} bytes`),
  },
];

describe('bad input catalogue', () => {
  for (const row of [...bodyRows, ...routeRows, ...sizeRows]) {
    it(row.name, async () => {
      row.check(await row.send(srv.url));
      await expectNoModelStarted(srv);
      await expectServing(srv);
    });
  }

  it('a chunked body over maxRequestBodyBytes', async () => {
    // 50 MB in 64 KiB chunks without Content-Length. The 413 must come back while we are
    // still sending: the server stops reading at the limit instead of taking in the rest.
    const total = 50 * 1024 * 1024;
    const outcome = await uploadChunked(srv.url, total);
    const res = parseResponse(outcome.received);
    expectEnvelope(res, 413, `request body is too large: limit is ${LIMIT} bytes`);
    expect(res.headers.connection).toBe('close');
    expect(outcome.sentWhenAnswered).toBeGreaterThan(LIMIT);
    expect(outcome.sentWhenAnswered).toBeLessThan(total / 2);
    expect(outcome.serverClosed).toBe(true);
    await expectNoModelStarted(srv);
    await expectServing(srv);
  });

  it('after the whole catalogue a chat request still succeeds', async () => {
    const res = await postBytes(srv.url, chatBody('a'));
    expect(res.status, res.body).toBe(200);
    expect((JSON.parse(res.body) as { model: string }).model).toBe('a');
  });
});

/**
 * Sends a chunked POST of `total` bytes with backpressure, stopping as soon as an answer
 * arrives. Resolves with what came back, how much had been sent by then, and whether the
 * server closed the connection.
 */
function uploadChunked(
  url: string,
  total: number,
): Promise<{ received: string; sentWhenAnswered: number; serverClosed: boolean }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    const chunk = Buffer.alloc(64 * 1024, 0x78);
    const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
    let sent = 0;
    let sentWhenAnswered = -1;
    let received = '';
    let closed = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer after sending ${sent} bytes`));
    }, 20_000);
    socket.on('data', (d: Buffer) => {
      if (sentWhenAnswered < 0) sentWhenAnswered = sent;
      received += d.toString('latin1');
    });
    socket.on('error', () => {}); // EPIPE / ECONNRESET once the server has closed: expected
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve({ received, sentWhenAnswered, serverClosed: true });
    });
    const pump = () => {
      while (!closed && sentWhenAnswered < 0 && sent < total) {
        sent += chunk.length;
        if (!socket.write(frame)) {
          socket.once('drain', pump);
          return;
        }
      }
      if (!closed && sentWhenAnswered < 0 && sent >= total) socket.write('0\r\n\r\n');
    };
    socket.write(rawHead('POST', '/v1/chat/completions', { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }).replace('Connection: close\r\n', ''));
    pump();
  });
}
