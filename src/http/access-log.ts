/**
 * The access log line of llama-swap (reference 7.1), at INFO in the proxy log:
 * `Request <clientIP> "<METHOD> <path> <proto>" <status> <bytes> "<user-agent>" <duration>`.
 *
 * Every field a client wrote is escaped (log-text.ts): quotes and backslashes inside the
 * quoted fields, blanks and quotes in the bare address, control characters everywhere, so
 * one request is always exactly one line with these fields.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/types.ts';
import { escapeBare, escapeQuoted } from '../observability/log-text.ts';
import { clientAddress } from './client-address.ts';
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

/** Where access lines go: `Logs.info` (the proxy log at INFO). */
export interface AccessLogSink {
  info(message: string): void;
}

/** Starts the access log of one request: the line is written when its response closes. */
export function accessLog(sink: () => AccessLogSink, config: () => Config) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = req.url ?? '';
    if (skipped(path)) return;
    const started = performance.now();
    // Read now: once a client has gone away its socket no longer knows the remote address.
    const ip = clientAddress(req, config());
    const counter = responseBytes(res);
    res.once('close', () => {
      const ua = req.headers['user-agent'] ?? '';
      const line = `${req.method} ${path} HTTP/${req.httpVersion}`;
      sink().info(
        `Request ${escapeBare(ip)} "${escapeQuoted(line)}" ${res.statusCode} ${counter.bytes} "${escapeQuoted(ua)}" ${goDuration(performance.now() - started)}`,
      );
    });
  };
}
