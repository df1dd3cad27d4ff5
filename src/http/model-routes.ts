/**
 * The model-dispatched routes (reference 3.2-3.4): read the body within the size bound, find
 * the model (JSON field, multipart field or query), resolve aliases, apply the model's
 * filters, then serve through the scheduler.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { resolveModel } from '../config/load.ts';
import { readBodyOrRefuse } from './body.ts';
import type { AppDeps } from './deps.ts';
import { httpErrors } from './error-catalogue.ts';
import { sendError } from './error-response.ts';
import { applyFilters } from './filters.ts';
import { extractModel } from './model-extract.ts';
import { rewriteModel } from './model-rewrite.ts';
import { suggestModels } from './model-suggestions.ts';
import { parseRequestTarget } from './request-target.ts';
import { RouteList } from './route-list.ts';
import { MODEL_ROUTES, type ModelRoute } from './route-table.ts';
import { serveThroughScheduler } from './serve-model.ts';

/**
 * Every model route (route-table.ts). They are served by the front router on Node's plain
 * request and response (front.ts), the proxy's hot path.
 */
export function modelRoutes(deps: AppDeps): RouteList {
  const r = new RouteList();
  for (const route of MODEL_ROUTES) {
    const handler = modelRouteHandler(deps, route);
    if (route.method === 'GET') r.get(route.path, handler);
    else r.post(route.path, handler);
  }
  return r;
}

/**
 * The handler of one model route. It gets Node's plain request and response (see front.ts):
 * no Express helpers here.
 */
function modelRouteHandler(deps: AppDeps, route: ModelRoute): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    const state = deps.current();
    const body = await readBodyOrRefuse(req, res, { maxBytes: state.config.maxRequestBodyBytes, budget: deps.bodies });
    if (body === null) return;
    const { model: requested, reason, stream } = await extractModel(req, body);
    if (!requested) return sendError(req, res, httpErrors.modelNotIdentified(reason));
    const real = resolveModel(state.config, requested);
    const cfg = real === null ? undefined : state.config.models[real];
    if (real === null || !cfg) return sendError(req, res, httpErrors.noRouter(requested, suggestModels(state.config, requested)));

    // The body goes upstream as it was read (a GET's too: its length header is forwarded),
    // rewritten only for the methods llama-swap rewrites.
    let forwardBody = body;
    const rewritable = req.method !== 'GET' && req.method !== 'HEAD';
    const contentType = String(req.headers['content-type'] ?? '').toLowerCase();
    try {
      if (rewritable && contentType.includes('application/json')) {
        forwardBody = applyFilters(forwardBody, cfg, requested) ?? forwardBody;
      } else if (rewritable && contentType.includes('multipart/form-data') && cfg.useModelName) {
        forwardBody = rewriteModel(forwardBody, String(req.headers['content-type']), cfg.useModelName);
      }
    } catch (err) {
      return sendError(req, res, httpErrors.unspecific((err as Error).message));
    }
    await serveThroughScheduler(req, res, deps, state, {
      model: real,
      body: forwardBody,
      forwardPath: (route.forwardAs ?? route.path) + (parseRequestTarget(req.url ?? '')?.query ?? ''),
      // The router matched the path exactly: it is the route's.
      trackAs: route.path,
      stream,
    });
  };
}
