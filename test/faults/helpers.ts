/**
 * Shared bits of the fault tests: raw HTTP (request lines and bytes no client library would
 * send, or would normalize first), the scheduler's bookkeeping, and the three checks every
 * fault case ends with: the right answer, no model started, the server still serving.
 */
import http from 'node:http';
import net from 'node:net';
import { expect } from 'vitest';
import type { RunningServer } from '../helpers/server-harness.ts';
import { until } from '../helpers/real-upstreams.ts';

export { until };

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Everything received, as latin1. */
  raw: string;
}

/** Parses the head (and a Content-Length or chunked body) of one HTTP/1.1 response. */
export function parseResponse(raw: string): RawResponse {
  const headEnd = raw.indexOf('\r\n\r\n');
  const head = headEnd < 0 ? raw : raw.slice(0, headEnd);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? NaN);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = headEnd < 0 ? '' : raw.slice(headEnd + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    let out = '';
    let rest = body;
    for (;;) {
      const eol = rest.indexOf('\r\n');
      if (eol < 0) break;
      const size = parseInt(rest.slice(0, eol), 16);
      if (!(size > 0)) break;
      out += rest.slice(eol + 2, eol + 2 + size);
      rest = rest.slice(eol + 2 + size + 2);
    }
    body = out;
  } else if (headers['content-length'] !== undefined) {
    body = body.slice(0, Number(headers['content-length']));
  }
  // Bodies are read back as UTF-8 text; the head was latin1 like the wire.
  return { status, headers, body: Buffer.from(body, 'latin1').toString('utf8'), raw };
}

/**
 * Sends `bytes` as they are on a fresh connection and collects the answer until the server
 * closes the connection (send `Connection: close`) or `timeoutMs` passes.
 */
export function rawExchange(url: string, bytes: string | Buffer, timeoutMs = 10_000): Promise<RawResponse> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${timeoutMs} ms: ${Buffer.concat(chunks).toString('latin1').slice(0, 300)}`));
    }, timeoutMs);
    socket.on('data', (d: Buffer) => chunks.push(d));
    // A server that refuses a request may reset the connection after answering.
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseResponse(Buffer.concat(chunks).toString('latin1')));
    });
    socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  });
}

/** A request head with `Connection: close`, for {@link rawExchange}. */
export function rawHead(method: string, target: string, headers: Record<string, string> = {}): string {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/**
 * One request through node:http with `path` sent exactly as given (fetch would resolve `..`
 * and `//` before sending). The body is collected as text.
 */
export function request(
  url: string,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<RawResponse> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: Number(port), method: opts.method ?? 'GET', path: opts.path, headers: opts.headers ?? {}, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : (v ?? '');
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers, body, raw: body });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** POSTs raw bytes to a model route with the given content type. */
export function postBytes(url: string, body: string | Buffer, contentType = 'application/json', path = '/v1/chat/completions') {
  return request(url, { method: 'POST', path, headers: { 'content-type': contentType }, body });
}

/** swapstate's error envelope, exactly (bytes and content type). */
export function expectEnvelope(res: RawResponse, status: number, message: string): void {
  expect(res.status, res.body).toBe(status);
  expect(res.headers['content-type']).toBe('application/json');
  const { type, code } = envelopeFields(status);
  expect(res.body).toBe(JSON.stringify({ src: 'swapstate', error: { message, type, param: null, code } }));
}

/** swapstate's error envelope with a message matching `message` (the JS runtime's words vary by version). */
export function expectEnvelopeMatching(res: RawResponse, status: number, message: RegExp): void {
  expect(res.status, res.body).toBe(status);
  expect(res.headers['content-type']).toBe('application/json');
  const { type, code } = envelopeFields(status);
  const body = JSON.parse(res.body) as { src: string; error: { message: string } };
  expect(body.error.message).toMatch(message);
  expect(res.body).toBe(JSON.stringify({ src: 'swapstate', error: { message: body.error.message, type, param: null, code } }));
}

function envelopeFields(status: number): { type: string; code: string } {
  switch (status) {
    case 400:
      return { type: 'invalid_request_error', code: 'bad_request' };
    case 404:
      return { type: 'invalid_request_error', code: 'not_found' };
    case 413:
      return { type: 'invalid_request_error', code: 'payload_too_large' };
    default:
      throw new Error(`no envelope fields for ${status} in the fault tests`);
  }
}

/** Go's plain-text answers (mux 404/405, server 400): not the envelope. */
export function expectPlain(res: RawResponse, status: number, body: string, allow?: string): void {
  expect(res.status, res.body).toBe(status);
  expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
  expect(res.body).toBe(body);
  if (allow !== undefined) expect(res.headers.allow).toBe(allow);
}

/** The scheduler's FIFO bookkeeping right now. */
export function fifo(srv: RunningServer) {
  return srv.server.state().runtime.actor.getSnapshot().context.fifo;
}

/** How often each model's process was spawned. */
export function startsOf(srv: RunningServer): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of Object.keys(srv.server.config.models)) out[id] = srv.server.state().runtime.process(id)?.starts ?? 0;
  return out;
}

/** No model is running and none was ever spawned; nothing is reserved or queued. */
export async function expectNoModelStarted(srv: RunningServer): Promise<void> {
  const running = await fetch(`${srv.url}/running`);
  expect(running.status).toBe(200);
  expect(await running.json()).toEqual({ running: [] });
  for (const [id, starts] of Object.entries(startsOf(srv))) expect(starts, `${id} was spawned`).toBe(0);
  expect(fifo(srv).reserved).toEqual({});
  expect(fifo(srv).queue).toEqual([]);
}

/** A normal request afterwards succeeds (the listing: it starts nothing). */
export async function expectServing(srv: RunningServer): Promise<void> {
  const res = await fetch(`${srv.url}/v1/models`);
  expect(res.status).toBe(200);
  expect(((await res.json()) as { object: string }).object).toBe('list');
}

/** A chat request naming `model`, as JSON text. */
export function chatBody(model: unknown, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }], ...extra });
}

/** The request lines a demo upstream logged (`<id> <METHOD> <path>`), health checks left out. */
export function upstreamRequests(srv: RunningServer, id: string): string[] {
  const prefix = `${id} `;
  return srv.logs.hub
    .forModel(id)
    .history()
    .split('\n')
    .filter((l) => l.startsWith(prefix) && /^[A-Z]+ \//.test(l.slice(prefix.length)) && l !== `${id} GET /health`);
}
