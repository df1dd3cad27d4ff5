/**
 * What a web page in the user's browser may make swapstate do.
 *
 * swapstate usually runs without `apiKeys` on a loopback address, and a browser will send
 * requests there for any web page it shows. Without a guard, any page could unload every
 * model with an `<img src=".../unload">`, start models with a form-encoded chat, or read
 * `/running` after rebinding its own DNS name to 127.0.0.1. So, for every route that needs a
 * key when `apiKeys` is set:
 *
 * - **DNS rebinding** (only without `apiKeys`: with keys, a rebound page has no credentials
 *   for our origin): the `Host` header must name this server: an IP address, `localhost`
 *   (or a `*.localhost` name), this machine's host name, the name swapstate listens on, or
 *   an entry of `allowedHosts`. A rebound page's requests carry its own name and get 403.
 * - **Cross-site requests** (CSRF): a request a browser marks as coming from another site
 *   (`Sec-Fetch-Site: cross-site` or `same-site`, or an `Origin` other than the server's own)
 *   gets 403 unless its origin is in `allowedOrigins`. Two exceptions: a top-level navigation
 *   to the web UI (a link to it from elsewhere), and, with `apiKeys`, a request that presents
 *   its key as a Bearer token or `x-api-key` (a page can only do that when it knows the key;
 *   Basic credentials, which a browser attaches by itself once the user logged in, do not
 *   count). With `apiKeys`, a request without a valid key is answered 401 first, as in
 *   llama-swap.
 *
 * Clients that are not browsers send neither `Origin` nor `Sec-Fetch-*`, and a loopback or
 * IP `Host`, so JSON clients, SDKs and curl see no change; CORS preflights are answered as
 * before (front.ts), before this guard. Behind a reverse proxy that `trustProxy` trusts, the
 * host is the proxy's `X-Forwarded-Host`.
 */
import type { IncomingMessage } from 'node:http';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import type { Config } from '../config/types.ts';
import { requestHost } from './client-address.ts';
import { httpErrors } from './error-catalogue.ts';
import type { HttpError } from './http-error.ts';

/** This machine's name, read once (a system call per request would cost more than the check). */
const MACHINE_NAME = hostname().toLowerCase();

/** The name part of a Host header value (`[::1]:8080` -> `::1`, `Name.:80` -> `name`). */
export function hostNameOf(host: string): string {
  let name = host.trim().toLowerCase();
  if (name.startsWith('[')) {
    const end = name.indexOf(']');
    return end < 0 ? name : name.slice(1, end);
  }
  const colon = name.lastIndexOf(':');
  if (colon >= 0) name = name.slice(0, colon);
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

function matchesEntry(name: string, entry: string): boolean {
  if (entry === '*') return true;
  if (entry.startsWith('.')) return name === entry.slice(1) || name.endsWith(entry);
  return name === entry;
}

/**
 * Whether `name` (from {@link hostNameOf}) names this server: see the module comment.
 * `listenHost` is the address or name swapstate was told to listen on.
 */
export function isOwnHostName(name: string, listenHost: string, allowedHosts: readonly string[]): boolean {
  if (name === '' || isIP(name) !== 0) return true;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (name === MACHINE_NAME || name === hostNameOf(listenHost)) return true;
  return allowedHosts.some((entry) => matchesEntry(name, entry));
}

/** The origin a browser says a request comes from, and whether it is another than this server's own (`host`). */
function foreignOrigin(req: IncomingMessage, host: string): { foreign: boolean; origin: string | null } {
  const origin = typeof req.headers.origin === 'string' ? req.headers.origin.trim() : null;
  const site = req.headers['sec-fetch-site'];
  if (origin !== null) {
    let sameOrigin = false;
    try {
      sameOrigin = new URL(origin).host.toLowerCase() === host.toLowerCase();
    } catch {
      /* `null` or garbage: not ours */
    }
    return { foreign: !sameOrigin, origin };
  }
  return { foreign: site === 'cross-site' || site === 'same-site', origin: null };
}

/**
 * Whether a browser is loading the web UI itself as a top-level page (following a link to it).
 * Not in a frame: another site could lay its own page over the UI's buttons (clickjacking).
 */
function isUiNavigation(req: IncomingMessage): boolean {
  if (req.method !== 'GET' || req.headers['sec-fetch-mode'] !== 'navigate') return false;
  const dest = req.headers['sec-fetch-dest'];
  if (dest !== undefined && dest !== 'document') return false;
  const url = req.url ?? '';
  return url === '/' || url === '/ui' || url.startsWith('/ui/') || url.startsWith('/ui?');
}

/** Whether the request presents a key the page must have set itself (not Basic). */
function presentsOwnKey(req: IncomingMessage): boolean {
  const auth = req.headers.authorization ?? '';
  return /^bearer\s/i.test(auth) || req.headers['x-api-key'] !== undefined;
}

/** The last Host a request named, and the verdict on it (under that config): clients send the same one request after request. */
let lastHost: { host: string; cfg: Config; listenHost: string; name: string; own: boolean } | null = null;

/**
 * The DNS-rebinding check (only without `apiKeys`): the error to answer for a `Host` that is
 * not one of this server's names, null when the request may pass.
 */
export function hostRefused(cfg: Config, listenHost: string, req: IncomingMessage): HttpError | null {
  if (cfg.apiKeys.length > 0) return null;
  const host = requestHost(req, cfg);
  let last = lastHost;
  if (last === null || last.host !== host || last.cfg !== cfg || last.listenHost !== listenHost) {
    const name = hostNameOf(host);
    last = lastHost = { host, cfg, listenHost, name, own: isOwnHostName(name, listenHost, cfg.allowedHosts) };
  }
  return last.own ? null : httpErrors.hostNotAllowed(last.name);
}

/**
 * The cross-site check: the error to answer for a request a browser sends on behalf of
 * another site, with the exceptions of the module comment; null when it may pass. Checked
 * after authentication, so a keyed server still answers a request without a key 401, as
 * llama-swap does.
 */
export function crossSiteRefused(cfg: Config, req: IncomingMessage): HttpError | null {
  // Neither header: not a browser's request on behalf of a page (the JSON clients' case).
  if (req.headers.origin === undefined && req.headers['sec-fetch-site'] === undefined) return null;
  const { foreign, origin } = foreignOrigin(req, requestHost(req, cfg));
  if (!foreign || isUiNavigation(req)) return null;
  if (origin !== null && (cfg.allowedOrigins.includes('*') || cfg.allowedOrigins.includes(origin.toLowerCase()))) return null;
  const keyed = cfg.apiKeys.length > 0;
  if (keyed && presentsOwnKey(req)) return null;
  return httpErrors.crossSiteRefused(origin, keyed);
}
