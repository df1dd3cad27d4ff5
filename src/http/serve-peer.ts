/**
 * The request path of a peer model (reference 5.5): a pure reverse proxy to another server.
 * No scheduler, process, queue, TTL or concurrency limit is involved, so a peer request can
 * neither wait for nor evict a local model.
 *
 * What changes on the way (reference 2.6, 3.4, 3.13, 3.15):
 * - the path (and query) is appended to the peer's proxy URL's path;
 * - the model the request names is rewritten from the name asked for (FQN or bare) to the
 *   peer's own id, in a JSON body, a form body or the query, every other byte kept;
 * - the peer's filters apply to JSON bodies;
 * - with `apiKey` set, `Authorization: Bearer <key>` and `x-api-key: <key>` replace the
 *   client's; without, the client's Authorization goes through unchanged;
 * - `Host` is the peer's and no `X-Forwarded-*` goes out, as llama-swap's peer proxy does;
 * - the connect, TLS-handshake and response-header phases are timed (`timeouts`).
 * A transport error is answered 502 `peer proxy error: <err>` and touches nothing else.
 */
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { ModelTarget } from '../config/resolve-model.ts';
import type { PeerConfig } from '../config/types.ts';
import { clientAddress } from './client-address.ts';
import type { AppDeps, ServerState } from './deps.ts';
import { httpErrors } from './error-catalogue.ts';
import { leanForward } from './lean-forward.ts';
import { sendError } from './error-response.ts';
import { applyFilters } from './filters.ts';
import { rewriteModel, rewriteQueryModel } from './model-rewrite.ts';
import { armTimeouts } from './transport-timeouts.ts';
import { pendingUpgrade } from './upgrade.ts';

export type PeerTarget = Extract<ModelTarget, { kind: 'peer' }>;

export interface PeerServeOptions {
  target: PeerTarget;
  /** The name the client asked for (FQN or bare id). */
  requested: string;
  /** The body to forward, read whole and already rewritten ({@link peerRequest}). */
  body: Buffer;
  /** Path and query to request under the peer's proxy URL. */
  forwardPath: string;
  /** The path the in-flight tracker shows, or null: not tracked (see serve-model.ts). */
  trackAs: string | null;
  /** Forward with lean-forward.ts (the model routes) rather than http-proxy-3 (`/upstream/...`). */
  lean?: boolean;
}

/** What a request becomes on its way to a peer: its body and its query. */
export interface PeerRequest {
  body: Buffer;
  /** The query string with its `?`, or ''. */
  query: string;
}

/**
 * Rewrites a request for the peer: the model it names becomes the peer's own id, wherever
 * the request names it, and (`filters`, model routes only) the peer's filters apply to a
 * JSON body. A GET names its model in the query; JSON in the body; a form body in its
 * `model` field, else in the query.
 */
export function peerRequest(
  req: Pick<IncomingMessage, 'method' | 'headers'>,
  body: Buffer,
  query: string,
  names: { requested: string; model: string },
  filters: PeerConfig['filters'] | null,
): PeerRequest {
  const { requested, model } = names;
  const method = (req.method ?? 'GET').toUpperCase();
  if (method === 'GET' || method === 'HEAD') {
    return { body, query: requested === model ? query : rewriteQueryModel(query, model) };
  }
  const contentType = String(req.headers['content-type'] ?? '');
  const ct = contentType.toLowerCase();
  if (ct.includes('application/json')) {
    if (filters) return { body: applyFilters(body, { useModelName: model, filters }, requested) ?? body, query };
    return { body: requested === model ? body : rewriteModel(body, contentType, model), query };
  }
  if (requested === model) return { body, query };
  // A form names its model in a field, else in the query: each is rewritten where it is.
  return { body: rewriteModel(body, contentType, model, { addWhenAbsent: false }), query: rewriteQueryModel(query, model) };
}

/** Forwards a request to its peer and resolves once the exchange is over. */
export async function serveThroughPeer(
  req: IncomingMessage,
  res: ServerResponse,
  deps: AppDeps,
  state: ServerState,
  opts: PeerServeOptions,
): Promise<void> {
  const { target } = opts;
  const peer = state.config.peers[target.peer];
  if (!peer) return sendError(req, res, httpErrors.noRouter(opts.requested, { closest: [], more: 0 }));
  // llama-swap refuses peer requests once shutdown has begun ("peer proxy is shutting down").
  if (deps.peers.closing) return sendError(req, res, httpErrors.shuttingDown());
  const logger = deps.logs.logger;
  logger.debug(`peer: routing model ${opts.requested} to peer ${target.peer} as ${target.model}`);
  const forward = deps.peers.begin(
    { peer: target.peer, requested: opts.requested, model: target.model, method: req.method ?? '', path: opts.forwardPath },
    () => res.destroy(),
  );
  // Nothing to wait for: a peer request is served from the start.
  const tracked =
    opts.trackAs === null
      ? null
      : deps.inflight.begin(req, res, {
          model: target.fqn,
          path: opts.trackAs,
          reqId: forward.reqId,
          remoteIp: clientAddress(req, state.config),
          phase: 'serving',
        });
  try {
    const upgrade = pendingUpgrade(req);
    if (upgrade) {
      // A websocket to a peer model: proxied as one, for as long as the socket is open.
      await deps.proxy.ws(
        req,
        upgrade.socket,
        upgrade.head,
        { base: peer.proxy, path: opts.forwardPath, agent: deps.peers.agentFor(peer), style: 'peer', prepare: (out) => preparePeerRequest(out, peer) },
        (err, responded) => {
          forward.failed();
          logger.warn(`peer ${target.peer}: websocket proxy error: ${errorText(err)}`);
          if (!responded && !res.headersSent && !res.destroyed) sendError(req, res, httpErrors.peerProxyError(errorText(err)));
        },
      );
      return;
    }
    const outcome = await (opts.lean ? leanForward : deps.proxy.forward)(req, res, {
      base: peer.proxy,
      path: opts.forwardPath,
      body: opts.body,
      agent: deps.peers.agentFor(peer),
      style: 'peer',
      prepare: (out) => preparePeerRequest(out, peer),
    });
    if (!outcome.ok) {
      const detail = errorText(outcome.error);
      if (res.destroyed) {
        // The client left (or its request was cancelled): not the peer's failure.
        logger.debug(`peer ${target.peer}: request cancelled: ${detail}`);
      } else {
        forward.failed();
        logger.warn(`peer ${target.peer}: proxy error: ${detail}`);
        if (outcome.responded) res.destroy();
        else sendError(req, res, httpErrors.peerProxyError(detail));
      }
    }
  } finally {
    forward.end();
    tracked?.end();
  }
}

/** The peer's key replaces the client's credentials; the phases get their timers. */
function preparePeerRequest(out: ClientRequest, peer: PeerConfig): void {
  if (peer.apiKey !== '') {
    out.setHeader('authorization', `Bearer ${peer.apiKey}`);
    out.setHeader('x-api-key', peer.apiKey);
  }
  armTimeouts(out, peer.timeouts, new URL(peer.proxy).host);
}

/**
 * An error's text for the 502 and the log. A connection refused on every address of a name
 * (Node tries each, `autoSelectFamily`) is an AggregateError with an empty message: its
 * parts say what happened.
 */
function errorText(err: Error): string {
  if (err.message !== '') return err.message;
  const parts = err instanceof AggregateError ? err.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))) : [];
  const code = (err as NodeJS.ErrnoException).code;
  return parts.filter(Boolean).join('; ') || code || err.name;
}
