/**
 * `Expect: 100-continue`, handled the way a proxy must (RFC 9110 10.1.1).
 *
 * curl sends it by itself for bodies over 1 MiB (`curl -F file=@2MB.wav`), so big uploads,
 * vision prompts and `/upstream` uploads all carry it. Left to Node, every such request got
 * `100 Continue` at once and the header was forwarded upstream, where it made Node's client
 * flush the request head early: the proxy's header edits then threw ("Cannot remove headers
 * after they are sent"), the client got a 500 and the upstream socket was never released.
 *
 * Here the client is told to continue only when swapstate actually reads the body, that is
 * after routing, authentication and the size and budget checks: a request refused before
 * that gets its final answer without the body ever being sent, and Node then closes the
 * connection (a response to an expectation that was never met must, since the client may or
 * may not send the body after it). The header itself never goes upstream (proxy.ts): the
 * body is forwarded whole, with its length, once it is read.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

const waiting = new WeakMap<IncomingMessage, ServerResponse>();

/**
 * For the server's `checkContinue` event, which Node emits instead of `request` for
 * `Expect: 100-continue`: remember that the client waits for a go-ahead.
 */
export function expectContinue(req: IncomingMessage, res: ServerResponse): void {
  waiting.set(req, res);
}

/** Tells a client that waits for `100 Continue` to send its body; a no-op for every other request. */
export function continueBody(req: IncomingMessage): void {
  const res = waiting.get(req);
  if (!res) return;
  waiting.delete(req);
  if (!res.headersSent && !res.destroyed) res.writeContinue();
}
