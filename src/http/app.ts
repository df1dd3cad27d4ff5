/**
 * The Express application: every route of llama-swap's (reference 3.1) except the model
 * routes, which `front.ts` serves before it.
 *
 * Order (after the front's checks): public routes -> management, events, UI, logs,
 * `/upstream`, `/comfyui` (each behind the route guard: browser checks, API-key auth) -> 405 / 404 like
 * Go's mux (plain text, not the envelope), read from every registered route, model routes
 * included -> errors.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { allowedMethods } from './allowed-methods.ts';
import type { AppDeps } from './deps.ts';
import { httpErrors } from './error-catalogue.ts';
import { handlerError, sendError } from './error-response.ts';
import { activityRoutes } from './activity-routes.ts';
import { eventsRoutes } from './events-routes.ts';
import { inflightRoutes } from './inflight-routes.ts';
import { logsRoutes } from './logs-routes.ts';
import { managementRoutes } from './management-routes.ts';
import { metricsRoutes } from './metrics-routes.ts';
import { profileRoutes } from './profile-routes.ts';
import { parseRequestTarget } from './request-target.ts';
import { mountRoutes, RouteList, type Route } from './route-list.ts';
import { uiRoutes } from './ui-routes.ts';
import { upstreamRoutes } from './upstream-route.ts';
import { comfyuiRoutes } from './comfyui-route.ts';
import { goRedirect } from './redirect.ts';
import { routeGuard } from './route-guard.ts';

/** llama-swap's routes without authentication: health checks, the root and `/upstream` redirects. */
function publicRoutes(deps: AppDeps): RouteList {
  const r = new RouteList(false);
  // 503 with the reason when the actor tree has stopped or the event loop stalls, so a
  // supervisor can tell a wedged swapstate from a healthy one (llama-swap #946: /health said
  // OK while every request hung).
  const ok = (req: Request, res: Response) => {
    const problem = deps.liveness();
    if (problem) return sendError(req, res, httpErrors.unhealthy(problem));
    res.type('text/plain').send('OK');
  };
  r.get('/health', ok);
  r.get('/wol-health', ok);
  r.get('/', (req, res) => goRedirect(req, res, 302, '/ui'));
  r.get('/upstream', (req, res) => goRedirect(req, res, 302, '/ui/models'));
  // Any other method: Go's mux redirects `/upstream` to `/upstream/`, which answers any method.
  r.all('/upstream', (req, res) => goRedirect(req, res, 301, `/upstream/${parseRequestTarget(req.url)?.query ?? ''}`));
  return r;
}

/** The application's routes, in the order they are tried: the public ones first. */
export function appRoutes(deps: AppDeps): Route[] {
  const lists = [
    publicRoutes(deps),
    managementRoutes(deps),
    metricsRoutes(deps),
    profileRoutes(deps),
    eventsRoutes(deps),
    inflightRoutes(deps),
    activityRoutes(deps),
    uiRoutes(deps),
    logsRoutes(deps),
    upstreamRoutes(deps),
    comfyuiRoutes(deps),
  ];
  return lists.flatMap((list) => list.routes);
}

/**
 * The application serving `routes`. `everyRoute` is every route the server registers (the
 * model routes too): a request none of them takes gets Go's 404, or 405 with the `Allow`
 * they add up to, before any middleware, so it never asks for an API key.
 */
export function createApp(deps: AppDeps, routes: readonly Route[], everyRoute: readonly Route[]): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // Go's mux matches paths exactly: no trailing-slash or letter-case variants (reference 3.2).
  app.set('strict routing', true);
  app.set('case sensitive routing', true);
  app.set('etag', false);
  app.set('query parser', 'simple');

  mountRoutes(app, routes, routeGuard(deps));

  app.use((req: Request, res: Response) => {
    const allow = allowedMethods(everyRoute, req.path);
    sendError(req, res, allow ? httpErrors.methodNotAllowed(allow) : httpErrors.routeNotFound());
  });

  // A handler that throws must cost one request, never the server.
  const onError = handlerError(deps.logs);
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => onError(err, req, res));

  return app;
}
