/**
 * The Express application: llama-swap's routes and middleware order (reference 3.1), with
 * no `listen`, so tests and the server share it.
 *
 * Order: access log -> bad request target (400, like Go's server) -> CORS preflight -> path
 * cleaning (301, like Go's mux), all in one layer -> model routes (API-key auth inline) ->
 * public routes -> API-key auth -> management, events, UI, logs, `/upstream` -> 405 / 404
 * like Go's mux (plain text, not the envelope).
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { accessLog } from './access-log.ts';
import { apiKeyAuth } from './auth.ts';
import { corsPreflight } from './cors.ts';
import type { AppDeps } from './deps.ts';
import { HttpError, sendError } from './errors.ts';
import { eventsRoutes } from './events-routes.ts';
import { inflightRoutes } from './inflight-routes.ts';
import { logsRoutes } from './logs-routes.ts';
import { managementRoutes } from './management-routes.ts';
import { modelRouteHandler } from './model-routes.ts';
import { cleanPath, hasValidEscapes, parseRequestTarget } from './request-target.ts';
import { findModelRoute, MODEL_ROUTES } from './route-table.ts';
import { uiRoutes } from './ui-routes.ts';
import { upstreamRoutes } from './upstream-route.ts';

/** Exact paths and the methods they answer, for 405 with `Allow`. */
const KNOWN: Record<string, string[]> = {
  '/v1/models': ['GET'],
  '/models': ['GET'],
  '/running': ['GET'],
  '/unload': ['GET'],
  '/api/models/unload': ['POST'],
  '/api/state': ['GET'],
  '/api/events': ['GET'],
  '/health': ['GET'],
  '/wol-health': ['GET'],
  '/logs': ['GET'],
  '/logs/stream': ['GET'],
  '/': ['GET'],
  '/upstream': ['GET'],
  '/ui': ['GET'],
  '/api/machines/process': ['GET'],
};
for (const r of MODEL_ROUTES) (KNOWN[r.path] ??= []).push(r.method);

/** Routes with a path parameter: prefix and the methods they answer (null: any). */
const PREFIXED: Array<[string, string[] | null]> = [
  ['/logs/stream/', ['GET']],
  ['/upstream/', null],
  ['/api/models/unload/', ['POST']],
  ['/api/inflight/', ['POST']],
  ['/ui/', ['GET']],
];

/**
 * Whether some route answers this method and path. Like Go's mux, an unmatched request gets
 * the plain 404 / 405 before any middleware, so it never asks for an API key.
 */
function hasRoute(method: string, path: string): boolean {
  const m = method === 'HEAD' ? 'GET' : method;
  if (KNOWN[path]?.includes(m)) return true;
  return PREFIXED.some(([prefix, methods]) => path.startsWith(prefix) && (methods === null || methods.includes(m)));
}

/**
 * The `Allow` header of Go's 405 for a path some route answers with other methods, or null
 * when no route has the path (404). Like Go: every method of every matching pattern, HEAD
 * with GET, sorted.
 */
function allowedMethods(path: string): string | null {
  const methods = new Set(KNOWN[path] ?? []);
  for (const [prefix, ms] of PREFIXED) if (path.startsWith(prefix) && ms) for (const m of ms) methods.add(m);
  if (methods.size === 0) return null;
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods].sort().join(', ');
}

/**
 * Every model-dispatched route in one middleware with one map lookup (`findModelRoute`): the
 * hot path of a proxy. As separate Express routes each request was matched against each
 * pattern in turn. Paths match exactly, like the rest of the app; HEAD counts as GET.
 */
function modelRoutes(deps: AppDeps, auth: RequestHandler): RequestHandler {
  const handlers = new Map(MODEL_ROUTES.map((route) => [route, modelRouteHandler(deps, route)]));
  return (req, res, next) => {
    const route = findModelRoute(req.method, req.path);
    const handler = route && handlers.get(route);
    if (!handler) return next();
    // An async handler: a rejection must reach the error handler, as Express 5 does for routes.
    auth(req, res, () => void Promise.resolve(handler(req, res, next)).catch(next));
  };
}

