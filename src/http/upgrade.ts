/**
 * HTTP Upgrade requests (websockets, reference 3.8, 4.10): Node hands them to the server's
 * `upgrade` event with the raw socket, past every request listener. Here each one is given
 * an ordinary `ServerResponse` bound to its socket and run through the same request listener
 * as any request: the front checks, the browser guard, API-key auth, profile pins, 404s and
 * 405s all apply unchanged, and every error is written on the socket in the usual envelope
 * (then the socket is closed). Only a handler that proxies (serve-model.ts) looks at
 * {@link pendingUpgrade} and, for a websocket, hands the socket to the proxy instead of
 * answering on the response.
 *
 * An upgrade that is not a websocket (`h2c`, ...) is served as the plain request it also is:
 * the proxy drops `Upgrade` as hop-by-hop, as Node would without an `upgrade` listener.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { http } from '../node-http.ts';
import type { Duplex } from 'node:stream';

export interface PendingUpgrade {
  socket: Duplex;
  /** Bytes the client sent after the request's head (the start of the websocket stream). */
  head: Buffer;
}

const pending = new WeakMap<IncomingMessage, PendingUpgrade>();

/** Whether `name` is one of the comma-separated tokens of a header (case-insensitive). */
function hasToken(value: string | string[] | undefined, name: string): boolean {
  if (value === undefined) return false;
  const text = Array.isArray(value) ? value.join(',') : value;
  return text.split(',').some((t) => t.trim().toLowerCase() === name);
}

/**
 * A websocket upgrade as llama-swap tells one (reference 4.10): `Connection` holds the
 * `upgrade` token and `Upgrade` the `websocket` token.
 */
export function isWebsocketUpgrade(headers: IncomingHttpHeaders): boolean {
  return hasToken(headers.connection, 'upgrade') && hasToken(headers.upgrade, 'websocket');
}

/** The websocket upgrade `req` asks for, with its socket, or null (a plain request). */
export function pendingUpgrade(req: IncomingMessage): PendingUpgrade | null {
  return pending.get(req) ?? null;
}

/**
 * The server's `upgrade` listener: runs `listener` on the request with a response written
 * on the socket. A socket error never reaches the process (Node removes its own handler
 * from an upgraded socket): it just ends the exchange. `open`, when given, holds the sockets
 * until they close: the server's own connection tracking no longer covers them, and its
 * `close()` would wait for them (server.ts cuts them at shutdown).
 */
export function upgradeListener(listener: (req: IncomingMessage, res: ServerResponse) => void, open?: Set<Duplex>) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    if (open) {
      open.add(socket);
      socket.once('close', () => open.delete(socket));
    }
    if (isWebsocketUpgrade(req.headers)) pending.set(req, { socket, head });
    // The request's body, if any, is not read by Node for an upgrade: there is none for a
    // websocket (a GET), and the request stream has ended already.
    const res = new http.ServerResponse(req);
    res.assignSocket(socket as unknown as import('node:net').Socket);
    // One answer per connection: an upgrade's connection is never reused for another request.
    res.shouldKeepAlive = false;
    res.once('finish', () => {
      const s = socket as Duplex & { destroySoon?: () => void };
      if (s.destroySoon) s.destroySoon();
      else socket.end();
    });
    listener(req, res);
  };
}
