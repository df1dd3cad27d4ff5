/**
 * `GET /metrics` (reference 3.6, 7.5): the Prometheus text exposition, behind the API key like
 * every management route, and left out of the access log (access-log.ts) as in llama-swap.
 *
 * llama-swap serves only its system gauges there and answers 503 when `performance.disabled`;
 * swapstate serves its lifecycle and request metrics whatever `performance` says, and the
 * system gauges unless it is disabled (observability/metrics.ts; README, Differences).
 */
import type { AppDeps } from './deps.ts';
import { RouteList } from './route-list.ts';

export function metricsRoutes(deps: AppDeps): RouteList {
  const r = new RouteList();
  r.get('/metrics', async (_req, res) => {
    const { contentType, body } = await deps.metrics.exposition();
    res.setHeader('Content-Type', contentType);
    res.send(body);
  });
  return r;
}
