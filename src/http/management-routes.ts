/**
 * Management routes (reference 3.6): model listing, running models, unloading.
 */
import { Router, type Request, type Response } from 'express';
import { resolveModel } from '../config/load.ts';
import type { AppDeps } from './deps.ts';
import { modelNotFound, sendError } from './errors.ts';
import { listModels } from './models-listing.ts';

/** Process states that count as loaded in listings (llama-swap: starting, ready, stopping). */
function isLoadedState(state: string): boolean {
  return state !== 'stopped' && state !== 'shutdown';
}

export function managementRoutes(deps: AppDeps): Router {
  const r = Router({ strict: true, caseSensitive: true });

  const models = (req: Request, res: Response) => {
    const { config, runtime } = deps.current();
    const origin = req.headers.origin;
    if (origin) res.setHeader('Access-Control-Allow-Origin', origin);
    res.json(listModels(config, (id) => isLoadedState(runtime.process(id)?.state ?? 'stopped')));
  };
  r.get('/v1/models', models);
  r.get('/models', models);

  r.get('/running', (_req, res) => {
    const { config, runtime } = deps.current();
    const running = Object.keys(config.models)
      .sort()
      .flatMap((id) => {
        const m = config.models[id];
        const state = runtime.process(id)?.state ?? 'stopped';
        if (!m || !isLoadedState(state)) return [];
        return [{ model: id, state, cmd: m.cmd, proxy: m.proxy, ttl: m.ttl, name: m.name, description: m.description }];
      });
    res.json({ running });
  });

  r.get('/unload', async (_req, res) => {
    await deps.current().runtime.unload();
    res.type('text/plain').send('OK');
  });

  r.post('/api/models/unload', async (_req, res) => {
    await deps.current().runtime.unload();
    res.json({ msg: 'ok' });
  });

  r.post('/api/models/unload/*model', async (req, res) => {
    const { config, runtime } = deps.current();
    const requested = (req.params as { model: string[] }).model.join('/');
    const id = resolveModel(config, requested);
    if (id === null) return sendError(req, res, modelNotFound());
    await runtime.unload([id]);
    res.type('text/plain').send('OK');
  });

  return r;
}