/** Go's answer to a request target its URL parser refuses (e.g. `/a%zz`): plain, and close. */
function badRequestTarget(res: Response): void {
  res.status(400).setHeader('Connection', 'close');
  res.type('text/plain').send('400 Bad Request');
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // Go's mux matches paths exactly: no trailing-slash or letter-case variants (reference 3.2).
  app.set('strict routing', true);
  app.set('case sensitive routing', true);
  app.set('etag', false);
  app.set('query parser', 'simple');

  // The front of every request in one layer (each Express layer costs a request a match and
  // a `next`): the access log, then Go's checks in Go's order: a bad target is refused
  // before CORS, a preflight is answered before path cleaning.
  const log = accessLog(() => deps.logs);
  const cors = corsPreflight();
  app.use((req, res, next) => {
    log(req, res);
    if (req.method === 'OPTIONS' && req.url === '*') return cors(req, res, next);
    const target = parseRequestTarget(req.url);
    if (!target) return badRequestTarget(res);
    const { path } = target;
    if (path.includes('%') && !hasValidEscapes(path)) return badRequestTarget(res);
    // Go's mux answers a path with `.`, `..` or empty segments with a 301 to the cleaned
    // path, before any handler: `/upstream/a/../b/x` never reaches model a, nor b unless the
    // client follows the redirect with a request of its own. `%2F` and `%2e%2e` stay as they are.
    // The fast path: a path with no empty or dot segment is clean already.
    const cleaned = path.includes('//') || path.includes('/.') ? cleanPath(path) : path;
    const rest = cleaned === path ? next : () => res.redirect(301, cleaned + target.query);
    if (req.method === 'OPTIONS') return cors(req, res, rest);
    rest();
  });

  // Model routes first: the hot path meets one more layer, and no public route shares a path.
  const auth = apiKeyAuth(() => deps.current().config.apiKeys);
  app.use(modelRoutes(deps, auth));

  // Public: health checks, the root redirect and the UI's entry point.
  // 503 with the reason when the actor tree has stopped or the event loop stalls, so a
  // supervisor can tell a wedged swapstate from a healthy one (llama-swap #946: /health said
  // OK while every request hung).
  const ok = (req: Request, res: Response) => {
    const problem = deps.liveness();
    if (problem) return sendError(req, res, new HttpError(503, problem));
    res.type('text/plain').send('OK');
  };
  app.get('/health', ok);
  app.get('/wol-health', ok);
  app.get('/', (_req, res) => res.redirect(302, '/ui'));
  app.get('/upstream', (_req, res) => res.redirect(302, '/ui/models'));
  // Any other method: Go's mux redirects `/upstream` to `/upstream/`, which answers any method.
  app.all('/upstream', (req, res) => res.redirect(301, `/upstream/${parseRequestTarget(req.url)?.query ?? ''}`));

  app.use((req, res, next) => (hasRoute(req.method, req.path) ? auth(req, res, next) : next()));

  app.use(managementRoutes(deps));
  app.use(eventsRoutes(deps));
  app.use(inflightRoutes(deps));
  app.use(uiRoutes());
  app.use(logsRoutes(deps));
  app.use(upstreamRoutes(deps));

  app.use((req: Request, res: Response) => {
    const allow = allowedMethods(req.path);
    if (allow) {
      res.status(405).setHeader('Allow', allow).type('text/plain').send('Method Not Allowed');
      return;
    }
    res.status(404).type('text/plain').send('404 page not found');
  });

  // A handler that throws must cost one request, never the server.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode;
    const message = err instanceof Error ? err.message : String(err);
    if (status && status >= 400 && status < 500) return sendError(req, res, new HttpError(status, message));
    deps.logs.logger.error(`${req.method} ${req.originalUrl}: ${message}`);
    sendError(req, res, new HttpError(500, `unspecific error: ${message}`));
  });

  return app;
}
