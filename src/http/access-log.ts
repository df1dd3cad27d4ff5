/**
 * The access log line of llama-swap (reference 7.1), at INFO in the proxy log:
 * `Request <clientIP> "<METHOD> <path> <proto>" <status> <bytes> "<user-agent>" <duration>`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { responseBytes } from './response-bytes.ts';

// Paths llama-swap does not log (reference 7.1).
const skipped = (path: string) => path.startsWith('/wol-health') || path.startsWith('/api/performance') || path.startsWith('/metrics');

/** Go's time.Duration text for a span in ms (1.5ms, 2.25s, 3m4.5s), close enough to read alike. */
export function goDuration(ms: number): string {
  if (ms < 0.001) return `${Math.round(ms * 1e6)}ns`;
  if (ms < 1) return `${+(ms * 1000).toFixed(3)}µs`;
  if (ms < 1000) return `${+ms.toFixed(6)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${+s.toFixed(6)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${+(s - m * 60).toFixed(6)}s`;
}

export function clientIp(req: Pick<IncomingMessage, 'headers' | 'socket'>): string {
  const xff = req.headers['x-forwarded-for'];
  const first = (Array.isArray(xff) ? xff[0] : xff)?.split(',')[0]?.trim();
  if (first) return first;
  const real = req.headers['x-real-ip'];
  if (typeof real === 'string' && real.trim()) return real.trim();
  return req.socket.remoteAddress ?? '';
}

/** Where access lines go: `Logs.info` (the proxy log at INFO). */
export interface AccessLogSink {
  info(message: string): void;
}

/** Starts the access log of one request: the line is written when its response closes. */
export function accessLog(sink: () => AccessLogSink) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = req.url ?? '';
    if (skipped(path)) return;
    const started = performance.now();
    // Read now: once a client has gone away its socket no longer knows the remote address.
    const ip = clientIp(req);
    const counter = responseBytes(res);
    res.once('close', () => {
      const ua = req.headers['user-agent'] ?? '';
      sink().info(
        `Request ${ip} "${req.method} ${path} HTTP/${req.httpVersion}" ${res.statusCode} ${counter.bytes} "${ua}" ${goDuration(performance.now() - started)}`,
      );
    });
  };
}
