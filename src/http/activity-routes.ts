/**
 * The activity API (reference 3.6, 7.3, 7.4): `GET /api/metrics/activity` (a page of rows),
 * `GET /api/metrics/stats[?model=]` (totals and speed histograms) and `GET /api/captures/<id>`
 * (one exchange's bodies, base64). Behind API-key auth like every `/api/` route.
 */
import type { AppDeps } from './deps.ts';
import { parseActivityQuery } from '../observability/activity-query.ts';
import { captureJson } from '../observability/capture-cache.ts';
import { httpErrors } from './error-catalogue.ts';
import { sendError } from './error-response.ts';
import { decodePathComponent, parseRequestTarget } from './request-target.ts';
import { RouteList, under } from './route-list.ts';

const CAPTURES = '/api/captures/';

/** The query string of a request, parsed (from the raw target: Express's req.query folds repeats its own way). */
function queryOf(originalUrl: string): URLSearchParams {
  return new URLSearchParams((parseRequestTarget(originalUrl)?.query ?? '').replace(/^\?/, ''));
}

export function activityRoutes(deps: AppDeps): RouteList {
  const r = new RouteList();

  r.get('/api/metrics/activity', (req, res) => {
    const q = parseActivityQuery(queryOf(req.originalUrl));
    if (q instanceof Error) return sendError(req, res, httpErrors.badActivityQuery(q.message));
    res.json(deps.activity.list(q));
  });

  r.get('/api/metrics/stats', (req, res) => {
    res.json(deps.activity.stats((queryOf(req.originalUrl).get('model') ?? '').trim()));
  });

  // Go's `{id}` is one segment: anything deeper is its plain 404.
  r.get(under(CAPTURES), (req, res) => {
    const raw = (parseRequestTarget(req.originalUrl)?.path ?? '').slice(CAPTURES.length);
    if (raw.includes('/')) return sendError(req, res, httpErrors.routeNotFound());
    const text = decodePathComponent(raw) ?? '';
    // Go's strconv.Atoi: optional sign, digits.
    const id = /^[+-]?\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(id)) return sendError(req, res, httpErrors.invalidCaptureId());
    const capture = deps.activity.captures.get(id);
    if (!capture) return sendError(req, res, httpErrors.captureNotFound());
    res.json(captureJson(capture));
  });

  return r;
}
