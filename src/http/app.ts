/**
 * The Express application: every route of llama-swap's (reference 3.1) except the model
 * routes, which `front.ts` routes before it, and which it only knows for 405's `Allow`.
 *
 * Order (after the front's checks): public routes -> route guard (browser checks, API-key
 * auth) -> management, events, UI, logs, `/upstream` -> 405 / 404 like Go's mux (plain
 * text, not the envelope) -> errors.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { AppDeps } from './deps.ts';
import { httpErrors } from './error-catalogue.ts';
import { handlerError, sendError } from './error-response.ts';
import { eventsRoutes } from './events-routes.ts';
import { inflightRoutes } from './inflight-routes.ts';
import { logsRoutes } from './logs-routes.ts';
import { managementRoutes } from './management-routes.ts';
import { parseRequestTarget } from './request-target.ts';
import { MODEL_ROUTES } from './route-table.ts';
import { uiRoutes } from './ui-routes.ts';
import { upstreamRoutes } from './upstream-route.ts';
import { goRedirect } from './redirect.ts';
import { routeGuard } from './route-guard.ts';

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

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // Go's mux matches paths exactly: no trailing-slash or letter-case variants (reference 3.2).
  app.set('strict routing', true);
  app.set('case sensitive routing', true);
  app.set('etag', false);
  app.set('query parser', 'simple');

  const auth = routeGuard(deps);

  // Public: health checks, the root redirect and the UI's entry point.
  // 503 with the reason when the actor tree has stopped or the event loop stalls, so a
  // supervisor can tell a wedged swapstate from a healthy one (llama-swap #946: /health said
  // OK while every request hung).
  const ok = (req: Request, res: Response) => {
    const problem = deps.liveness();
    if (problem) return sendError(req, res, httpErrors.unhealthy(problem));
    res.type('text/plain').send('OK');
  };
  app.get('/health', ok);
  app.get('/wol-health', ok);
  app.get('/', (req, res) => goRedirect(req, res, 302, '/ui'));
  app.get('/upstream', (req, res) => goRedirect(req, res, 302, '/ui/models'));
  // Any other method: Go's mux redirects `/upstream` to `/upstream/`, which answers any method.
  app.all('/upstream', (req, res) => goRedirect(req, res, 301, `/upstream/${parseRequestTarget(req.url)?.query ?? ''}`));

  app.use((req, res, next) => (hasRoute(req.method, req.path) ? auth(req, res, next) : next()));

  app.use(managementRoutes(deps));
  app.use(eventsRoutes(deps));
  app.use(inflightRoutes(deps));
  app.use(uiRoutes());
  app.use(logsRoutes(deps));
  app.use(upstreamRoutes(deps));

  app.use((req: Request, res: Response) => {
    const allow = allowedMethods(req.path);
    sendError(req, res, allow ? httpErrors.methodNotAllowed(allow) : httpErrors.routeNotFound());
  });

  // A handler that throws must cost one request, never the server.
  const onError = handlerError(deps.logs);
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => onError(err, req, res));

  return app;
}
