/**
 * The access log line of llama-swap (reference 7.1), at INFO in the proxy log:
 * `Request <clientIP> "<METHOD> <path> <proto>" <status> <bytes> "<user-agent>" <duration>`.
 *
 * swapstate's web UI fetches its files, its event stream and its state on its own, several
 * times a minute per open tab, and each of those lines carried a whole browser user agent:
 * they buried the requests the log is for. They are written at DEBUG instead (seen with
 * `logLevel: debug`), decided by path, see {@link isUiRequest}. Everything else stays INFO.
 *
 * Every field a client wrote is escaped (log-text.ts): quotes and backslashes inside the
 * quoted fields, blanks and quotes in the bare address, control characters everywhere, so
 * one request is always exactly one line with these fields.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/types.ts';
import { escapeBare, escapeQuoted } from '../observability/log-text.ts';
import { watch, type CloseHook, type ResponseObserver } from '../observability/response-observer.ts';
import { clientAddress } from './client-address.ts';

// Paths llama-swap does not log (reference 7.1).
const skipped = (path: string) => path.startsWith('/wol-health') || path.startsWith('/api/performance') || path.startsWith('/metrics');

/** The UI's own routes, whatever the query: its files, its machine chart, its live data. */
const UI_PREFIXES = ['/ui/', '/api/machines/'];
const UI_PATHS = new Set(['/ui', '/api/events', '/api/state']);
/**
 * llama-swap routes the UI also reads (a model's log, and the listing while it polls): only
 * its own requests say so, with `from=ui` in the query; a script's are INFO as before.
 */
const UI_MARKED = (path: string) => path === '/v1/models' || path === '/logs/stream' || path.startsWith('/logs/stream/');

/** Whether a request target is the web UI's own traffic (written at DEBUG). */
export function isUiRequest(url: string): boolean {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (UI_PATHS.has(path) || UI_PREFIXES.some((p) => path.startsWith(p))) return true;
  return q >= 0 && UI_MARKED(path) && new URLSearchParams(url.slice(q + 1)).get('from') === 'ui';
}

/** Go's time.Duration text for a span in ms (1.5ms, 2.25s, 3m4.5s), close enough to read alike. */
export function goDuration(ms: number): string {
  if (ms < 0.001) return `${Math.round(ms * 1e6)}ns`;
  if (ms < 1) return `${decimal(ms * 1000, 3)}µs`;
  if (ms < 1000) return `${decimal(ms, 6)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${decimal(s, 6)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${decimal(s - m * 60, 6)}s`;
}

/**
 * `String(+x.toFixed(digits))` (the digits, trailing zeros dropped) without the round trip
 * through a number and back (one access line per request). The same text for the values
 * goDuration has (from 0 to below 1000, at most 6 digits: at most 9 significant ones): a
 * decimal of at most 15 significant digits reads back as the double whose shortest form it is.
 */
function decimal(x: number, digits: number): string {
  const s = x.toFixed(digits);
  let end = s.length;
  while (s.charCodeAt(end - 1) === 0x30) end--; // '0'
  if (s.charCodeAt(end - 1) === 0x2e) end--; // '.'
  return end === s.length ? s : s.slice(0, end);
}

/**
 * Where access lines go: the proxy log (`Logs.accessLine`). The line comes whole and already
 * safe (every client field escaped here): the sink adds only its time and level prefix.
 */
export interface AccessLogSink {
  /** Writes `[<time> ][<level>] <text>` and a newline; `text` must already be escaped. */
  accessLine(level: 'INFO' | 'DEBUG', text: string): void;
  isDebugEnabled(): boolean;
}

/** One request's line, written when its response closes (response-observer.ts). */
class AccessLine implements CloseHook {
  constructor(
    private readonly sink: () => AccessLogSink,
    private readonly req: IncomingMessage,
    private readonly path: string,
    private readonly ip: string,
    private readonly ui: boolean,
    private readonly started: number,
    private readonly counter: ResponseObserver,
  ) {}

  onResponseClose(res: ServerResponse): void {
    const req = this.req;
    const ua = req.headers['user-agent'];
    // One template, one string, each client field escaped on its own (a scan that finds
    // nothing allocates nothing), so the sink need not scan the whole line again. The
    // version is digits (Node's parser); the method is a token from Node's list, escaped
    // all the same.
    const text = `Request ${escapeBare(this.ip)} "${escapeQuoted(String(req.method))} ${escapeQuoted(this.path)} HTTP/${req.httpVersion}" ${res.statusCode} ${this.counter.bytes} "${ua === undefined ? '' : escapeQuoted(ua)}" ${goDuration(performance.now() - this.started)}`;
    this.sink().accessLine(this.ui ? 'DEBUG' : 'INFO', text);
  }
}

/** Starts the access log of one request: the line is written when its response closes. */
export function accessLog(sink: () => AccessLogSink, config: () => Config) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = req.url ?? '';
    if (skipped(path)) return;
    const ui = isUiRequest(path);
    // Nothing to write: not even a listener (the common case, logLevel info, for UI requests).
    if (ui && !sink().isDebugEnabled()) return;
    const started = performance.now();
    // Read now: once a client has gone away its socket no longer knows the remote address.
    const ip = clientAddress(req, config());
    const o = watch(res);
    o.accessLog = new AccessLine(sink, req, path, ip, ui, started, o);
  };
}
