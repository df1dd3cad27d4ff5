/**
 * The stand-ins a benchmark's ablation (ablate.ts) puts in place of a switched-off part of
 * the request path. Never used outside a bench.
 */
import { http } from '../node-http.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerState } from '../http/deps.ts';
import type { ProxyOutcome, ProxyTarget } from '../http/proxy.ts';
import { parsedBase } from '../http/proxy.ts';
import type { RequestObservation } from '../observability/request-metrics.ts';
import type { Ticket } from '../runtime/tickets.ts';

/** `metrics`: an observation that records nothing. */
export const NO_OBSERVATION: RequestObservation = { granted() {}, end() {} };

let seq = 0;

/** `scheduler`: a ticket granted at once when `model` is serving (no scheduler events), else null. */
export function servedTicket(state: ServerState, model: string): Ticket | null {
  const upstream = state.runtime.servedAt(model);
  if (!upstream) return null;
  const admission = Promise.resolve(null);
  const grant = Promise.resolve({ ok: true as const, model, upstream });
  return { reqId: `ablated-${++seq}`, model, admission, grant, position: () => null, onPosition() {}, cancel() {}, done() {} };
}

/** `proxy`: `http.request` and `pipe`, none of the proxy's behaviours. */
export function bareForward(req: IncomingMessage, res: ServerResponse, target: ProxyTarget): Promise<ProxyOutcome> {
  return new Promise((resolve) => {
    const url = parsedBase(target.base).url;
    const headers = { ...req.headers, 'content-length': String(target.body.length) };
    const out = http.request({ host: url.hostname, port: url.port, method: req.method, path: target.path, headers, agent: target.agent }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', (error) => resolve({ ok: false, error, responded: res.headersSent }));
    res.once('close', () => resolve({ ok: true }));
    out.end(target.body);
  });
}
