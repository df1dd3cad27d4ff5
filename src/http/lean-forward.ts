/**
 * The forward path of the model routes (issue 16): the upstream request sent with
 * `http.request` on the grant's per-model agent, the answer piped back, and nothing else.
 * http-proxy-3 (proxy.ts) stays for `/upstream/<model>/...` and websocket upgrades; for the
 * hot path it cost about 90 µs of CPU per request over this (copies of the header objects,
 * pass loops, a WHATWG URL, listeners per request), which is a quarter of the request.
 *
 * It keeps every behaviour of proxy.ts's `forward`, and the same tests pin them:
 * - the request: the client's headers minus the hop-by-hop ones and those its Connection
 *   names (`TE: trailers` kept), `Connection: keep-alive` (our agent's), `X-Forwarded-*`
 *   appended as http-proxy-3's `xfwd` does (a model), or the peer's Host and none of them
 *   (a peer); the body whole with its exact length; the path joined to the base's;
 * - the response: status and headers copied minus the hop-by-hop ones, our own Connection,
 *   `X-Accel-Buffering: no` and headers sent at once for SSE; the body piped as it comes;
 * - aborts: a client that leaves destroys the upstream request (the model stops generating
 *   for nobody); an upstream that dies mid-answer destroys the client's response (not a
 *   clean end, so the client knows it was cut);
 * - errors: a failure before the answer's head resolves `{ok: false, responded: false}` for
 *   the caller's 502 in llama-swap's shape; the request is always destroyed on failure, so
 *   it never holds an agent socket.
 */
import type * as Http from 'node:http';
import { http } from '../node-http.ts';
import https from 'node:https';
import { forwardedHeaders, upstreamPath } from './forward-into.ts';
import { connectionNamed, HOP_BY_HOP, wantsTrailers, X_FORWARDED } from './hop-by-hop.ts';
import { parsedBase, type ProxyOutcome, type ProxyTarget } from './proxy.ts';
import { watch, type CloseHook } from '../observability/response-observer.ts';
import { immediate } from '../real-timers.ts';

/** The hop-by-hop headers, plus the body framing this path redoes, as one lookup per header. */
const DROPPED = new Set([...HOP_BY_HOP, 'transfer-encoding']);
const FORWARDING = new Set(X_FORWARDED);

/** The upstream request's headers, built in one pass over the client's. */
function requestHeaders(req: Http.IncomingMessage, target: ProxyTarget, peer: boolean, host: string): Http.OutgoingHttpHeaders {
  const src = req.headers;
  const named = connectionNamed(src.connection);
  const out: Http.OutgoingHttpHeaders = {};
  for (const name in src) {
    // Expect: answered by us when the body was read (expect-continue.ts).
    if (DROPPED.has(name) || name === 'content-length' || name === 'expect') continue;
    if (named !== null && named.has(name)) continue;
    if (peer && FORWARDING.has(name)) continue;
    out[name] = src[name];
  }
  if (wantsTrailers(src.te)) out.te = 'trailers';
  out.connection = 'keep-alive';
  if (peer) out.host = host;
  else forwardedHeaders(req, out);
  // The body goes whole, with its exact length; a request that had no framing (a plain GET)
  // goes without one. DELETE and OPTIONS always say their length, as http-proxy-3 made them.
  const framed = src['content-length'] !== undefined || src['transfer-encoding'] !== undefined || req.method === 'DELETE' || req.method === 'OPTIONS';
  if (target.body.length > 0 || framed) out['content-length'] = String(target.body.length);
  return out;
}

/** Copies the upstream's status and headers to the client's response, minus the hop-by-hop ones. */
function copyResponseHead(up: Http.IncomingMessage, req: Http.IncomingMessage, res: Http.ServerResponse): void {
  res.statusCode = up.statusCode ?? 502;
  if (up.statusMessage && req.httpVersionMajor === 1) res.statusMessage = up.statusMessage;
  const src = up.headers;
  const named = connectionNamed(src.connection);
  for (const name in src) {
    if (DROPPED.has(name) || (named !== null && named.has(name))) continue;
    const value = src[name];
    if (value !== undefined) res.setHeader(name, value);
  }
  if (wantsTrailers(src.te)) res.setHeader('te', 'trailers');
  // Ours: what this client's connection does (its own `close`, or HTTP/1.0), not the model's.
  res.setHeader('connection', res.shouldKeepAlive ? 'keep-alive' : 'close');
}

/** The exchange a request to the upstream (and its answer) belongs to. */
const EXCHANGE = Symbol('swapstate.leanExchange');
type Tagged<T> = T & { [EXCHANGE]?: Exchange };

