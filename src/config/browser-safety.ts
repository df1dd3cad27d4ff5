/**
 * `allowedHosts` and `allowedOrigins` (swapstate's own keys): what a browser may reach
 * swapstate as, beyond its own listen address. The HTTP layer refuses a `Host` header that is
 * not a name of the listen address or in `allowedHosts` (DNS rebinding), and a cross-site
 * browser request whose `Origin` is not in `allowedOrigins`. Here the entries are checked and
 * normalized, so the HTTP layer compares plain lowercase strings.
 */
import { isIPv6 } from 'node:net';
import type { Field } from './field.ts';
import { textList } from './schema-shapes.ts';

/** `allowedHosts` in config-schema.json. */
export const ALLOWED_HOSTS_SCHEMA = textList(
  "swapstate: Host names accepted beyond the listen address's own, without port: `*` any, `.example.com` every subdomain, `[::1]`.",
  { default: [] },
);

/** `allowedOrigins` in config-schema.json. */
export const ALLOWED_ORIGINS_SCHEMA = textList(
  'swapstate: origins (`https://chat.example.com`, or `*`) whose cross-site browser requests are allowed.',
  { default: [] },
);

/**
 * Host names without port, lowercased: `*` (any host), `.example.com` (every subdomain of
 * example.com), a bracketed IPv6 address (`[::1]`), or a plain name or IPv4 address.
 *
 * @throws ConfigError naming the index, e.g. `allowedHosts[1]: invalid host "a.com:80": ...`.
 */
export function decodeAllowedHosts(field: Field): string[] {
  return field.items().map((item) => {
    const host = item.string().toLowerCase();
    const problem = hostProblem(host);
    if (problem) item.fail(`${item.name}: ${problem}`);
    return host;
  });
}

function hostProblem(host: string): string | null {
  const invalid = `invalid host ${JSON.stringify(host)}`;
  if (host === '') return 'empty host name';
  if (host === '*') return null;
  if (/[\s\u0000-\u001f\u007f]/.test(host)) return `${invalid}: contains whitespace or control characters`;
  if (host.includes('/')) return `${invalid}: a host name only, without scheme or path`;
  if (host.startsWith('[')) return host.endsWith(']') && isIPv6(host.slice(1, -1)) ? null : `${invalid}: not an IPv6 address in brackets`;
  if (host.includes(':')) return `${invalid}: a host name only, without port (an IPv6 address goes in brackets: "[::1]")`;
  if (host.includes('*')) return `${invalid}: "*" stands alone; ".example.com" allows every subdomain of example.com`;
  if (host === '.') return `${invalid}: no domain after "."`;
  return null;
}

/**
 * Origins as browsers send them, lowercased: `*` (any origin) or `http(s)://host[:port]`.
 *
 * @throws ConfigError naming the index, e.g. `allowedOrigins[0]: invalid origin "https://a.com/": ...`.
 */
export function decodeAllowedOrigins(field: Field): string[] {
  return field.items().map((item) => {
    const entry = item.string();
    const origin = entry.toLowerCase();
    const problem = originProblem(origin);
    if (problem) item.fail(`${item.name}: invalid origin ${JSON.stringify(entry)}: ${problem}`);
    return origin;
  });
}

function originProblem(origin: string): string | null {
  if (origin === '*') return null;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return 'expected scheme://host[:port], like "https://chat.example.com"';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'the scheme must be http or https';
  // An Origin header is exactly this: no path (not even "/"), no user, no default port.
  if (url.origin !== origin) return `an origin is scheme://host[:port] and nothing else: "${url.origin}"`;
  return null;
}
