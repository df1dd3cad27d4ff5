/**
 * `/upstream/<model>/<path>` (reference 3.8): a raw pass-through to a model's own server
 * (llama-server's web UI, `/slots`, ...), through the scheduler like any request, without
 * filters or `useModelName`. The model is the longest path prefix naming a model, an alias or
 * a peer model; a peer model's request is forwarded to the peer as `<its proxy path>/<path>`.
 *
 * The path is taken escaped from the request target (never Express's decoded params, which
 * answer an undecodable `%ff` with a 400 quoting it): `%2F` belongs to a model name, never
 * splits it, and the rest is forwarded exactly as the client wrote it.
 */
import { compileIgnorePath } from '../config/ignore-paths.ts';
import { resolveTarget, type ModelTarget } from '../config/resolve-model.ts';
import type { Config } from '../config/types.ts';
import { recordActivity } from './activity-recorder.ts';
import { readBodyOrRefuse } from './body.ts';
import type { AppDeps } from './deps.ts';
import { httpErrors } from './error-catalogue.ts';
import { sendError } from './error-response.ts';
import { pinUpstreamPath } from './profile-step.ts';
import { decodePathComponent, parseRequestTarget } from './request-target.ts';
import { suggestModels } from './model-suggestions.ts';
import { findModelRoute } from './route-table.ts';
import { extractModel } from './model-extract.ts';
import { serveThroughScheduler } from './serve-model.ts';
import { peerRequest, serveThroughPeer } from './serve-peer.ts';
import { goRedirect } from './redirect.ts';
import { RouteList, under } from './route-list.ts';

/**
 * The longest a model id, alias or peer model name (FQN or bare) can be when spelled escaped
 * in a path (every UTF-8 byte as `%XX`), per config: no longer prefix of a path can name a
 * model, so none is tried.
 */
const longestNames = new WeakMap<Config, number>();
function longestEscapedName(cfg: Config): number {
  let longest = longestNames.get(cfg);
  if (longest === undefined) {
    longest = 0;
    const peerNames = Object.entries(cfg.peers).flatMap(([id, p]) => p.models.map((m) => `${id}/${m}`));
    for (const name of [...Object.keys(cfg.models), ...Object.keys(cfg.aliases), ...peerNames]) {
      longest = Math.max(longest, 3 * Buffer.byteLength(name));
    }
    longestNames.set(cfg, longest);
  }
  return longest;
}

const UPSTREAM_PREFIX = '/upstream/';

/**
 * Splits `/upstream/<model...>/<rest>` by the longest prefix that resolves to a local model,
 * an alias or a peer model (reference 3.8); `name` is that prefix decoded.
 *
 * The candidates are the prefixes ending at a `/` or at the end of the path, longest first,
 * but only those no longer than the longest model name could be spelled: the work is bounded
 * by the config, not by the path. (Trying every prefix of a path of 7900 segments, each
 * joined and decoded anew, cost 1.8 s of blocking CPU per request.)
 */
export function splitUpstreamPath(
  cfg: Config,
  rawPath: string,
): { target: ModelTarget; name: string; prefix: string; rest: string | null } | null {
  const start = rawPath.startsWith(UPSTREAM_PREFIX) ? UPSTREAM_PREFIX.length : 0;
  const reach = start + longestEscapedName(cfg);
  const ends: number[] = [];
  for (let slash = rawPath.indexOf('/', start); slash !== -1 && slash <= reach; slash = rawPath.indexOf('/', slash + 1)) {
    ends.push(slash);
  }
  if (rawPath.length <= reach) ends.push(rawPath.length);
  for (let i = ends.length - 1; i >= 0; i--) {
    const end = ends[i] as number;
    const prefix = rawPath.slice(start, end);
    const decoded = decodePathComponent(prefix);
    if (decoded === null) continue;
    const target = resolveTarget(cfg, decoded);
    if (target !== null) return { target, name: decoded, prefix, rest: end === rawPath.length ? null : rawPath.slice(end) };
  }
  return null;
}