/**
 * One forwarded exchange. Its listeners are shared functions that find it on the object they
 * listen to (no closures per request: issue 16); the client's close comes through the
 * response's observer (response-observer.ts).
 */
class Exchange implements CloseHook {
  out: Http.ClientRequest | undefined = undefined;
  private settled = false;

  constructor(
    readonly req: Http.IncomingMessage,
    readonly res: Http.ServerResponse,
    private readonly resolve: (o: ProxyOutcome) => void,
  ) {}

  settle(o: ProxyOutcome): void {
    if (this.settled) return;
    this.settled = true;
    // A failed exchange must not keep its upstream request: it would hold one of the
    // model's agent sockets for good, and 64 of them hang the model.
    if (!o.ok) this.out?.destroy();
    this.resolve(o);
  }

  fail(error: Error): void {
    this.settle({ ok: false, error, responded: this.res.headersSent });
  }

  onResponseClose(res: Http.ServerResponse): void {
    // The client left before the answer ended: the model stops generating for nobody.
    if (!res.writableFinished) this.out?.destroy();
    this.settle(OK);
  }

  answered(up: Http.IncomingMessage): void {
    const { req, res } = this;
    // Died mid-answer (a crash, an unload or eviction of a busy model): a pipe does not end
    // its destination when its source aborts, so the client would wait for good.
    (up as Tagged<Http.IncomingMessage>)[EXCHANGE] = this;
    up.once('close', onAnswerClose);
    if (res.headersSent || res.destroyed) {
      up.resume();
      return;
    }
    copyResponseHead(up, req, res);
    const sse = String(up.headers['content-type'] ?? '').includes('text/event-stream');
    if (sse) {
      // nginx and friends buffer SSE unless told not to (llama-swap #236); and the client
      // waiting for the stream to open learns at once that it has: at this turn's end, unless
      // the first chunk came with the head, in which case the pipe has written both in one
      // write (a separate write of the head first cost a cold first chunk ~0.2 ms: issue 16).
      res.setHeader('X-Accel-Buffering', 'no');
      immediate(flushHeadOnly, res);
    }
    up.pipe(res);
  }
}

const OK: ProxyOutcome = Object.freeze({ ok: true }) as ProxyOutcome;

/** An SSE answer's head, sent on its own when no chunk has carried it yet. */
function flushHeadOnly(res: Http.ServerResponse): void {
  if (!res.headersSent && !res.destroyed) res.flushHeaders();
}

function onUpstreamError(this: Tagged<Http.ClientRequest>, error: Error): void {
  this[EXCHANGE]?.fail(error);
}

function onUpstreamResponse(this: Tagged<Http.ClientRequest>, up: Http.IncomingMessage): void {
  this[EXCHANGE]?.answered(up);
}

function onAnswerClose(this: Tagged<Http.IncomingMessage>): void {
  const x = this[EXCHANGE];
  if (x !== undefined && !this.complete) x.res.destroy();
}

/**
 * Forwards `req` (with `target.body`) and resolves once the exchange is over: the response
 * has been sent, the client went away, or the upstream failed (`responded` says whether the
 * client already got headers, in which case the stream was cut). Never rejects.
 */
export function leanForward(req: Http.IncomingMessage, res: Http.ServerResponse, target: ProxyTarget): Promise<ProxyOutcome> {
  return new Promise((resolve) => {
    const base = parsedBase(target.base);
    const { url } = base;
    const peer = target.style === 'peer';
    const secure = url.protocol === 'https:';
    const x = new Exchange(req, res, resolve);
    watch(res).forward = x;
    const headers = requestHeaders(req, target, peer, url.host);
    let sent: Tagged<Http.ClientRequest>;
    try {
      sent = x.out = (secure ? https : http).request({
        protocol: url.protocol,
        // URL keeps an IPv6 host's brackets; the socket wants the bare address.
        hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
        port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
        method: req.method ?? 'GET',
        path: base.prefix === null ? upstreamPath(target.base, target.path) : base.prefix + target.path,
        headers,
        // A model's request keeps the client's Host (Go's NewSingleHostReverseProxy); Node
        // adds the upstream's only when the client sent none (HTTP/1.0).
        setHost: headers.host === undefined,
        agent: target.agent,
      });
    } catch (err) {
      x.fail(err as Error);
      return;
    }
    sent[EXCHANGE] = x;
    sent.on('error', onUpstreamError);
    sent.on('response', onUpstreamResponse);
    try {
      target.prepare?.(sent);
      if (!sent.destroyed) sent.end(target.body);
    } catch (err) {
      sent.destroy(err as Error);
    }
  });
}
