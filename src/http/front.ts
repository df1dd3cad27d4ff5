/**
 * The server's request listener: an Express router in front of the Express application.
 *
 * Order: the front checks (access log, bad request target, CORS preflight, path cleaning, in
 * one layer) -> the model routes, each an Express route (route guard: browser checks and
 * API-key auth; then the handler) ->
 * the application (management, events, UI, logs, `/upstream`, 404/405) -> errors.
 *
 * Why a router and not the application for the model routes: for every request it handles,
 * the application swaps the prototypes of `req` and `res` for its own (to add `res.json`,
 * `req.path`, ...). V8 then no longer runs Node's HTTP code on those objects at full speed:
 * measured on the 32-connection proxy bench, the swap alone cost about 100 µs of CPU per
 * request (a bare pass-through proxy spends about 120). The router routes without touching
 * prototypes, so the model routes, which are the proxy's hot path, use Node's plain request
 * and response; everything else keeps Express's helpers.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import express, { Router } from 'express';
import { ABLATED } from '../perf/ablate.ts';
import { accessLog } from './access-log.ts';
import { appRoutes, createApp } from './app.ts';
import { corsPreflight } from './cors.ts';
import type { AppDeps } from './deps.ts';
import { httpErrors } from './error-catalogue.ts';
import { handlerError, sendError } from './error-response.ts';
import { modelRoutes } from './model-routes.ts';
import { expectContinue } from './expect-continue.ts';
import { oneAtATime } from './one-at-a-time.ts';
import { goRedirect } from './redirect.ts';
import { routeGuard } from './route-guard.ts';
import { cleanPath, hasValidEscapes, parseRequestTarget } from './request-target.ts';
import { mountRoutes } from './route-list.ts';
import { upgradeListener } from './upgrade.ts';

type Next = (err?: unknown) => void;

/**
 * The front of every request, in one layer (each router layer costs a request a match and a
 * `next`): the access log, then Go's checks in Go's order. A bad target is refused before
 * CORS, and a preflight is answered before path cleaning.
 */
function frontChecks(deps: AppDeps) {
  const log = accessLog(
    () => deps.logs,
    () => deps.current().config,
  );
  const cors = corsPreflight();
  return (req: IncomingMessage, res: ServerResponse, next: Next): void => {
    const url = req.url ?? '';
    if (!ABLATED.accesslog) log(req, res);
    if (req.method === 'OPTIONS' && url === '*') return cors(req, res, next);
    const target = parseRequestTarget(url);
    if (!target) return sendError(req, res, httpErrors.badRequestTarget());
    const { path } = target;
    if (path.includes('%') && !hasValidEscapes(path)) return sendError(req, res, httpErrors.badRequestTarget());
    // Go's mux answers a path with `.`, `..` or empty segments with a 301 to the cleaned
    // path, before any handler: `/upstream/a/../b/x` never reaches model a, nor b unless the
    // client follows the redirect with a request of its own. `%2F` and `%2e%2e` stay as they are.
    // The fast path: a path with no empty or dot segment is clean already.
    const cleaned = path.includes('//') || path.includes('/.') ? cleanPath(path) : path;
    const rest = cleaned === path ? next : () => goRedirect(req, res, 301, cleaned + target.query);
    if (req.method === 'OPTIONS') return cors(req, res, rest);
    rest();
  };
}

/**
 * The request listener of an HTTP(S) server: the model routes on this router, every other
 * route in the application behind it. Both are registered from one list of routes, which
 * also decides the application's 404s and 405s.
 */
export function createRequestListener(deps: AppDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const hotPath = modelRoutes(deps).routes;
  const rest = appRoutes(deps);
  const app: express.Express = createApp(deps, rest, [...hotPath, ...rest]);

  // Go's mux matches paths exactly: no trailing-slash or letter-case variants (reference 3.2).
  const router = Router({ strict: true, caseSensitive: true });
  router.use(frontChecks(deps));
  // Express 5 hands a rejected promise to the error layer.
  mountRoutes(router, hotPath, routeGuard(deps));
  router.use(app);
  const onError = handlerError(deps.logs);
  router.use((err: unknown, req: IncomingMessage, res: ServerResponse, _next: Next) => onError(err, req, res));

  return oneAtATime((req, res) => {
    router(req as express.Request, res as express.Response, (err?: unknown) => {
      // Only reached if the application itself failed to answer.
      if (err !== undefined && err !== 'route' && err !== 'router') onError(err, req, res);
      else if (!res.headersSent) onError(new Error('no handler answered'), req, res);
    });
  });
}

/**
 * Serves `listener` on `server`: ordinary requests, and those that wait for `100 Continue`
 * (Node emits those separately, and would otherwise answer 100 for us at once, before any
 * check; see expect-continue.ts), and upgrade requests (upgrade.ts).
 */
export function serveRequests(
  server: Pick<Server, 'on'>,
  listener: (req: IncomingMessage, res: ServerResponse) => void,
  upgraded?: Set<Duplex>,
): void {
  server.on('request', listener);
  // Upgrades (websockets) go through the same listener, answered on their socket (upgrade.ts).
  server.on('upgrade', upgradeListener(listener, upgraded));
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    expectContinue(req, res);
    listener(req, res);
  });
}
