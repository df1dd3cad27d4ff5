/**
 * API-key authentication (reference/llama-swap.md 3.13).
 *
 * When `apiKeys` is configured, every route behind this middleware needs one of the keys,
 * sent as the password of `Authorization: Basic`, as `Authorization: Bearer <key>`, or as
 * `x-api-key`. The Authorization header is left in place: llama-swap forwards it to local
 * upstreams unchanged, and some upstreams check it themselves.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { httpErrors } from './error-catalogue.ts';
import type { HttpError } from './http-error.ts';

/**
 * The key a request presents, in llama-swap's precedence: Basic password > Bearer token >
 * `x-api-key`. Scheme names are case-insensitive. '' when none.
 */
export function extractApiKey(headers: IncomingHttpHeaders): string {
  let basic = '';
  let bearer = '';
  const auth = headers.authorization ?? '';
  const sp = auth.indexOf(' ');
  if (sp > 0) {
    const scheme = auth.slice(0, sp).toLowerCase();
    // Extra blanks between scheme and credentials are allowed by RFC 9110 (and harmless).
    const credentials = auth.slice(sp + 1).trim();
    if (scheme === 'bearer') {
      bearer = credentials;
    } else if (scheme === 'basic') {
      const decoded = decodeStdBase64(credentials);
      const colon = decoded === null ? -1 : decoded.indexOf(':');
      if (decoded !== null && colon >= 0) basic = decoded.slice(colon + 1); // the password is the key
    }
  }
  if (basic !== '') return basic;
  if (bearer !== '') return bearer;
  const x = headers['x-api-key'];
  return (Array.isArray(x) ? x[0] : x) ?? '';
}

/**
 * Strict standard base64 (padding required), as Go's `base64.StdEncoding` decodes it:
 * Node's decoder would silently accept garbage and decode part of it.
 */
function decodeStdBase64(s: string): string | null {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
  return Buffer.from(s, 'base64').toString('utf8');
}

/** SHA-256 first, so every comparison is between 32-byte values whatever the key lengths. */
function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/**
 * Whether `candidate` is one of `keys`, in time that depends on neither the keys' contents
 * nor their lengths nor which key matched: every key is compared, on equal-length digests.
 */
export function matchesApiKey(candidate: string, keys: readonly string[]): boolean {
  const c = digest(candidate);
  let ok = false;
  for (const key of keys) {
    // No short-circuit: `ok || ...` would skip the remaining comparisons after a match.
    const equal = timingSafeEqual(c, digest(key));
    ok = equal || ok;
  }
  return ok && candidate !== '';
}

/** The configured keys without empty ones, worked out once per keys list (a reload brings a new list). */
const usableKeys = new WeakMap<readonly string[], readonly string[]>();

/**
 * 401 (with `WWW-Authenticate: Basic realm="swapstate"`, error-catalogue.ts) when `keys` has
 * any usable key and the request presents none of them; null when it may pass. `keys` is the
 * current config's, read per request, so a reload takes effect at once. Keys are never logged.
 */
export function apiKeyRefused(keys: readonly string[], req: IncomingMessage): HttpError | null {
  if (keys.length === 0) return null;
  let configured = usableKeys.get(keys);
  if (configured === undefined) usableKeys.set(keys, (configured = keys.filter((k) => k !== '')));
  if (configured.length === 0 || matchesApiKey(extractApiKey(req.headers), configured)) return null;
  return httpErrors.unauthorized();
}
