/**
 * The streaming reverse proxy (http-proxy-3 under the name http-proxy), for `/upstream/...`,
 * `/comfyui/...` and websocket upgrades; the model routes forward with lean-forward.ts,
 * which keeps the behaviours below at a quarter less CPU per request (issue 16).
 *
 * Proxied bytes never pass through an actor: the handler gets a grant from the scheduler,
 * then streams request and response straight between the sockets. http-proxy-3 destroys the
 * upstream request when the client's response closes early (plain http-proxy 1.18.1 does
 * not on Node >= 16: the GPU kept generating for nobody), which frees the model at once.
 */
import type * as Http from 'node:http';
import { http } from '../node-http.ts';
import type { Duplex, Readable } from 'node:stream';
import httpProxy from 'http-proxy';
import { connectionNamed, HOP_BY_HOP, wantsTrailers, X_FORWARDED } from './hop-by-hop.ts';

export interface ProxyTarget {
  /** Upstream base URL; its path is prefixed to the forwarded path. */
  base: string;
  /** Path and query to request upstream, sent verbatim (appended to the base URL's path). */
  path: string;
  /**
   * The request body, already read whole (and possibly rewritten). Always a buffer: the
   * request's own stream has been consumed, so forwarding it would send nothing after a
   * length that promised bytes (a GET with a body hung the upstream that way).
   */
  body: Buffer;
  agent: Http.Agent;
  /**
   * How the upstream is addressed. `model` (default): a local model's server, as Go's
   * NewSingleHostReverseProxy does it: the client's `Host` kept, `X-Forwarded-*` added.
   * `peer`: another server (reference 3.15), as llama-swap's Rewrite-style peer proxy does
   * it: `Host` is the peer's, and no `X-Forwarded-*` goes out (the client's own are dropped).
   */
  style?: 'model' | 'peer';
  /**
   * Called with the upstream request right before its body is sent: the last header edits
   * (a peer's API key) and timers on its phases (a peer's timeouts). Destroying the request
   * with an error fails the exchange like a transport error.
   */
  prepare?: (out: Http.ClientRequest) => void;
}

export type ProxyOutcome = { ok: true } | { ok: false; error: Error; responded: boolean };


/** What the header stripping needs of a request or response we are about to send. */
interface OutgoingHeaders {
  getHeader(name: string): number | string | string[] | undefined;
  setHeader(name: string, value: string): unknown;
  removeHeader(name: string): void;
}

/**
 * Removes the hop-by-hop headers, and those the `connection` header names, from a message we
 * send (the upstream request, the client's response), keeping `TE: trailers` as Go does,
 * and says whether our own connection stays open (`keepAlive`): a removed Connection
 * header is one Node no longer writes by itself.
 *
 * The removal happens on our outgoing copy, never on the incoming `req.headers` or
 * `proxyRes.headers`: deleting from those turned them into slow dictionary-mode objects that
 * http-proxy-3 and Node then copied and walked (a few µs per request, twice).
 */
export function stripHopByHop(out: OutgoingHeaders, connection: number | string | string[] | undefined, keepAlive: boolean): void {
  const te = out.getHeader('te');
  for (const name of HOP_BY_HOP) out.removeHeader(name);
  const named = connectionNamed(connection);
  if (named !== null) for (const name of named) out.removeHeader(name);
  if (wantsTrailers(te)) out.setHeader('te', 'trailers');
  out.setHeader('connection', keepAlive ? 'keep-alive' : 'close');
}

/** What http-proxy-3 pipes into the upstream request, and the request once it exists. */
interface UpstreamSource {
  readable: Readable;
  /** The upstream request, once http-proxy-3 created it (to destroy it when proxying fails). */
  request(): Http.ClientRequest | null;
}

/**
 * What http-proxy-3 pipes into the upstream request (its `buffer` option): the one place
 * where that request's headers can still change, after it copied the client's and before
 * they are sent. Hop-by-hop headers go; the body, read whole, is sent with its exact length
 * (replacing a chunked framing or a rewritten body's old length) and ends the request at
 * once (Readable.from cost an async iterator and several ticks per request). A request that
 * had no body framing at all (a plain GET) is forwarded without one.
 *
 * Anything that throws here would leave a half-made upstream request holding an agent
 * socket for good: it is destroyed instead, which fails the exchange through the proxy's
 * error callback.
 */
function upstreamSource(req: Http.IncomingMessage, target: ProxyTarget): UpstreamSource {
  const { body } = target;
  let request: Http.ClientRequest | null = null;
  const readable = {
    pipe<T extends NodeJS.WritableStream>(dest: T): T {
      const out = dest as unknown as Http.ClientRequest;
      request = out;
      try {
        // Our agents keep their connections: the client's `close` was for its own hop.
        stripHopByHop(out, req.headers.connection, true);
        const framed = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
        if (body.length > 0 || framed) out.setHeader('content-length', String(body.length));
        out.removeHeader('transfer-encoding');
        if (target.style === 'peer') for (const name of X_FORWARDED) out.removeHeader(name);
        target.prepare?.(out);
        if (out.destroyed) return dest;
        dest.end(body);
      } catch (err) {
        out.destroy(err as Error);
      }
      return dest;
    },
  };
  return { readable: readable as unknown as Readable, request: () => request };
}