/**
 * What an `/upstream/...` path that names no model probably meant, for the 404: its first
 * segment (decoded when it can be). Model ids may hold slashes, but a guess is enough to rank
 * the names offered instead.
 */
function upstreamModelGuess(rawPath: string): string {
  const rest = rawPath.startsWith(UPSTREAM_PREFIX) ? rawPath.slice(UPSTREAM_PREFIX.length) : rawPath;
  const slash = rest.indexOf('/');
  const first = slash < 0 ? rest : rest.slice(0, slash);
  return decodePathComponent(first) ?? first;
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
export function upstreamRoutes(deps: AppDeps): RouteList {
  return new RouteList().all(under(UPSTREAM_PREFIX), async (req, res, next) => {
    const target = parseRequestTarget(req.originalUrl);
    if (!target?.path.startsWith('/upstream/')) return next();
    const state = deps.current();
    // The active profile's pins apply first (reference 3.8): the longest pin prefix of the
    // path is replaced by its target, as llama-swap rewrites the path.
    const pin = pinUpstreamPath(state.profile.snapshot(), target.path);
    if (pin.kind === 'disabled') return sendError(req, res, httpErrors.upstreamModelDisabled(pin.pin, pin.profile));
    const path = pin.kind === 'pinned' ? pin.path : target.path;
    const hit = splitUpstreamPath(state.config, path);
    if (!hit) {
      const named = upstreamModelGuess(path);
      return sendError(req, res, httpErrors.modelNotFound(named, suggestModels(state.config, named)));
    }
    if (hit.rest === null) {
      const status = req.method === 'GET' || req.method === 'HEAD' ? 301 : 308;
      return goRedirect(req, res, status, `/upstream/${hit.prefix}/${target.query}`);
    }
    const rest = hit.rest;
    // In-flight tracking only for what would be a model route on its own (reference 3.8),
    // shown by the path the model sees, as llama-swap does.
    const trackAs = (req.method === 'GET' || req.method === 'POST') && findModelRoute(req.method, rest) ? rest : null;
    const model = hit.target;
    // Metered like the model route it reaches (reference 3.8): its row shows the path asked for.
    const activity =
      trackAs === null
        ? null
        : recordActivity(deps.activity, req, res, {
            model: model.kind === 'peer' ? model.fqn : model.model,
            path: target.path,
            routePath: rest,
          });
    if (model.kind === 'peer') {
      // Peers are not subject to ignorePaths: nothing starts on this server.
      const body = await readBodyOrRefuse(req, res, { maxBytes: state.config.maxRequestBodyBytes, budget: deps.bodies });
      if (body === null) return;
      // No filters here; a model the request itself names as asked for goes as the peer's id,
      // as llama-swap's peer router rewrites it.
      const named = (await extractModel(req, body)).model;
      activity?.setRequestBody(body);
      const forward =
        named === hit.name
          ? peerRequest(req, body, target.query, { requested: hit.name, model: model.model }, null)
          : { body, query: target.query };
      return serveThroughPeer(req, res, deps, state, {
        target: model,
        requested: hit.name,
        body: forward.body,
        forwardPath: rest + forward.query,
        trackAs,
      });
    }
    // The patterns only matter while the model is not served (a request would start it):
    // they are not run otherwise. Asked by tag, so a new serving state needs no change here.
    if (!state.runtime.serving(model.model) && ignorePathsOf(state.config).some((re) => re.test(rest))) {
      return sendError(req, res, httpErrors.ignoredPathNotLoaded(model.model));
    }
    const body = await readBodyOrRefuse(req, res, { maxBytes: state.config.maxRequestBodyBytes, budget: deps.bodies });
    if (body === null) return;
    activity?.setRequestBody(body);
    await serveThroughScheduler(req, res, deps, state, {
      model: model.model,
      body,
      forwardPath: hit.rest + target.query,
      trackAs,
      // llama-swap reads an /upstream request's stream flag from its query only (reference 3.3).
      stream: new URLSearchParams(target.query.replace(/^\?/, '')).get('stream') === 'true',
    });
  });
}
