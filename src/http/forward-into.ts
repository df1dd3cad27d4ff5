/**
 * Forwarding into a response that has already started: after a loading stream
 * (loading-serve.ts) the client holds a 200 `text/event-stream` head, and the upstream's
 * answer must follow in the same body. http-proxy-3 always writes its own head, so this path
 * sends the upstream request itself, on the grant's agent, and pipes only the body: the
 * upstream's status and headers are lost, as in llama-swap (the head is gone already).
 *
 * The rest is what proxy.ts does for the ordinary path: the same path join and hop-by-hop
 * stripping, `X-Forwarded-*` as http-proxy-3's `xfwd` adds them, the body sent whole with its
 * exact length, and no buffering of the answer. Either side going away ends the other: a
 * client that leaves aborts the upstream request (the model stops generating for nobody and
 * its agent socket is freed), an upstream that dies mid-answer cuts the client's response.
 */
import type * as Http from 'node:http';
import { http } from '../node-http.ts';
import { TLSSocket } from 'node:tls';
import { parsedBase, stripHopByHop, type ProxyTarget } from './proxy.ts';

/** The most of a non-2xx body kept to report it: error bodies are small, a runaway one is cut. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

export type ForwardIntoOutcome =
  /** The upstream's body was streamed to its end, or the client left (nothing more to do). */
  | { kind: 'streamed' }
  /** The upstream answered non-2xx: nothing was written; its body (bounded) is here to frame. */
  | { kind: 'status'; status: number; body: Buffer }
  /** The exchange failed; `responded`: the upstream's body had begun (the response is cut). */
  | { kind: 'failed'; error: Error; responded: boolean };

/** The path sent upstream: the base's path, then the forwarded one (queries merged, base first). */
export function upstreamPath(base: string, path: string): string {
  const parsed = parsedBase(base);
  if (parsed.prefix !== null) return parsed.prefix + path;
  const q = path.indexOf('?');
  const own = q < 0 ? path : path.slice(0, q);
  const query = q < 0 ? '' : path.slice(q + 1);
  return parsed.url.pathname.replace(/\/$/, '') + own + parsed.url.search + (query === '' ? '' : `&${query}`);
}

/** http-proxy-3's `xfwd`: appended to what the client sent, the host kept when it said one. */
export function forwardedHeaders(req: Http.IncomingMessage, headers: Http.OutgoingHttpHeaders): void {
  const encrypted = req.socket instanceof TLSSocket && req.socket.encrypted;
  const host = req.headers.host;
  const port = host?.match(/:(\d+)/)?.[1] ?? (encrypted ? '443' : '80');
  appendForwarded(req, headers, 'x-forwarded-for', req.socket.remoteAddress ?? '');
  appendForwarded(req, headers, 'x-forwarded-port', port);
  appendForwarded(req, headers, 'x-forwarded-proto', encrypted ? 'https' : 'http');
  headers['x-forwarded-host'] = req.headers['x-forwarded-host'] ?? host ?? '';
}

/** `value` after what the client sent in `key`, comma-separated (a proxy chain's order). */
function appendForwarded(req: Http.IncomingMessage, headers: Http.OutgoingHttpHeaders, key: string, value: string): void {
  const prev = req.headers[key];
  headers[key] = prev ? `${String(prev)},${value}` : value;
}

/**
 * Sends `req` (with `target.body`) to the target and streams a 2xx answer's body into `res`,
 * whose head was already sent. Resolves once the exchange is over; never rejects.
 */
export function forwardInto(req: Http.IncomingMessage, res: Http.ServerResponse, target: ProxyTarget): Promise<ForwardIntoOutcome> {
  return new Promise((resolve) => {
    const { url } = parsedBase(target.base);
    const headers: Http.OutgoingHttpHeaders = { ...req.headers };
    // Answered by us when the body was read (expect-continue.ts).
    delete headers.expect;
    // The client's head is sent: no Content-Encoding can announce a compressed body any more,
    // so the upstream is asked for plain bytes (Go would pass gzip through unannounced).
    delete headers['accept-encoding'];
    delete headers['transfer-encoding'];
    forwardedHeaders(req, headers);
    const framed = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    if (target.body.length > 0 || framed) headers['content-length'] = String(target.body.length);
    else delete headers['content-length'];

    let settled = false;
    let upstreamRes: Http.IncomingMessage | null = null;
    const up = http.request({
      protocol: 'http:',
      // URL keeps an IPv6 host's brackets; the socket wants the bare address.
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port === '' ? 80 : Number(url.port),
      method: req.method ?? 'GET',
      path: upstreamPath(target.base, target.path),
      headers,
      // The client's Host is kept, as on the ordinary path (http-proxy-3 without changeOrigin).
      setHost: headers.host === undefined,
      agent: target.agent,
    });
    const settle = (o: ForwardIntoOutcome) => {
      if (settled) return;
      settled = true;
      res.off('close', onClientClose);
      // A failed or abandoned exchange must not keep its agent socket (64 of them hang a model).
      if (!upstreamRes?.complete) up.destroy();
      resolve(o);
    };
    const onClientClose = () => settle({ kind: 'streamed' });
    res.once('close', onClientClose);

    up.on('error', (error) => settle({ kind: 'failed', error, responded: upstreamRes !== null }));
    up.on('response', (upRes) => {
      upstreamRes = upRes;
      const status = upRes.statusCode ?? 502;
      if (status < 200 || status > 299) {
        const parts: Buffer[] = [];
        let size = 0;
        upRes.on('data', (chunk: Buffer) => {
          if (size >= MAX_ERROR_BODY_BYTES) return;
          parts.push(chunk);
          size += chunk.length;
        });
        // Ended or cut short: what arrived is the report either way.
        upRes.on('close', () => settle({ kind: 'status', status, body: Buffer.concat(parts).subarray(0, MAX_ERROR_BODY_BYTES) }));
        upRes.on('error', () => {});
        return;
      }
      upRes.on('error', () => {});
      upRes.on('close', () => {
        if (upRes.complete) return;
        // Died mid-answer: a pipe does not end its destination when its source aborts.
        res.destroy();
        settle({ kind: 'failed', error: new Error('upstream closed the response early'), responded: true });
      });
      res.once('finish', () => settle({ kind: 'streamed' }));
      upRes.pipe(res);
    });

    try {
      // The client's hop-by-hop headers were for its own hop; our agent keeps its connections.
      stripHopByHop(up, req.headers.connection, true);
      up.end(target.body);
    } catch (err) {
      settle({ kind: 'failed', error: err as Error, responded: false });
    }
  });
}
