/**
 * `/comfyui` (reference 3.9): ComfyUI's web app, served through the one reserved local model
 * `comfyui_auto` (whose config forces `compat.ignoreWebsockets` and a concurrency limit of at
 * least 50, model-fields.ts). `/comfyui` redirects to `/comfyui/`; `/comfyui/<path>` is a
 * pass-through like `/upstream/comfyui_auto/<path>`, except that only `/comfyui/` itself may
 * start the model: an open ComfyUI tab keeps polling and reconnecting, and must not load the
 * model back after an unload. Behind the route guard, as in llama-swap; no profile pins.
 */
import { COMFYUI_MODEL_ID } from '../config/model-fields.ts';
import { readBodyOrRefuse } from './body.ts';
import type { AppDeps } from './deps.ts';
import { httpErrors } from './error-catalogue.ts';
import { sendError } from './error-response.ts';
import { goRedirect } from './redirect.ts';
import { parseRequestTarget } from './request-target.ts';
import { RouteList, under } from './route-list.ts';
import { serveThroughScheduler } from './serve-model.ts';

const PREFIX = '/comfyui';

export function comfyuiRoutes(deps: AppDeps): RouteList {
  return new RouteList()
    .all(PREFIX, (req, res) => {
      const status = req.method === 'GET' || req.method === 'HEAD' ? 301 : 308;
      goRedirect(req, res, status, `${PREFIX}/${parseRequestTarget(req.originalUrl)?.query ?? ''}`);
    })
    .all(under(`${PREFIX}/`), async (req, res, next) => {
      // The path as the client escaped it, as `/upstream` forwards it (upstream-route.ts).
      const target = parseRequestTarget(req.originalUrl);
      if (!target?.path.startsWith(`${PREFIX}/`)) return next();
      const state = deps.current();
      if (!state.config.models[COMFYUI_MODEL_ID]) return sendError(req, res, httpErrors.comfyuiNotFound());
      const rest = target.path.slice(PREFIX.length);
      if (rest !== '/' && !state.runtime.serving(COMFYUI_MODEL_ID)) return sendError(req, res, httpErrors.comfyuiNotLoaded());
      const body = await readBodyOrRefuse(req, res, { maxBytes: state.config.maxRequestBodyBytes, budget: deps.bodies });
      if (body === null) return;
      await serveThroughScheduler(req, res, deps, state, {
        model: COMFYUI_MODEL_ID,
        body,
        forwardPath: rest + target.query,
        // llama-swap's /comfyui chain has no in-flight tracker.
        trackAs: null,
      });
    });
}
