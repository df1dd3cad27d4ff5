/**
 * What every route behind authentication passes first: the DNS-rebinding check (without
 * `apiKeys`), the API key, then the cross-site check (browser-guard.ts). Public routes
 * (`/health`, the redirects, CORS preflights) pass none of them, as in llama-swap.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { apiKeyRefused } from './auth.ts';
import { crossSiteRefused, hostRefused } from './browser-guard.ts';
import type { AppDeps } from './deps.ts';
import { sendError } from './error-response.ts';

/** The three checks in that order, on one config read, with no closure per request. */
export function routeGuard(deps: AppDeps): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  return (req, res, next) => {
    const cfg = deps.current().config;
    const refused = hostRefused(cfg, deps.listenHost, req) ?? apiKeyRefused(cfg.apiKeys, req) ?? crossSiteRefused(cfg, req);
    if (refused === null) next();
    else sendError(req, res, refused);
  };
}
