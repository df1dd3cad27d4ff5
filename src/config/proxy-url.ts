/**
 * Whether a base URL can be forwarded to: a model's `proxy` and a peer's. llama-swap takes
 * anything Go's lenient `url.Parse` takes (`localhost:8080` parses, with `localhost` as its
 * scheme) and fails at the first request; an upstream can only ever be an absolute http(s)
 * URL, so that is said at load.
 */

/** Why `proxy` cannot be forwarded to, or null when it can. */
export function invalidProxyUrl(proxy: string): string | null {
  let url: URL;
  try {
    url = new URL(proxy);
  } catch {
    return 'not an absolute URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'the scheme must be http or https';
  if (url.hostname === '') return 'no host';
  return null;
}
