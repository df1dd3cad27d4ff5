/**
 * `GET /api/profiles` and `PUT /api/profiles/active` (reference 3.6, 3.12): the configured
 * profiles and which one is active, and switching it. A switch is logged (`active profile
 * changed to "x"`) and sent to `/api/events` clients as `profileChanged` (event-hub.ts).
 */
import type { Request, Response } from 'express';
import { readBodyOrRefuse } from './body.ts';
import type { AppDeps } from './deps.ts';
import { httpErrors } from './error-catalogue.ts';
import { sendError } from './error-response.ts';
import type { HttpError } from './http-error.ts';
import { RouteList } from './route-list.ts';

/**
 * The most a profile switch may send: its body is `{"name": ...}`. A control request has no
 * business holding `maxRequestBodyBytes` (64 MiB by default) in memory.
 */
export const MAX_PROFILE_REQUEST_BYTES = 64 * 1024;

/** What `PUT /api/profiles/active` asks for: a name, or null (also `""`) for none. */
type ProfileRequest = { ok: true; name: string | null } | { ok: false; error: HttpError };

/** llama-swap's checks, in its order: a JSON object, with `name`, a string or null. */
export function parseProfileRequest(body: Buffer): ProfileRequest {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, error: httpErrors.invalidProfileRequest() };
  }
  // Go decodes into a map: `null` is an empty one, anything else but an object fails.
  if (doc === null) return { ok: false, error: httpErrors.profileNameRequired() };
  if (typeof doc !== 'object' || Array.isArray(doc)) return { ok: false, error: httpErrors.invalidProfileRequest() };
  if (!Object.hasOwn(doc, 'name')) return { ok: false, error: httpErrors.profileNameRequired() };
  const name = (doc as { name: unknown }).name;
  if (name !== null && typeof name !== 'string') return { ok: false, error: httpErrors.profileNameNotString() };
  return { ok: true, name: name === '' ? null : name };
}

export function profileRoutes(deps: AppDeps): RouteList {
  const r = new RouteList();

  r.get('/api/profiles', (_req: Request, res: Response) => {
    const { config, profile } = deps.current();
    const profiles = Object.keys(config.profiles)
      .sort()
      .map((id) => {
        const p = config.profiles[id]!;
        // Go encodes a map with its keys sorted.
        const pins = Object.fromEntries(Object.keys(p.pins).sort().map((pin) => [pin, p.pins[pin]]));
        return { id, description: p.description, pins };
      });
    res.json({ active: profile.name, profiles });
  });

  r.put('/api/profiles/active', async (req: Request, res: Response) => {
    // The state the request arrived at: a reload meanwhile makes a new one, with none active.
    const state = deps.current();
    const body = await readBodyOrRefuse(req, res, { maxBytes: MAX_PROFILE_REQUEST_BYTES, budget: deps.bodies });
    if (body === null) return;
    const parsed = parseProfileRequest(body);
    if (!parsed.ok) return sendError(req, res, parsed.error);
    const switched = state.profile.set(parsed.name);
    if (!switched.ok) return sendError(req, res, httpErrors.profileNotFound(parsed.name ?? ''));
    if (switched.changed) deps.logs.logger.info(`active profile changed to ${JSON.stringify(state.profile.name ?? '')}`);
    res.json({ active: state.profile.name });
  });

  return r;
}
