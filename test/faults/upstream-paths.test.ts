/**
 * `/upstream/<model>/<path>` with paths that try to leave their model: dot segments, encoded
 * slashes and dots, absolute URLs in the request line, double slashes, backslashes. Whatever
 * the path decodes to, a request reaches at most the model its escaped path names, with the
 * path as the client wrote it, and never another host. What each upstream actually received
 * is read from its own log (`<id> <METHOD> <path>`).
 *
 * Paths that Go's mux would clean (`.`, `..`, `//`) get its 301 to the cleaned path and reach
 * nobody: a client that follows it makes a request of its own.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';
import {
  expectEnvelope,
  expectPlain,
  expectServing,
  rawExchange,
  rawHead,
  request,
  startsOf,
  until,
  upstreamRequests,
  type RawResponse,
} from './helpers.ts';

const MODELS = ['a', 'a/b', 'b'];

let srv: RunningServer;
/** A server standing in for "another host": it must never see a request. */
let elsewhere: http.Server;
const elsewhereHits: string[] = [];
let elsewherePort = 0;

beforeAll(async () => {
  srv = await startServer(`groups:
  all:
    swap: false
    exclusive: false
    members: [a, a/b, b]
models:
${MODELS.map((id) => demoModel(id, '', '--load-delay 0')).join('')}`);
  elsewhere = http.createServer((req, res) => {
    elsewhereHits.push(`${req.method} ${req.url}`);
    res.end('elsewhere');
  });
  await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
  elsewherePort = (elsewhere.address() as AddressInfo).port;
});

afterAll(async () => {
  await srv?.stop();
  elsewhere?.closeAllConnections();
  await new Promise((resolve) => elsewhere?.close(resolve));
});

interface Row {
  name: string;
  send(url: string): Promise<RawResponse>;
  check(res: RawResponse): void;
  /** The one model the request may reach, and the path it must arrive with; null: none. */
  reaches: { model: string; line: string } | null;
}

const get = (path: string) => (url: string) => request(url, { path });
const redirect = (location: string) => (res: RawResponse) => {
  expect(res.status, res.body).toBe(301);
  expect(res.headers.location).toBe(location);
};
/** llama-swap's "model not found", then what the path seemed to name and the models there are (closest first). */
const notFound = (named: string, closest: string) => (res: RawResponse) =>
  expectEnvelope(res, 404, `model not found: ${named}; available models are ${closest}`);
/** The demo upstream's own 404 for a path it has no route for, passed through verbatim. */
const upstream404 = (path: string) => (res: RawResponse) => {
  expect(res.status, res.body).toBe(404);
  expect(JSON.parse(res.body)).toEqual({ error: { code: 404, message: `no route for GET ${path}`, type: 'not_found_error' } });
};
const listingOf = (model: string) => (res: RawResponse) => {
  expect(res.status, res.body).toBe(200);
  expect((JSON.parse(res.body) as { data: Array<{ id: string; owned_by: string }> }).data).toMatchObject([{ id: model, owned_by: 'demo' }]);
};

