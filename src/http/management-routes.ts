/**
 * Management routes (reference 3.6): model listing, running models, unloading, and (sleep
 * mode, llmsnap's) putting a model to sleep.
 */
import type { Request, Response } from 'express';
import { resolveModel } from '../config/load.ts';
import { apiState } from './api-state.ts';
import type { AppDeps } from './deps.ts';
import { httpErrors } from './error-catalogue.ts';
import { sendError } from './error-response.ts';
import { listModels } from './models-listing.ts';
import { suggestModels } from './model-suggestions.ts';
import { decodePathComponent, parseRequestTarget } from './request-target.ts';
import { RouteList, under } from './route-list.ts';

const UNLOAD_PREFIX = '/api/models/unload/';
const SLEEP_PREFIX = '/api/models/sleep/';

/**
 * The model a `<prefix><model>` path names, or null once a 404 has been sent. The name is
 * decoded here, not by Express (route-list.ts): llama-swap finds no model `%ff` (404).
 */
function modelOfPath(deps: AppDeps, req: Request, res: Response, prefix: string): string | null {
  const { config } = deps.current();
  const path = parseRequestTarget(req.originalUrl)?.path ?? '';
  const raw = path.slice(prefix.length);
  const requested = decodePathComponent(raw);
  const id = requested === null ? null : resolveModel(config, requested);
  if (id === null) {
    // Named as decoded; an undecodable name (`%ff`) as the client wrote it.
    const named = requested ?? raw;
    sendError(req, res, httpErrors.modelNotFound(named, suggestModels(config, named)));
  }
  return id;
}

export function managementRoutes(deps: AppDeps): RouteList {
  const r = new RouteList();

  const models = (req: Request, res: Response) => {
    const { config, runtime, profile } = deps.current();
    const origin = req.headers.origin;
    if (origin) res.setHeader('Access-Control-Allow-Origin', origin);
    res.json(
      listModels(
        config,
        (id) => {
          const p = runtime.process(id);
          return { loaded: p?.loaded ?? false, sleeping: p?.state === 'sleeping', backoff: p?.backoff ?? null, state: p?.state };
        },
        Date.now(),
        profile.snapshot(),
      ),
    );
  };
  r.get('/v1/models', models);
  r.get('/models', models);

  r.get('/running', (_req, res) => {
    const { config, runtime } = deps.current();
    const running = Object.keys(config.models)
      .sort()
      .flatMap((id) => {
        const m = config.models[id];
        const p = runtime.process(id);
        // Loaded models (starting, ready, stopping), those whose process lives without holding
        // the model (sleeping), and those backing off after failed starts.
        if (!m || !p || (!p.loaded && !p.backoff && p.pid === null)) return [];
        const entry = { model: id, state: p.state, cmd: m.cmd, proxy: m.proxy, ttl: m.ttl, name: m.name, description: m.description };
        return [p.backoff ? { ...entry, error: p.backoff.error, retry_after_s: Math.ceil(p.backoff.retryAfterMs / 1000) } : entry];
      });
    res.json({ running });
  });

  // llama-swap's build info (reference 3.6). swapstate is not stamped at build time: commit
  // and date are 'unknown', as `--version` prints them.
  r.get('/api/version', (_req, res) => {
    res.json({ version: deps.version, commit: 'unknown', build_date: 'unknown' });
  });

  r.get('/api/state', (_req, res) => {
    res.json(apiState(deps));
  });

  r.get('/unload', async (_req, res) => {
    await deps.current().runtime.unload();
    res.type('text/plain').send('OK');
  });

  r.post('/api/models/unload', async (_req, res) => {
    await deps.current().runtime.unload();
    res.json({ msg: 'ok' });
  });

  r.post(under(UNLOAD_PREFIX), async (req, res) => {
    const id = modelOfPath(deps, req, res, UNLOAD_PREFIX);
    if (id === null) return;
    await deps.current().runtime.unload([id]);
    res.type('text/plain').send('OK');
  });

  // Answered once the model sleeps (or, its sleep failed, was stopped instead: either way it
  // no longer holds the GPU), with the state it settled in.
  r.post(under(SLEEP_PREFIX), async (req, res) => {
    const id = modelOfPath(deps, req, res, SLEEP_PREFIX);
    if (id === null) return;
    const outcome = await deps.current().runtime.sleep(id);
    if (outcome.done) return void res.json({ msg: 'ok', model: id, state: outcome.state });
    if (outcome.why === 'not-idle') return sendError(req, res, httpErrors.sleepNotIdle(id, outcome.state));
    if (outcome.why === 'unknown') return sendError(req, res, httpErrors.modelNotFound(id, suggestModels(deps.current().config, id)));
    sendError(req, res, httpErrors.sleepNotEnabled(id));
  });

  return r;
}
