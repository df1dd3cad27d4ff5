/**
 * `POST /api/inflight/<id>/cancel` (reference 3.6): ends a tracked request as if its client
 * had left (queued: it leaves the queue; serving: the upstream request is aborted).
 */
import type { AppDeps } from './deps.ts';
import { httpErrors } from './error-catalogue.ts';
import { sendError } from './error-response.ts';
import { decodePathComponent, parseRequestTarget } from './request-target.ts';
import { RouteList, under } from './route-list.ts';

const CANCEL = /^\/api\/inflight\/([^/]+)\/cancel$/;

export function inflightRoutes(deps: AppDeps): RouteList {
  const r = new RouteList();

  // The id is decoded here from the raw target, not by Express (route-list.ts).
  r.post(under('/api/inflight/'), (req, res) => {
    const m = CANCEL.exec(parseRequestTarget(req.originalUrl)?.path ?? '');
    // Any other path under the prefix matches no pattern of Go's mux: its plain 404.
    if (!m) return sendError(req, res, httpErrors.routeNotFound());
    const id = decodePathComponent(m[1]!);
    if (id === null || !deps.inflight.cancel(id)) return sendError(req, res, httpErrors.inflightNotFound());
    res.json({ msg: 'ok' });
  });

  return r;
}