const rows: Row[] = [
  {
    name: 'dot-dot segments climbing out of /upstream',
    send: get('/upstream/a/../../v1/models'),
    check: redirect('/v1/models'),
    reaches: null,
  },
  {
    name: 'dot-dot segments climbing into another model',
    send: get('/upstream/a/../b/v1/models'),
    check: redirect('/upstream/b/v1/models'),
    reaches: null,
  },
  {
    name: 'encoded slashes and dots in the model name',
    send: get('/upstream/..%2f..%2fetc/passwd'),
    check: notFound('"../../etc"', 'a/b, a, b'),
    reaches: null,
  },
  {
    // %2e%2e is not a dot segment to Go's mux, nor to us: forwarded exactly, to that model.
    name: 'encoded dot-dot segments after the model',
    send: get('/upstream/a/%2e%2e/%2e%2e/v1/models'),
    check: upstream404('/%2e%2e/%2e%2e/v1/models'),
    reaches: { model: 'a', line: 'a GET /%2e%2e/%2e%2e/v1/models' },
  },
  {
    name: 'an encoded slash naming a model that exists',
    send: get('/upstream/a%2Fb/v1/models'),
    check: listingOf('a/b'),
    reaches: { model: 'a/b', line: 'a/b GET /v1/models' },
  },
  {
    // "a%2Fx" names model "a/x", which does not exist; it is not model "a" with path "/x".
    name: 'an encoded slash naming a model that does not exist',
    send: get('/upstream/a%2Fx/v1/models'),
    check: notFound('"a/x"', 'a/b, a, b'),
    reaches: null,
  },
  {
    // The request line names another server: only the path counts, the host never does.
    name: 'an absolute URL in the request target',
    send: (url) => rawExchange(url, rawHead('GET', `http://127.0.0.1:${elsewherePort}/upstream/a/v1/models`)),
    check: listingOf('a'),
    reaches: { model: 'a', line: 'a GET /v1/models' },
  },
  {
    name: 'a Host header naming another server',
    send: (url) => request(url, { path: '/upstream/b/v1/models', headers: { host: `127.0.0.1:${elsewherePort}` } }),
    check: listingOf('b'),
    reaches: { model: 'b', line: 'b GET /v1/models' },
  },
  {
    name: 'a double slash after the model',
    send: get('//upstream/a//evil.example/v1/models'),
    check: redirect('/upstream/a/evil.example/v1/models'),
    reaches: null,
  },
  {
    // A WHATWG URL parser reads "/\host/x" as host + "/x"; the upstream gets the path as sent.
    name: 'a backslash after the model',
    send: (url) => rawExchange(url, rawHead('GET', '/upstream/a/\\evil.example/x')),
    check: upstream404('/\\evil.example/x'),
    reaches: { model: 'a', line: 'a GET /\\evil.example/x' },
  },
  {
    name: 'invalid UTF-8 in the model name',
    send: get('/upstream/%ff/v1/models'),
    check: notFound('"%ff"', 'a, a/b, b'),
    reaches: null,
  },
  {
    name: 'an invalid percent-escape after the model',
    send: (url) => rawExchange(url, rawHead('GET', '/upstream/a/%zz')),
    check: (res) => expectPlain(res, 400, '400 Bad Request'),
    reaches: null,
  },
  { name: 'no model in the path', send: get('/upstream/'), check: notFound('the path names no model', 'a, b, a/b'), reaches: null },
];

describe('/upstream paths that try to escape', () => {
  for (const row of rows) {
    it(row.name, async () => {
      const before = Object.fromEntries(MODELS.map((id) => [id, upstreamRequests(srv, id).length]));
      const startsBefore = startsOf(srv);
      row.check(await row.send(srv.url));
      if (row.reaches) {
        const { model, line } = row.reaches;
        // The upstream's stdout travels through a pipe: its line may trail the answer.
        await until(() => upstreamRequests(srv, model).length > before[model]!, `${model} to log the request`);
        expect(upstreamRequests(srv, model).slice(before[model])).toEqual([line]);
      } else {
        // No process was spawned for it.
        expect(startsOf(srv)).toEqual(startsBefore);
      }
      // Give a stray forward time to show up in a log, then check nobody else was reached.
      await new Promise((r) => setTimeout(r, 50));
      for (const id of MODELS) {
        if (id === row.reaches?.model) continue;
        expect(upstreamRequests(srv, id).slice(before[id]), `${id} was reached`).toEqual([]);
      }
      expect(elsewhereHits).toEqual([]);
      await expectServing(srv);
    });
  }
});

describe("the cleaning redirect is Go's http.Redirect", () => {
  it('GET gets an HTML link to the cleaned path; a POST (a model route) gets none and reaches no model', async () => {
    const get = await request(srv.url, { path: '/v1//models?x=<1>' });
    expect(get.status).toBe(301);
    expect(get.headers.location).toBe('/v1/models?x=<1>');
    expect(get.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(get.body).toBe('<a href="/v1/models?x=&lt;1&gt;">Moved Permanently</a>.\n\n');

    const startsBefore = startsOf(srv);
    const post = await request(srv.url, {
      method: 'POST',
      path: '/v1/./chat/completions',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'a' }),
    });
    expect(post.status).toBe(301);
    expect(post.headers.location).toBe('/v1/chat/completions');
    expect(post.headers['content-type']).toBeUndefined();
    expect(post.body).toBe('');
    expect(startsOf(srv)).toEqual(startsBefore);
  });

  it('so are the handlers\' own redirects: `/` and `/upstream/<model>`', async () => {
    const root = await request(srv.url, { path: '/' });
    expect([root.status, root.headers.location, root.body]).toEqual([302, '/ui', '<a href="/ui">Found</a>.\n\n']);
    const model = await request(srv.url, { path: '/upstream/b?x=1' });
    expect([model.status, model.headers.location, model.body]).toEqual([301, '/upstream/b/?x=1', '<a href="/upstream/b/?x=1">Moved Permanently</a>.\n\n']);
    const post = await request(srv.url, { method: 'POST', path: '/upstream/b' });
    expect([post.status, post.headers.location, post.body, post.headers['content-type']]).toEqual([308, '/upstream/b/', '', undefined]);
  });
});
