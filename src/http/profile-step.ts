/**
 * The first step of a model request (reference 3.4, 3.12): the active profile's pins. When
 * the requested model is a pin name, the request names the pin's target from here on,
 * wherever it encodes its model (JSON body, multipart or urlencoded form, query string), so
 * the next steps (selectors, aliases, peers, filters) and the upstream see the target. A pin
 * whose target is empty makes its name unavailable while the profile is active (404).
 *
 * On `/upstream/<model>/...` (reference 3.8) the longest pin name that is a `/`-bounded
 * prefix of the path is replaced by its target in the path.
 */
import type { ProfileSnapshot } from './active-profile.ts';
import { httpErrors } from './error-catalogue.ts';
import type { HttpError } from './http-error.ts';
import { rewriteModel, rewriteQueryModel } from './model-rewrite.ts';
import { decodePathComponent } from './request-target.ts';

/** A model request between pipeline steps: what it names and what will be forwarded. */
export interface ModelRequest {
  /** The model the request names now. */
  model: string;
  /** The body as it will be forwarded. */
  body: Buffer;
  /** The query string as it will be forwarded, with its `?`, or ''. */
  query: string;
}

export type StepOutcome = { ok: true; request: ModelRequest } | { ok: false; error: HttpError };

/** What the step needs of the request: where its model is encoded. */
export interface RequestShape {
  method?: string | undefined;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * Applies `profile` (the snapshot the request took when it arrived; null: none active) to
 * `request`. Unpinned models pass unchanged, and so does everything but the model.
 */
export function applyProfile(profile: ProfileSnapshot | null, req: RequestShape, request: ModelRequest): StepOutcome {
  if (profile === null || !Object.hasOwn(profile.pins, request.model)) return { ok: true, request };
  const target = profile.pins[request.model] ?? '';
  if (target === '') {
    // llama-swap empties the model, which then names none.
    return { ok: false, error: httpErrors.modelNotIdentified({ kind: 'disabled-by-profile', model: request.model, profile: profile.name }) };
  }
  const method = (req.method ?? 'GET').toUpperCase();
  const rawType = req.headers['content-type'];
  const contentType = (Array.isArray(rawType) ? rawType[0] : rawType) ?? '';
  // A GET's model is in its query; a body-carrying request's in its body (rewriteModel
  // leaves a body that is none of JSON, multipart or urlencoded as it is). A multipart or
  // urlencoded model may come from the query too: both are rewritten, so wherever the next
  // reader looks it finds the target.
  const body = method === 'GET' || method === 'HEAD' ? request.body : rewriteModel(request.body, contentType, target);
  return { ok: true, request: { model: target, body, query: rewriteQueryModel(request.query, target) } };
}

const UPSTREAM_PREFIX = '/upstream/';

/** Per profile: the longest a pin name can be when spelled escaped (every UTF-8 byte as `%XX`). */
const longestPins = new WeakMap<ProfileSnapshot, number>();
function longestEscapedPin(profile: ProfileSnapshot): number {
  let longest = longestPins.get(profile);
  if (longest === undefined) {
    longest = Math.max(0, ...Object.keys(profile.pins).map((pin) => 3 * Buffer.byteLength(pin)));
    longestPins.set(profile, longest);
  }
  return longest;
}

export type UpstreamPin =
  /** No pin applies: the path as it was. */
  | { kind: 'none' }
  /** `path` is the escaped `/upstream/<target>/<rest>` to route instead. */
  | { kind: 'pinned'; path: string }
  /** The longest pin prefix is disabled while the profile is active. */
  | { kind: 'disabled'; pin: string; profile: string };

/**
 * The pin an escaped `/upstream/<name...>/<rest>` path names: the longest pin name equal to
 * the decoded path or to its part before a `/` (only prefixes as long as the longest pin
 * could be spelled are tried, so the work is bounded by the config, not by the path).
 */
export function pinUpstreamPath(profile: ProfileSnapshot | null, rawPath: string): UpstreamPin {
  if (profile === null || !rawPath.startsWith(UPSTREAM_PREFIX)) return { kind: 'none' };
  const start = UPSTREAM_PREFIX.length;
  const reach = start + longestEscapedPin(profile);
  const ends: number[] = [];
  for (let slash = rawPath.indexOf('/', start); slash !== -1 && slash <= reach; slash = rawPath.indexOf('/', slash + 1)) ends.push(slash);
  if (rawPath.length <= reach) ends.push(rawPath.length);
  for (let i = ends.length - 1; i >= 0; i--) {
    const end = ends[i] as number;
    const pin = decodePathComponent(rawPath.slice(start, end));
    if (pin === null || pin === '' || !Object.hasOwn(profile.pins, pin)) continue;
    const target = profile.pins[pin] ?? '';
    if (target === '') return { kind: 'disabled', pin, profile: profile.name };
    const escaped = target.split('/').map(encodeURIComponent).join('/');
    return { kind: 'pinned', path: `${UPSTREAM_PREFIX}${escaped}${rawPath.slice(end)}` };
  }
  return { kind: 'none' };
}
