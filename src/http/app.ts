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

  app.use(apiKeyAuth(() => deps.current().config.apiKeys));

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
