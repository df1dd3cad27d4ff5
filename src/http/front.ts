/**
 * The server's request listener: the front checks, the model routes, and an Express router
 * with the Express application behind them.
 *
 * Order: the front checks (access log, bad request target, CORS preflight, path cleaning) ->
 * the model routes, found by method and path (route guard: browser checks and API-key auth;
 * then the handler) -> the router: the application (management, events, UI, logs,
 * `/upstream`, 404/405) -> errors.
 *
 * Why not the application for the model routes: for every request it handles, the
 * application swaps the prototypes of `req` and `res` for its own (to add `res.json`,
 * `req.path`, ...). V8 then no longer runs Node's HTTP code on those objects at full speed:
 * measured on the 32-connection proxy bench, the swap alone cost about 100 µs of CPU per
 * request (a bare pass-through proxy spends about 120). So the model routes, which are the
 * proxy's hot path, use Node's plain request and response; everything else keeps Express's
 * helpers.
 *
 * And why not the router for them either (issue 16): their paths are exact, so one Map
 * lookup of method and path finds a model route. The router matched the request against
 * each layer in turn (a RegExp per route, `next` per layer, params, prefix trimming): about
 * 5 % of a lone request's CPU. The router stays for everything else, behind the lookup.
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
import type { Route, RouteGuard } from './route-list.ts';
import { upgradeListener } from './upgrade.ts';

type Next = (err?: unknown) => void;
type Listener = (req: IncomingMessage, res: ServerResponse) => void;
/** What the front checks hand a request on to, with its (clean) path. */
type Onward = (req: IncomingMessage, res: ServerResponse, path: string) => void;

/**
 * The front of every request, in one layer (each router layer costs a request a match and a
 * `next`): the access log, then Go's checks in Go's order. A bad target is refused before
 * CORS, and a preflight is answered before path cleaning.
 */
function frontChecks(deps: AppDeps, onward: Onward): Listener {
  const log = accessLog(
    () => deps.logs,
    () => deps.current().config,
  );
  const cors = corsPreflight();
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '';
    if (!ABLATED.accesslog) log(req, res);
    if (req.method === 'OPTIONS' && url === '*') return cors(req, res, () => onward(req, res, url));
    const target = parseRequestTarget(url);
    if (!target) return sendError(req, res, httpErrors.badRequestTarget());
    const { path } = target;
    if (path.includes('%') && !hasValidEscapes(path)) return sendError(req, res, httpErrors.badRequestTarget());
    // Go's mux answers a path with `.`, `..` or empty segments with a 301 to the cleaned
    // path, before any handler: `/upstream/a/../b/x` never reaches model a, nor b unless the
    // client follows the redirect with a request of its own. `%2F` and `%2e%2e` stay as they are.
    // The fast path: a path with no empty or dot segment is clean already.
    const cleaned = path.includes('//') || path.includes('/.') ? cleanPath(path) : path;
    if (cleaned !== path) {
      const redirect = () => goRedirect(req, res, 301, cleaned + target.query);
      return req.method === 'OPTIONS' ? cors(req, res, redirect) : redirect();
    }
    if (req.method === 'OPTIONS') return cors(req, res, () => onward(req, res, path));
    onward(req, res, path);
  };
}

/**
 * The model routes by method and exact path (HEAD answered by the GET route, as Express and
 * Go's mux do), each behind the route guard; `undefined` when none takes the request.
 */
function directRoutes(routes: readonly Route[], guard: RouteGuard, onError: (err: unknown, req: IncomingMessage, res: ServerResponse) => void) {
  const byKey = new Map<string, Listener>();
  for (const route of routes) {
    // Only exact paths and one method: anything else stays with the router.
    if (route.prefix || route.method === null) throw new Error(`a hot-path route must be exact and of one method: ${route.path}`);
    const handler = route.handler as unknown as (req: IncomingMessage, res: ServerResponse) => unknown;
    // As Express 5 does: a rejected promise goes to the error handler.
    const run = (req: IncomingMessage, res: ServerResponse): void => {
      let result: unknown;
      try {
        result = handler(req, res);
      } catch (err) {
        onError(err, req, res);
        return;
      }
      if (result instanceof Promise) result.catch((err: unknown) => onError(err, req, res));
    };
    const guarded: Listener = route.guarded ? (req, res) => guard(req, res, () => run(req, res)) : run;
    byKey.set(`${route.method} ${route.path}`, guarded);
    if (route.method === 'GET') byKey.set(`HEAD ${route.path}`, guarded);
  }
  return (method: string | undefined, path: string): Listener | undefined => byKey.get(`${method} ${path}`);
}

/**
 * The request listener of an HTTP(S) server: the front checks, then the model routes by
 * lookup, every other route in the application behind the router. The application gets the
 * whole list of routes, which also decides its 404s and 405s.
 */
export function createRequestListener(deps: AppDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const hotPath = modelRoutes(deps).routes;
  const rest = appRoutes(deps);
  const app: express.Express = createApp(deps, rest, [...hotPath, ...rest]);

  const onError = handlerError(deps.logs);
  const direct = directRoutes(hotPath, routeGuard(deps), onError);
  // Go's mux matches paths exactly: no trailing-slash or letter-case variants (reference 3.2).
  const router = Router({ strict: true, caseSensitive: true });
  router.use(app);
  router.use((err: unknown, req: IncomingMessage, res: ServerResponse, _next: Next) => onError(err, req, res));
  const routed: Listener = (req, res) => {
    router(req as express.Request, res as express.Response, (err?: unknown) => {
      // Only reached if the application itself failed to answer.
      if (err !== undefined && err !== 'route' && err !== 'router') onError(err, req, res);
      else if (!res.headersSent) onError(new Error('no handler answered'), req, res);
    });
  };

  return oneAtATime(frontChecks(deps, (req, res, path) => (direct(req.method, path) ?? routed)(req, res)));
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
