/**
 * The request path shared by the model routes and `/upstream/...`: ask the scheduler for a
 * grant, then stream the exchange through the proxy, and always give the slot back.
 *
 * A client that disconnects while queued or while its model loads is cancelled (it leaves
 * the queue and frees its concurrency slot); one that disconnects mid-stream closes the
 * upstream request (http-proxy-3) and its SERVE_DONE lets queued swaps proceed.
 *
 * A websocket upgrade (upgrade.ts) is served the same way, its socket handed to the proxy
 * after the grant, and holds its slot until the socket closes, as Go's ReverseProxy holds
 * its handler (and so llama-swap its request) for the upgraded connection's whole life: a
 * swap waits for it. With the model's `compat.ignoreWebsockets` (reference 4.10) it takes
 * no ticket at all: no start, no queue, no slot, no activity, no in-flight entry.
 *
 * The model's `timeouts` (connect, responseHeader, ...) time the upstream request
 * (transport-timeouts.ts); one that fires fails it like a transport error: 502.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InflightHandle } from '../observability/inflight.ts';
import { ABLATED } from '../perf/ablate.ts';
import { bareForward, NO_OBSERVATION, servedTicket } from '../perf/ablated-parts.ts';
import { CLIENT_CLOSED } from '../observability/request-metrics.ts';
import { watch } from '../observability/response-observer.ts';
import type { AppDeps, ServerState } from './deps.ts';
import { clientAddress } from './client-address.ts';
import type { SchedError } from '../core/effects.ts';
import { fromSchedError, httpErrors } from './error-catalogue.ts';
import { sendError } from './error-response.ts';
import type { HttpError } from './http-error.ts';
import { serveWithLoadingStream, wantsLoadingStream } from './loading-serve.ts';
import { noticeGrant } from './grant-notice.ts';
import { leanForward } from './lean-forward.ts';
import { parsedBase, type ProxyOutcome, type ProxyTarget } from './proxy.ts';
import type { UpstreamTimeouts } from '../config/types.ts';
import { armTimeouts } from './transport-timeouts.ts';
import { pendingUpgrade, type PendingUpgrade } from './upgrade.ts';
import type { Upstream } from '../runtime/upstreams.ts';
import type { ClientRequest } from 'node:http';

export interface ServeOptions {
  /** The real model id (aliases resolved). */
  model: string;
  /** The body to forward, read whole (and possibly rewritten). */
  body: Buffer;
  /** Upstream path and query. */
  forwardPath: string;
  /**
   * The path the in-flight tracker shows (reference 7.2), or null: not tracked (an
   * `/upstream/...` request that is no model route, per 3.8).
   */
  trackAs: string | null;
  /** The in-flight entry's `metadata` (reference 7.2; e.g. `selector`). */
  metadata?: Record<string, string> | undefined;
  /** The client asked for a streamed answer (drives `sendLoadingState`, loading-serve.ts). */
  stream?: boolean;
  /**
   * Forward with lean-forward.ts (the model routes, the hot path) rather than http-proxy-3,
   * which stays for `/upstream/...` and `/comfyui/...` passthrough and websockets.
   */
  lean?: boolean;
}

