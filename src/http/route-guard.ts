/**
 * What every route behind authentication passes first: the DNS-rebinding check (without
 * `apiKeys`), the API key, then the cross-site check (browser-guard.ts). Public routes
 * (`/health`, the redirects, CORS preflights) pass none of them, as in llama-swap.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { apiKeyAuth } from './auth.ts';
import { crossSiteGuard, hostGuard } from './browser-guard.ts';
import type { AppDeps } from './deps.ts';

export function routeGuard(deps: AppDeps): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  const config = () => deps.current().config;
  const host = hostGuard(config, deps.listenHost);
  const auth = apiKeyAuth(() => config().apiKeys);
  const crossSite = crossSiteGuard(config);
  return (req, res, next) => host(req, res, () => auth(req, res, () => crossSite(req, res, next)));
}
