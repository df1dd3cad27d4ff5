/**
 * Pipelined requests are handled one at a time per connection, in order, as Go's server
 * handles them.
 *
 * Node parses every pipelined request as it arrives and calls the listener for each at
 * once, but queues their responses behind the first one: a later response only gets the
 * socket once the earlier ones have finished. For a proxy that asks a scheduler for a slot
 * per request, that was wrong twice over (issue 10):
 * - a later request was granted and proxied while its response could not be written; when
 *   the client closed the connection, Node destroyed the request but never closed that
 *   response, so nothing ever ended the exchange and its slot stayed taken for good;
 * - `[a, b, a]` on one connection deadlocked: b waited for a's in-flight count to reach 0,
 *   the third request (a, already being served) waited for its response to be written, and
 *   that response waited for b's.
 *
 * So a request whose response has no socket yet waits, untouched (its body unread, no
 * ticket, nothing logged), until Node hands it the socket. If the connection closes first,
 * Node destroys the request, and it simply never starts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/** Wraps `listener` so that it only ever sees the request at the head of its connection. */
export function oneAtATime(listener: Listener): Listener {
  return (req, res) => {
    if (res.socket !== null) {
      listener(req, res);
      return;
    }
    const start = () => {
      req.off('close', never);
      listener(req, res);
    };
    const never = () => {
      res.off('socket', start);
    };
    res.once('socket', start);
    req.once('close', never);
  };
}