export async function serveThroughScheduler(
  req: IncomingMessage,
  res: ServerResponse,
  deps: AppDeps,
  state: ServerState,
  opts: ServeOptions,
): Promise<void> {
  const upgrade = pendingUpgrade(req);
  const timeouts = state.config.models[opts.model]?.timeouts;
  if (upgrade && state.config.models[opts.model]?.compat.ignoreWebsockets) {
    const upstream = state.runtime.servedAt(opts.model);
    if (!upstream) return sendError(req, res, httpErrors.ignoredWebsocketNotLoaded(opts.model));
    await proxyWebsocket(req, res, deps, opts, upgrade, upstream, timeouts);
    return;
  }
  const askedAt = performance.now();
  const ticket = (ABLATED.scheduler ? servedTicket(state, opts.model) : null) ?? state.runtime.request(opts.model);
  // /metrics: counted when the handler ends, by status; its first body byte is the access log's counter's.
  const observed = ABLATED.metrics ? NO_OBSERVATION : deps.metrics.beginRequest(opts.model, opts.trackAs ?? '/upstream', askedAt);
  // A client that leaves before its response finished cancels the ticket (queued or loading:
  // it leaves the queue; serving: the forward's own close aborts the upstream request).
  const observer = watch(res);
  observer.ticket = ticket;
  let tracked: InflightHandle | null = null;
  try {
    const refused = await ticket.admission;
    if (refused) return sendError(req, res, refusal(refused, opts.model, askedAt));
    // Admitted: visible (and cancellable) from now until the response ends or the client leaves.
    if (opts.trackAs !== null && !ABLATED.inflight) {
      tracked = deps.inflight.begin(req, res, {
        model: opts.model,
        path: opts.trackAs,
        reqId: ticket.reqId,
        remoteIp: clientAddress(req, state.config),
        metadata: opts.metadata,
      });
    }
    // sendLoadingState: a streamed chat request to a model that is not ready gets loading
    // frames at once, then the answer, in one 200 response (loading-serve.ts).
    if (!upgrade && wantsLoadingStream(state, opts)) return await serveWithLoadingStream(req, res, deps, state, opts, { ticket, refusal: (e) => refusal(e, opts.model, askedAt), tracked, observed });
    const grant = await ticket.grant;
    if (!grant.ok) {
      if (!res.destroyed) sendError(req, res, refusal(grant.error, opts.model, askedAt));
      return;
    }
    if (res.destroyed) return; // left between the grant and now; done() below frees the slot
    noticeGrant(res, state, opts.model, tracked, observed);
    // The grant says where: the server of the start it was granted on, and that start's agent.
    if (upgrade) {
      await proxyWebsocket(req, res, deps, opts, upgrade, grant.upstream, timeouts);
      return;
    }
    const forward = ABLATED.proxy ? bareForward : opts.lean ? leanForward : deps.proxy.forward;
    // One literal, no spread (a spread of a conditional object was a slow copy per request).
    const target: ProxyTarget = { base: grant.upstream.base, path: opts.forwardPath, body: opts.body, agent: grant.upstream.agent };
    if (timeouts) target.prepare = timed(timeouts, grant.upstream);
    const outcome = await forward(req, res, target);
    if (!outcome.ok) {
      deps.logs.logger.warn(`${opts.model}: upstream error: ${outcome.error.message}`);
      if (!outcome.responded && !res.destroyed) {
        sendError(req, res, httpErrors.upstreamUnreachable(opts.model, outcome.error.message));
      } else {
        res.destroy();
      }
    }
  } finally {
    observer.ticket = null;
    ticket.done();
    tracked?.end();
    observed.end(res.headersSent ? res.statusCode : CLIENT_CLOSED, observer.firstByteAt);
  }
}

/**
 * The answer to a scheduler refusal: it says which model, and a failed start how long the
 * client really waited (from `askedAt`: the body had been read, the scheduler was asked).
 */
function refusal(e: SchedError, model: string, askedAt: number): HttpError {
  return fromSchedError(e, { model, waitedMs: performance.now() - askedAt });
}

/** The model's phase timers for an upstream request to `upstream` (transport-timeouts.ts). */
function timed(timeouts: UpstreamTimeouts, upstream: Upstream): (out: ClientRequest) => void {
  return (out) => armTimeouts(out, timeouts, parsedBase(upstream.base).url.host);
}

/**
 * Hands an upgrade's socket to the proxy and resolves once it is closed. An upstream that
 * fails before answering gets the client a 502 on the socket; after its 101, the socket is
 * simply cut.
 */
async function proxyWebsocket(
  req: IncomingMessage,
  res: ServerResponse,
  deps: AppDeps,
  opts: ServeOptions,
  upgrade: PendingUpgrade,
  upstream: Upstream,
  timeouts: UpstreamTimeouts | undefined,
): Promise<ProxyOutcome> {
  const outcome = await deps.proxy.ws(
    req,
    upgrade.socket,
    upgrade.head,
    { base: upstream.base, path: opts.forwardPath, agent: upstream.agent, ...(timeouts ? { prepare: timed(timeouts, upstream) } : {}) },
    (err, responded) => {
      deps.logs.logger.warn(`${opts.model}: websocket upstream error: ${err.message}`);
      if (!responded && !res.headersSent && !res.destroyed) sendError(req, res, httpErrors.upstreamUnreachable(opts.model, err.message));
    },
  );
  return outcome;
}
