/**
 * `/upstream/<model>/<path>` (reference 3.8): a raw pass-through to a model's own server
 * (llama-server's web UI, `/slots`, ...), through the scheduler like any request, without
 * filters or `useModelName`. The model is the longest path prefix naming a model or alias.
 *
 * The path is taken escaped from the request target (never Express's decoded params, which
 * answer an undecodable `%ff` with a 400 quoting it): `%2F` belongs to a model name, never
 * splits it, and the rest is forwarded exactly as the client wrote it.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { resolveModel } from '../config/load.ts';
import { compileIgnorePath } from '../config/ignore-paths.ts';
import type { Config } from '../config/types.ts';
import { readBodyOrRefuse } from './body.ts';
import type { AppDeps } from './deps.ts';
import { HttpError, modelNotFound, sendError } from './errors.ts';
import { decodePathComponent, parseRequestTarget } from './request-target.ts';
import { findModelRoute } from './route-table.ts';
import { serveThroughScheduler } from './serve-model.ts';
import { goRedirect } from './redirect.ts';

/** Splits `/upstream/<model...>/<rest>` by the longest prefix that resolves to a model. */
export function splitUpstreamPath(cfg: Config, rawPath: string): { model: string; prefix: string; rest: string | null } | null {
  const segments = rawPath.replace(/^\/upstream\//, '').split('/');
  for (let n = segments.length; n >= 1; n--) {
    const prefix = segments.slice(0, n).join('/');
    const decoded = decodePathComponent(prefix);
    if (decoded === null) continue;
    const model = resolveModel(cfg, decoded);
    if (model !== null) {
      const rest = n === segments.length ? null : `/${segments.slice(n).join('/')}`;
      return { model, prefix, rest };
    }
  }
  return null;
}

/** Compiled once per config: the hot path must not build regular expressions. */
const compiled = new WeakMap<Config, RegExp[]>();
function ignorePathsOf(cfg: Config): RegExp[] {
  let res = compiled.get(cfg);
  if (!res) {
    res = cfg.ignorePaths.map(compileIgnorePath);
    compiled.set(cfg, res);
  }
  return res;
}

/** Any method on `/upstream/...` (an absolute-form target counts by its path alone). */
export function upstreamRoutes(deps: AppDeps): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const target = parseRequestTarget(req.originalUrl);
    if (!target?.path.startsWith('/upstream/')) return next();
    const state = deps.current();
    const hit = splitUpstreamPath(state.config, target.path);
    if (!hit) return sendError(req, res, modelNotFound());
    if (hit.rest === null) {
      const status = req.method === 'GET' || req.method === 'HEAD' ? 301 : 308;
      return goRedirect(req, res, status, `/upstream/${hit.prefix}/${target.query}`);
    }
    const rest = hit.rest;
    const ignored = ignorePathsOf(state.config).some((re) => re.test(rest));
    if (ignored && state.runtime.process(hit.model)?.state !== 'ready') {
      return sendError(req, res, new HttpError(409, `model ${hit.model} is not loaded; path matches upstream.ignorePaths`));
    }
    const body = await readBodyOrRefuse(req, res, state.config.maxRequestBodyBytes);
    if (body === null) return;
    await serveThroughScheduler(req, res, deps, state, {
      model: hit.model,
      body: req.method === 'GET' || req.method === 'HEAD' ? null : body,
      forwardPath: hit.rest + target.query,
      // In-flight tracking only for what would be a model route on its own (reference 3.8),
      // shown by the path the model sees, as llama-swap does.
      trackAs: (req.method === 'GET' || req.method === 'POST') && findModelRoute(req.method, rest) ? rest : null,
    });
  };
}
