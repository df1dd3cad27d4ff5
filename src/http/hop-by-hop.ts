/**
 * Hop-by-hop headers (RFC 9110 7.6.1), which Go's ReverseProxy forwards in neither direction
 * and http-proxy-3 does: the one rule both forward paths (lean-forward.ts for the model
 * routes, proxy.ts for `/upstream`, `/comfyui` and websockets) apply. Transfer-Encoding is
 * framing, redone with the body by each path. Forwarding a client's `Connection: close` told
 * the upstream to close a connection that our keep-alive agent then reused when the upstream
 * answered `Connection: keep-alive` anyway: the next request, from any client, got the
 * upstream's 400 for "data after Connection: close". The other way, the upstream's
 * `Connection`/`Keep-Alive` described its connection to us, not ours to the client.
 */
export const HOP_BY_HOP: readonly string[] = ['connection', 'proxy-connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'upgrade'];

/** The client's forwarding headers, which a peer request does not carry (Go's Rewrite drops them). */
export const X_FORWARDED: readonly string[] = ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto'];

/**
 * The header names a Connection header lists (lower case), or null when it lists none.
 * `close` and `keep-alive` are options, not names; the framing headers and `host` are ours
 * to redo, never dropped because a peer named them.
 */
export function connectionNamed(connection: number | string | string[] | undefined): Set<string> | null {
  // What nearly every client and server sends: nothing to split (issue 16: every request
  // and every answer passes here).
  if (connection === undefined || connection === 'keep-alive' || connection === 'close') return null;
  let named: Set<string> | null = null;
  for (const part of String(connection).split(',')) {
    const name = part.trim().toLowerCase();
    if (name === '' || name === 'close' || name === 'keep-alive' || name === 'content-length' || name === 'transfer-encoding' || name === 'host') continue;
    (named ??= new Set()).add(name);
  }
  return named;
}

/** Whether a `TE` value asks for trailers: the one TE value a proxy forwards, as Go does. */
export const wantsTrailers = (te: unknown): boolean => te !== undefined && String(te).toLowerCase().includes('trailers');
