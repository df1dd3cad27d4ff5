/**
 * The Express application: llama-swap's routes and middleware order (reference 3.1), with
 * no `listen`, so tests and the server share it.
 *
 * Order: access log -> CORS preflight -> public routes -> API-key auth -> model routes,
 * management, logs, `/upstream` -> 405 / 404 like Go's mux (plain text, not the envelope).
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { accessLog } from './access-log.ts';
import { apiKeyAuth } from './auth.ts';
import { corsPreflight } from './cors.ts';
import type { AppDeps } from './deps.ts';
import { HttpError, sendError } from './errors.ts';
import { logsRoutes } from './logs-routes.ts';
import { managementRoutes } from './management-routes.ts';
import { modelRouteHandler } from './model-routes.ts';
import { MODEL_ROUTES } from './route-table.ts';
import { upstreamRoutes } from './upstream-route.ts';

/** Exact paths and the methods they answer, for 405 with `Allow`. */
const KNOWN: Record<string, string[]> = {
  '/v1/models': ['GET'],
  '/models': ['GET'],
  '/running': ['GET'],
  '/unload': ['GET'],
  '/api/models/unload': ['POST'],
  '/health': ['GET'],
  '/wol-health': ['GET'],
  '/logs': ['GET'],
  '/logs/stream': ['GET'],
  '/': ['GET'],
};
for (const r of MODEL_ROUTES) (KNOWN[r.path] ??= []).push(r.method);

/** Routes with a path parameter: prefix and the methods they answer (null: any). */
const PREFIXED: Array<[string, string[] | null]> = [
  ['/logs/stream/', ['GET']],
  ['/upstream/', null],
  ['/api/models/unload/', ['POST']],
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

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // Go's mux matches paths exactly: no trailing-slash or letter-case variants (reference 3.2).
  app.set('strict routing', true);
  app.set('case sensitive routing', true);
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use(accessLog(() => deps.logs.logger));
  app.use(corsPreflight());

  // Public: health checks, the root redirect and the UI's entry point.
  const ok = (_req: Request, res: Response) => {
    res.type('text/plain').send('OK');
  };
  app.get('/health', ok);
  app.get('/wol-health', ok);
  app.get('/', (_req, res) => res.redirect(302, '/ui'));
  app.get('/upstream', (_req, res) => res.redirect(302, '/ui/models'));

  const auth = apiKeyAuth(() => deps.current().config.apiKeys);
  app.use((req, res, next) => (hasRoute(req.method, req.path) ? auth(req, res, next) : next()));

  for (const route of MODEL_ROUTES) {
    const handler = modelRouteHandler(deps, route);
    if (route.method === 'GET') app.get(route.path, handler);
    else app.post(route.path, handler);
  }
  app.use(managementRoutes(deps));
  app.use(logsRoutes(deps));
  app.use(upstreamRoutes(deps));

  app.use((req: Request, res: Response) => {
    const allowed = KNOWN[req.path];
    if (allowed) {
      const allow = [...new Set(allowed.flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m])))].join(', ');
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
