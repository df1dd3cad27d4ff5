/**
 * The model-dispatched routes (reference 3.2-3.4): read the body within the size bound, find
 * the model (JSON field, multipart field or query), apply the active profile's pins
 * (profile-step.ts), then a selector (selector-step.ts), resolve it (a local model or alias,
 * else a peer model), apply the model's filters, then serve through the scheduler, or forward
 * to the peer (serve-peer.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { resolveTarget } from '../config/resolve-model.ts';
import { ABLATED } from '../perf/ablate.ts';
import { recordActivity } from './activity-recorder.ts';
import { readBodyOrRefuse } from './body.ts';
import type { AppDeps } from './deps.ts';
import { httpErrors } from './error-catalogue.ts';
import { sendError } from './error-response.ts';
import { applyFilters } from './filters.ts';
import { extractModel, type ExtractedModel } from './model-extract.ts';
import { rewriteModel } from './model-rewrite.ts';
import { suggestModels } from './model-suggestions.ts';
import { applyProfile } from './profile-step.ts';
import { parseRequestTarget } from './request-target.ts';
import { RouteList } from './route-list.ts';
import { MODEL_ROUTES, type ModelRoute } from './route-table.ts';
import { applySelector } from './selector-step.ts';
import { serveThroughScheduler } from './serve-model.ts';
import { peerRequest, serveThroughPeer } from './serve-peer.ts';

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
    const read = await readBodyOrRefuse(req, res, { maxBytes: state.config.maxRequestBodyBytes, budget: deps.bodies });
    if (read === null) return;
    const extracted = ABLATED.extract ? ablatedExtract(deps) : extractModel(req, read);
    // Awaited only when it is a promise (multipart): an await is a turn of the microtask queue.
    const { model: named, reason, stream } = extracted instanceof Promise ? await extracted : extracted;
    if (!named) return sendError(req, res, httpErrors.modelNotIdentified(reason));
    // Request-time steps in llama-swap's order (reference 3.4), each on what the last left:
    // the profile's pins first, then a selector, then aliases, local models and peers.
    const pinned = applyProfile(state.profile.snapshot(), req, {
      model: named,
      body: read,
      query: parseRequestTarget(req.url ?? '')?.query ?? '',
    });
    if (!pinned.ok) return sendError(req, res, pinned.error);
    let { model: requested, body, query } = pinned.request;
    const selected = applySelector(state, req, res, requested, body, query, (line) => deps.logs.logger.debug(line));
    if (selected.kind === 'refused') return sendError(req, res, selected.error);
    if (selected.kind === 'chosen') ({ model: requested, body, query } = selected);
    const target = resolveTarget(state.config, requested);
    const forwardAs = route.forwardAs ?? route.path;
    const metadata = selected.kind === 'chosen' ? { selector: selected.selector } : undefined;
    // Metered from here, as llama-swap's metrics layer sits after its profile and selector
    // layers: an unknown model's 404 is a row, a request without a model is not.
    const activity = ABLATED.activity ? null : recordActivity(deps.activity, req, res, {
      model: target === null ? requested : target.kind === 'peer' ? target.fqn : target.model,
      path: route.path,
      routePath: route.path,
      metadata,
    });
    activity?.setRequestBody(body);
    if (target?.kind === 'peer') {
      const peer = state.config.peers[target.peer]!;
      let forward;
      try {
        forward = peerRequest(req, body, query, { requested, model: target.model }, peer.filters);
      } catch (err) {
        return sendError(req, res, httpErrors.unspecific((err as Error).message));
      }
      activity?.setRequestBody(forward.body);
      return serveThroughPeer(req, res, deps, state, {
        target,
        requested,
        body: forward.body,
        forwardPath: forwardAs + forward.query,
        trackAs: route.path,
        lean: true,
      });
    }
    const real = target?.model ?? null;
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
    activity?.setRequestBody(forwardBody);
    await serveThroughScheduler(req, res, deps, state, {
      model: real,
      body: forwardBody,
      forwardPath: forwardAs + query,
      // The router matched the path exactly: it is the route's.
      trackAs: route.path,
      metadata,
      stream,
      lean: true,
    });
  };
}

/** The `extract` ablation (perf/ablate.ts): the first configured model, the body unparsed. */
function ablatedExtract(deps: AppDeps): ExtractedModel {
  return { model: Object.keys(deps.current().config.models)[0] ?? null, stream: false };
}