export interface ParsedBase {
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

export function parsedBase(base: string): ParsedBase {
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
    const sse = String(proxyRes.headers['content-type'] ?? '').includes('text/event-stream');
    // nginx and friends buffer SSE unless told not to (llama-swap #236).
    if (sse) res.setHeader('X-Accel-Buffering', 'no');
    // http-proxy-3 copies the model's headers into res, then pipes: the model's Connection
    // and Keep-Alive described its connection to us, not ours to the client.
    res.once('pipe', () => {
      stripHopByHop(res, proxyRes.headers.connection, res.shouldKeepAlive);
      // Send the headers at once, not with the first event: a client waiting for the
      // stream to open learns at once that it has.
      if (sse) res.flushHeaders();
    });
  });
  // Errors are handled per request by the callback; this keeps an emitter without
  // listeners from throwing.
  proxy.on('error', () => {});
  // A websocket's upstream request, right before it is sent: its target's timers.
  const wsPrepare = new WeakMap<Http.IncomingMessage, (out: Http.ClientRequest) => void>();
  proxy.on('proxyReqWs', (proxyReq, req) => {
    wsPrepare.get(req)?.(proxyReq);
  });

  /**
   * Forwards `req` to the target and resolves once the exchange is over: the response has
   * been sent, the client went away, or the upstream failed (`responded` says whether the
   * client already got headers, in which case the stream was simply cut).
   */
  function forward(req: Http.IncomingMessage, res: Http.ServerResponse, target: ProxyTarget): Promise<ProxyOutcome> {
    return new Promise((resolve) => {
      const source = upstreamSource(req, target);
      const peer = target.style === 'peer';
      let settled = false;
      const settle = (o: ProxyOutcome) => {
        if (settled) return;
        settled = true;
        // A failed exchange must not leave its upstream request open: it would hold one of
        // the model's agent sockets for good, and 64 of them hang the model.
        if (!o.ok) source.request()?.destroy();
        resolve(o);
      };
      res.once('close', () => settle({ ok: true }));
      const base = parsedBase(target.base);
      req.url = base.prefix === null ? target.path : base.prefix + target.path;
      // The client's `Expect: 100-continue` was answered by us when we read its body
      // (expect-continue.ts); forwarded, it made Node send the upstream request's head
      // before our header edits. It must go before http-proxy-3 copies the headers.
      if (req.headers.expect !== undefined) delete req.headers.expect;
      try {
        proxy.web(
          req,
          res,
          {
            target: base.url,
            // The base path is joined above; http-proxy-3 would parse it again per request.
            prependPath: base.prefix === null,
            agent: target.agent,
            xfwd: !peer,
            changeOrigin: peer,
            // Forward the path exactly as given. Without this, http-proxy-3 re-parses it as a
            // WHATWG URL: `%2e%2e` segments are resolved and a `\` starts an authority, so
            // `/\host/x` reached the model as `/x` (the host always stays the model's).
            toProxy: true,
            buffer: source.readable,
          },
          (err: Error) => settle({ ok: false, error: err, responded: res.headersSent }),
        );
      } catch (err) {
        settle({ ok: false, error: err as Error, responded: res.headersSent });
      }
    });
  }

  /**
   * Proxies a websocket upgrade (http-proxy-3's `ws`) and resolves once the socket is closed:
   * the client's or the upstream's side ended it, or the upstream failed (`responded` says
   * whether the client already got an answer, the upstream's 101 or its plain response, in
   * which case the socket is simply cut). An upstream that answers without upgrading has its
   * response relayed and the socket closed, by http-proxy-3.
   *
   * `onError` runs at once when the upstream fails, before http-proxy-3 closes the socket:
   * the one moment an error response can still be written on it.
   */
  function ws(
    req: Http.IncomingMessage,
    socket: Duplex,
    head: Buffer,
    target: Omit<ProxyTarget, 'body'>,
    onError: (err: Error, responded: boolean) => void,
  ): Promise<ProxyOutcome> {
    return new Promise((resolve) => {
      let settled = false;
      const written = () => (socket as Duplex & { bytesWritten?: number }).bytesWritten ?? 0;
      const before = written();
      const settle = (o: ProxyOutcome) => {
        if (settled) return;
        settled = true;
        resolve(o);
      };
      const fail = (err: Error) => {
        if (settled) return;
        const responded = written() > before;
        try {
          onError(err, responded);
        } finally {
          settle({ ok: false, error: err, responded });
        }
      };
      socket.once('close', () => settle({ ok: true }));
      const base = parsedBase(target.base);
      req.url = base.prefix === null ? target.path : base.prefix + target.path;
      if (target.prepare) wsPrepare.set(req, target.prepare);
      try {
        proxy.ws(
          req,
          socket,
          head,
          {
            target: base.url,
            prependPath: base.prefix === null,
            agent: target.agent,
            xfwd: target.style !== 'peer',
            changeOrigin: target.style === 'peer',
            toProxy: true,
          },
          (err: Error) => fail(err),
        );
      } catch (err) {
        fail(err as Error);
        socket.destroy();
      }
    });
  }

  return { forward, ws, close: () => proxy.close() };
}

export type UpstreamProxy = ReturnType<typeof createUpstreamProxy>;
