/**
 * `POST /api/inflight/<id>/cancel` (reference 3.6): ends a tracked request as if its client
 * had left (queued: it leaves the queue; serving: the upstream request is aborted).
 */
import { Router } from 'express';
import type { AppDeps } from './deps.ts';
import { httpErrors } from './error-catalogue.ts';
import { sendError } from './error-response.ts';
import { decodePathComponent, parseRequestTarget } from './request-target.ts';

const CANCEL = /^\/api\/inflight\/([^/]+)\/cancel$/;

export function inflightRoutes(deps: AppDeps): Router {
  const r = Router({ strict: true, caseSensitive: true });

  // A RegExp route on the raw target, so Express does not decode the id itself (it answers
  // an undecodable `%ff` with a 400 quoting it).
  r.post(/^\/api\/inflight\//, (req, res) => {
    const m = CANCEL.exec(parseRequestTarget(req.originalUrl)?.path ?? '');
    // Any other path under the prefix matches no pattern of Go's mux: its plain 404.
    if (!m) return sendError(req, res, httpErrors.routeNotFound());
    const id = decodePathComponent(m[1]!);
    if (id === null || !deps.inflight.cancel(id)) return sendError(req, res, httpErrors.inflightNotFound());
    res.json({ msg: 'ok' });
  });

  return r;
}
