/**
 * The phase limits of an upstream request (config/timeouts.ts), as Go's transport enforces
 * them: shared by the peer forwards (serve-peer.ts) and the local models (serve-model.ts).
 */
import type { AgentOptions, ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { UpstreamTimeouts } from '../config/types.ts';

/**
 * Fails the request (as a transport error) when a phase takes longer than its timeout, as
 * Go's transport does: connecting (`connect`), the TLS handshake (`tlsHandshake`), and,
 * once the request is sent, waiting for the response's headers (`responseHeader`; a
 * websocket's 101 counts as them). A pooled connection skips the first two. 0 disables a
 * phase's limit. `keepalive` and `idleConn` are the pool's (peer-forwards.ts, and a model's
 * agent, runtime/upstreams.ts); `expectContinue` never applies: the body is sent whole at
 * once, without asking the upstream for `100 Continue`. Used for peers and local models.
 */
export function armTimeouts(out: ClientRequest, t: UpstreamTimeouts, host: string): void {
  // The agent marks a request it put on a pooled socket at once (`reusedSocket`, set while
  // the request is constructed): no connect nor handshake to time. With no response-header
  // limit (the defaults) such a request arms nothing and allocates nothing (issue 16).
  const connecting = (t.connect > 0 || t.tlsHandshake > 0) && out.reusedSocket !== true;
  if (!connecting && !(t.responseHeader > 0)) return;
  const timers = new Set<NodeJS.Timeout>();
  let clearing = false;
  const after = (seconds: number, message: string): NodeJS.Timeout | null => {
    if (seconds <= 0) return null;
    // Listeners only for the phases that have a limit: a model's request with the defaults
    // (no response-header limit) over a pooled connection arms nothing but one 'socket' check.
    if (!clearing) {
      clearing = true;
      out.once('close', () => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
      });
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      out.destroy(new Error(message));
    }, seconds * 1000);
    timers.add(timer);
    return timer;
  };
  const clear = (timer: NodeJS.Timeout | null): void => {
    if (timer === null) return;
    clearTimeout(timer);
    timers.delete(timer);
  };
  if (connecting) {
    out.once('socket', (socket: Socket) => {
      if (!socket.connecting) return; // a pooled connection
      const connect = after(t.connect, `dial tcp ${host}: i/o timeout (timeouts.connect is ${t.connect}s)`);
      socket.once('connect', () => {
        clear(connect);
        if (!(socket instanceof TLSSocket)) return;
        const handshake = after(t.tlsHandshake, `net/http: TLS handshake timeout (timeouts.tlsHandshake is ${t.tlsHandshake}s)`);
        socket.once('secureConnect', () => clear(handshake));
      });
    });
  }
  if (t.responseHeader > 0) {
    let headers: NodeJS.Timeout | null = null;
    out.once('finish', () => {
      headers = after(t.responseHeader, `net/http: timeout awaiting response headers (timeouts.responseHeader is ${t.responseHeader}s)`);
    });
    out.once('response', () => clear(headers));
    out.once('upgrade', () => clear(headers));
  }
}

/**
 * The pool settings `keepalive` and `idleConn` stand for, as far as Node has them: TCP
 * keep-alive probes every `keepalive` seconds, and an idle pooled connection closed after
 * `idleConn` seconds (Node applies an agent's `timeout` to idle pooled sockets only; an
 * active one just emits 'timeout' on its request, which nobody listens to). 0: Node's default.
 */
export function agentPoolOptions(t: UpstreamTimeouts): AgentOptions {
  return {
    ...(t.keepalive > 0 ? { keepAliveMsecs: t.keepalive * 1000 } : {}),
    ...(t.idleConn > 0 ? { timeout: t.idleConn * 1000 } : {}),
  };
}
