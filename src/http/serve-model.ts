/**
 * The request path shared by the model routes and `/upstream/...`: ask the scheduler for a
 * grant, then stream the exchange through the proxy, and always give the slot back.
 *
 * A client that disconnects while queued or while its model loads is cancelled (it leaves
 * the queue and frees its concurrency slot); one that disconnects mid-stream closes the
 * upstream request (http-proxy-3) and its SERVE_DONE lets queued swaps proceed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InflightHandle } from '../observability/inflight.ts';
import type { AppDeps, ServerState } from './deps.ts';
import { clientAddress } from './client-address.ts';
import type { SchedError } from '../core/effects.ts';
import { fromSchedError, httpErrors } from './error-catalogue.ts';
import { sendError } from './error-response.ts';
import type { HttpError } from './http-error.ts';
import { serveWithLoadingStream, wantsLoadingStream } from './loading-serve.ts';

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
}

export async function serveThroughScheduler(
  req: IncomingMessage,
  res: ServerResponse,
  deps: AppDeps,
  state: ServerState,
  opts: ServeOptions,
): Promise<void> {
  const askedAt = performance.now();
  // A refusal says which model, and a failed start how long the client really waited (from
  // here: the body has been read, the scheduler is asked now).
  const refusal = (e: SchedError): HttpError => fromSchedError(e, { model: opts.model, waitedMs: performance.now() - askedAt });
  const ticket = state.runtime.request(opts.model);
  const onClose = () => {
    if (!res.writableFinished) ticket.cancel();
  };
  res.on('close', onClose);
  let tracked: InflightHandle | null = null;
  try {
    const refused = await ticket.admission;
    if (refused) return sendError(req, res, refusal(refused));
    // Admitted: visible (and cancellable) from now until the response ends or the client leaves.
    if (opts.trackAs !== null) {
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
    if (wantsLoadingStream(state, opts)) return await serveWithLoadingStream(req, res, deps, state, opts, { ticket, refusal, tracked });
    const grant = await ticket.grant;
    if (!grant.ok) {
      if (!res.destroyed) sendError(req, res, refusal(grant.error));
      return;
    }
    if (res.destroyed) return; // left between the grant and now; done() below frees the slot
    tracked?.serving();
    // The grant says where: the server of the start it was granted on, and that start's agent.
    const outcome = await deps.proxy.forward(req, res, {
      base: grant.upstream.base,
      path: opts.forwardPath,
      body: opts.body,
      agent: grant.upstream.agent,
    });
    if (!outcome.ok) {
      deps.logs.logger.warn(`${opts.model}: upstream error: ${outcome.error.message}`);
      if (!outcome.responded && !res.destroyed) {
        sendError(req, res, httpErrors.upstreamUnreachable(opts.model, outcome.error.message));
      } else {
        res.destroy();
      }
    }
  } finally {
    res.off('close', onClose);
    ticket.done();
    tracked?.end();
  }
}
