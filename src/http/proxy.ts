/**
 * The streaming reverse proxy (http-proxy-3 under the name http-proxy).
 *
 * Proxied bytes never pass through an actor: the handler gets a grant from the scheduler,
 * then streams request and response straight between the sockets. http-proxy-3 destroys the
 * upstream request when the client's response closes early (plain http-proxy 1.18.1 does
 * not on Node >= 16: the GPU kept generating for nobody), which frees the model at once.
 */
import http from 'node:http';
import type { Readable } from 'node:stream';
import httpProxy from 'http-proxy';

export interface ProxyTarget {
  /** Upstream base URL; its path is prefixed to the forwarded path. */
  base: string;
  /** Path and query to request upstream, sent verbatim (appended to the base URL's path). */
  path: string;
  /** The request body, already read (and possibly rewritten); null to stream `req` itself. */
  body: Buffer | null;
  agent: http.Agent;
}

export type ProxyOutcome = { ok: true } | { ok: false; error: Error; responded: boolean };

/**
 * Hop-by-hop headers (RFC 9110 7.6.1), which Go's ReverseProxy forwards in neither direction
 * and http-proxy-3 does. Transfer-Encoding is handled with the body. Forwarding a client's
 * `Connection: close` told the upstream to close a connection that our keep-alive agent then
 * reused when the upstream answered `Connection: keep-alive` anyway: the next request, from
 * any client, got the upstream's 400 for "data after Connection: close". The other way, the
 * upstream's `Connection`/`Keep-Alive` described its connection to us, not ours to the client.
 */
const HOP_BY_HOP = ['connection', 'proxy-connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'upgrade'];

/**
 * Removes the hop-by-hop headers (and those the Connection header names) from `headers`,
 * keeping `TE: trailers` as Go does. Returns what was removed, to put back afterwards.
 */
function stripHopByHop(headers: http.IncomingHttpHeaders): http.IncomingHttpHeaders {
  const removed: http.IncomingHttpHeaders = {};
  // Runs twice per request: plain loops, and the Connection list only when there is one.
  const connection = headers.connection;
  for (const name of HOP_BY_HOP) move(headers, removed, name);
  if (connection !== undefined) {
    for (const part of String(connection).split(',')) {
      const name = part.trim().toLowerCase();
      if (name !== '' && name !== 'content-length' && name !== 'transfer-encoding' && name !== 'host') move(headers, removed, name);
    }
  }
  if (removed.te !== undefined && String(removed.te).toLowerCase().includes('trailers')) headers.te = 'trailers';
  return removed;
}

function move(from: http.IncomingHttpHeaders, to: http.IncomingHttpHeaders, name: string): void {
  if (from[name] === undefined) return;
  to[name] = from[name];
  delete from[name];
}

/**
 * The already-read body as http-proxy-3's `buffer` option, which it only ever `pipe`s into
 * the upstream request. Ending the request with the bytes is what a stream would do in the
 * end, without a stream per request (Readable.from cost an async iterator and several ticks).
 */
function bodySource(body: Buffer): Readable {
  const source = {
    pipe<T extends NodeJS.WritableStream>(dest: T): T {
      dest.end(body);
      return dest;
    },
  };
  return source as unknown as Readable;
}

interface ParsedBase {
  url: URL;
  /**
   * The base URL's path to put before each forwarded path ('' for `/`), or null when the base
   * has a query, which only http-proxy-3's own join merges.
   */
  prefix: string | null;
}

/**
 * Upstream base URLs parsed once: http-proxy-3 parses a string target, and the target's path
 * (to join it), on every request, and a server has a handful of them. Bounded, in case
 * configs with new URLs keep being loaded.
 */
const parsedBases = new Map<string, ParsedBase>();

function parsedBase(base: string): ParsedBase {
  let parsed = parsedBases.get(base);
  if (!parsed) {
    if (parsedBases.size >= 1024) parsedBases.clear();
    const url = new URL(base);
    // http-proxy-3's join: the base path, then the forwarded one, one slash between them.
    const prefix = url.search !== '' ? null : url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
    parsed = { url, prefix };
    parsedBases.set(base, parsed);
  }
  return parsed;
}

/** One proxy for the whole server; per-request options carry the target. */
export function createUpstreamProxy() {
  const proxy = httpProxy.createProxyServer({ xfwd: true, proxyTimeout: 0, timeout: 0 });
  proxy.on('proxyRes', (proxyRes, _req, res) => {
    // An upstream that dies mid-response (a crash, an unload or eviction of a busy model):
    // http-proxy-3 pipes proxyRes into res, and a pipe does not end its destination when its
    // source aborts, so the client waited forever and its request kept its slot. Cut it.
    proxyRes.once('close', () => {
      if (!proxyRes.complete) res.destroy();
    });
    // http-proxy-3 then sets Connection from the client's own request (keep-alive by default).
    stripHopByHop(proxyRes.headers);
    // nginx and friends buffer SSE unless told not to (llama-swap #236).
    if (String(proxyRes.headers['content-type'] ?? '').includes('text/event-stream')) {
      res.setHeader('X-Accel-Buffering', 'no');
      // Send the headers as soon as they are copied (when the body is piped), not with the
      // first event: a client waiting for the stream to open learns at once that it has.
      res.once('pipe', () => res.flushHeaders());
    }
  });
  // Errors are handled per request by the callback; this keeps an emitter without
  // listeners from throwing.
  proxy.on('error', () => {});

  /**
   * Forwards `req` to the target and resolves once the exchange is over: the response has
   * been sent, the client went away, or the upstream failed (`responded` says whether the
   * client already got headers, in which case the stream was simply cut).
   */
  function forward(req: http.IncomingMessage, res: http.ServerResponse, target: ProxyTarget): Promise<ProxyOutcome> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (o: ProxyOutcome) => {
        if (!settled) {
          settled = true;
          resolve(o);
        }
      };
      res.once('close', () => settle({ ok: true }));
      const base = parsedBase(target.base);
      req.url = base.prefix === null ? target.path : base.prefix + target.path;
      if (target.body !== null) {
        req.headers['content-length'] = String(target.body.length);
        delete req.headers['transfer-encoding'];
      }
      // http-proxy-3 copies the request headers synchronously inside web(); its answer side
      // reads the client's own Connection header later, so the removed ones go back at once.
      const removed = stripHopByHop(req.headers);
      try {
        proxy.web(
          req,
          res,
          {
            target: base.url,
            // The base path is joined above; http-proxy-3 would parse it again per request.
            prependPath: base.prefix === null,
            agent: target.agent,
            // Forward the path exactly as given. Without this, http-proxy-3 re-parses it as a
            // WHATWG URL: `%2e%2e` segments are resolved and a `\` starts an authority, so
            // `/\host/x` reached the model as `/x` (the host always stays the model's).
            toProxy: true,
            ...(target.body !== null ? { buffer: bodySource(target.body) } : {}),
          },
          (err: Error) => settle({ ok: false, error: err, responded: res.headersSent }),
        );
      } finally {
        Object.assign(req.headers, removed);
      }
    });
  }

  return { forward, close: () => proxy.close() };
}

export type UpstreamProxy = ReturnType<typeof createUpstreamProxy>;
