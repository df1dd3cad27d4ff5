/**
 * What a request's grant tells the request's watchers, on every path that forwards a granted
 * request (serve-model.ts, and loading-serve.ts after a loading stream): its in-flight entry
 * is serving now, its `/metrics` observation ends its queue wait, and its activity row gets
 * `metadata.fifo_priority` (as llama-swap's FIFO scheduler sets it on each grant).
 */
import type { ServerResponse } from 'node:http';
import type { InflightHandle } from '../observability/inflight.ts';
import type { RequestObservation } from '../observability/request-metrics.ts';
import { watch } from '../observability/response-observer.ts';
import type { ServerState } from './deps.ts';

export function noticeGrant(
  res: ServerResponse,
  state: ServerState,
  model: string,
  tracked: InflightHandle | null,
  observed: RequestObservation | undefined,
): void {
  tracked?.serving();
  observed?.granted();
  watch(res).activity?.granted(state.config.priority[model] ?? 0);
}
