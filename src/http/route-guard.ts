/**
 * What every route behind authentication passes first: the browser guard (DNS rebinding,
 * cross-site requests), then the API key. Public routes (`/health`, the redirects, CORS
 * preflights) pass neither, as in llama-swap.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { apiKeyAuth } from './auth.ts';
import { browserGuard } from './browser-guard.ts';
import type { AppDeps } from './deps.ts';

export function routeGuard(deps: AppDeps): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  const config = () => deps.current().config;
  const browser = browserGuard(config, deps.listenHost);
  const auth = apiKeyAuth(() => config().apiKeys);
  return (req, res, next) => browser(req, res, () => auth(req, res, next));
}
