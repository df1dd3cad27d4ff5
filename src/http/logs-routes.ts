/**
 * `/logs` and `/logs/stream[/<id>]` (reference 3.10): history, then live chunks until the
 * client leaves or the server shuts down.
 */
import type { Request, Response } from 'express';
import { resolveModel } from '../config/load.ts';
import type { RingLog } from '../observability/ring-log.ts';
import type { AppDeps } from './deps.ts';
import type { OpenStreams } from './open-streams.ts';
import { httpErrors } from './error-catalogue.ts';
import { sendError } from './error-response.ts';
import { decodePathComponent, parseRequestTarget } from './request-target.ts';
import { goRedirect } from './redirect.ts';
import { RouteList, under } from './route-list.ts';

const STREAM_PREFIX = '/logs/stream/';

function streamLog(req: Request, res: Response, log: RingLog, streams: OpenStreams): void {
  res.status(200);
  res.setHeader('Content-Type', 'text/plain');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
  if (!('no-history' in req.query)) {
    const history = log.history();
    if (history) res.write(history);
  }
  const unsubscribe = log.subscribe((chunk) => {
    // A client that does not keep up loses live chunks, never the server's memory.
    if (res.writableLength < 1024 * 1024) res.write(chunk);
  });
  const unregister = streams.add(() => res.end());
  res.on('close', () => {
    unsubscribe();
    unregister();
  });
}

export function logsRoutes(deps: AppDeps): RouteList {
  const r = new RouteList();

  r.get('/logs', (req, res) => {
    if (String(req.headers.accept ?? '').includes('text/html')) return goRedirect(req, res, 302, '/ui/');
    res.type('text/plain').send(deps.logs.mux.history());
  });

  r.get('/logs/stream', (req, res) => streamLog(req, res, deps.logs.mux, deps.streams));

  // The id is decoded here, not by Express (route-list.ts); an undecodable id is just not a logger.
  r.get(under(STREAM_PREFIX), (req, res) => {
    const path = parseRequestTarget(req.originalUrl)?.path ?? '';
    const raw = path.slice(STREAM_PREFIX.length);
    // `/logs/stream/` is the combined log too: llama-swap's `{id...}` matches an empty id.
    if (raw === '') return streamLog(req, res, deps.logs.mux, deps.streams);
    const id = decodePathComponent(raw) ?? '';
    if (id === 'proxy') return streamLog(req, res, deps.logs.proxy, deps.streams);
    if (id === 'upstream') return streamLog(req, res, deps.logs.hub.upstream, deps.streams);
    const model = id === '' ? null : resolveModel(deps.current().config, id);
    if (model === null) return sendError(req, res, httpErrors.invalidLogger());
    streamLog(req, res, deps.logs.hub.forModel(model), deps.streams);
  });

  return r;
}
