/**
 * Records one metered request in the activity log (reference 7.3, 7.4): a POST to a model
 * route, or to one through `/upstream/<model>/`. The row is written when the response closes:
 * finished, failed, refused (an unknown model's 404 too) or abandoned by its client.
 *
 * The answer is read as it passes to the client, never held back: the response's write
 * wrappers (response-observer.ts) hand each chunk to this recorder and then to the socket, as
 * they were. What is kept depends on the answer, decided at its first chunk:
 * - a 200 SSE stream: nothing but an unfinished line and the usage read so far
 *   (sse-usage-scan.ts), plus a copy of the stream only when a capture wants it;
 * - anything else (a JSON answer, an error, a compressed body): a copy, up to
 *   {@link MAX_BODY_COPY} bytes, parsed at the end (llama-swap keeps it whole; past the bound
 *   the row says zero tokens).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ActivityLog, NewActivity } from '../observability/activity-log.ts';
import {
  CAPTURE_REQ_BODY,
  CAPTURE_REQ_HEADERS,
  CAPTURE_RESP_BODY,
  CAPTURE_RESP_HEADERS,
  captureFieldsFor,
  type Capture,
} from '../observability/capture-cache.ts';
import { requestHeaders, responseHeaders } from '../observability/header-map.ts';
import { watch, type ActivityHook, type ChunkTap, type ResponseObserver } from '../observability/response-observer.ts';
import { SseUsageScanner } from '../observability/sse-usage-scan.ts';
import { isoNow } from '../observability/time-text.ts';
import { decodeBody, failedErrorMessage, namesAnswerKey, parseJsonAnswer, parseSseBody, ZERO_TOKENS } from '../observability/usage-parse.ts';

/** The most of a non-streamed answer copied to read its usage. */
export const MAX_BODY_COPY = 4 * 1024 * 1024;

/** What a client that left before any answer gets as its row's status (nginx's "client closed request"). */
export const CLIENT_CLOSED_STATUS = 499;

export interface ActivityStart {
  /** The model as named so far (the real id once resolved: {@link ActivityRecording.setModel}). */
  model: string;
  /** The row's `req_path`: the path the client asked for, without its query. */
  path: string;
  /** The model route the request is for (its capture mask; `/infill` answers are arrays). */
  routePath: string;
  metadata?: Record<string, string> | undefined;
}

/** Encodings whose bodies can be decoded here (llama-swap asks for no others on metered requests). */
const DECODABLE = new Set(['gzip', 'deflate']);

/** Go's filterAcceptEncoding: only gzip and deflate entries, parameters kept. */
export function decodableAcceptEncoding(value: string): string {
  return value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => DECODABLE.has((part.split(';')[0] ?? '').trim().toLowerCase()))
    .join(', ');
}

const header = (res: ServerResponse, name: string): string => {
  const v = res.getHeader(name);
  return v === undefined ? '' : Array.isArray(v) ? String(v[0] ?? '') : String(v);
};

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

export class ActivityRecording implements ChunkTap, ActivityHook {
  private model: string;
  private metadata: Record<string, string> | undefined;
  private reqBody: Buffer | null = null;
  private readonly startedAt = performance.now();
  private decided = false;
  private scanner: SseUsageScanner | null = null;
  /** The copy of the body (not for SSE unless captured), and its bound. */
  private parts: Buffer[] | null = null;
  private copied = 0;
  private limit = 0;
  private overflow = false;
  private readonly mask: number;
  private readonly observer: ResponseObserver;

  constructor(
    private readonly log: ActivityLog,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly start: ActivityStart,
  ) {
    this.model = start.model;
    this.metadata = start.metadata;
    this.mask = captureFieldsFor(start.routePath);
    const ae = req.headers['accept-encoding'];
    // So that the answer stays readable (reference 3.15); the header is forwarded from here.
    if (typeof ae === 'string' && ae !== '') req.headers['accept-encoding'] = decodableAcceptEncoding(ae);
    // The response's observer hands this each chunk, and its close (response-observer.ts).
    const o = (this.observer = watch(res));
    o.tap = this;
    o.activity = this;
  }

  /** The model resolved (a real id for an alias, `peer/model` for a peer's). */
  setModel(model: string): void {
    this.model = model;
  }

  /** The body as forwarded (after filters), for a capture. */
  setRequestBody(body: Buffer): void {
    this.reqBody = body;
  }

  setMetadata(metadata: Record<string, string> | undefined): void {
    this.metadata = metadata;
  }

  /**
   * The scheduler granted the request: its row carries `metadata.fifo_priority`, the model's
   * priority as text, as llama-swap's FIFO scheduler sets it on every grant (keys in Go's
   * sorted order, before `selector`). A request refused or failed before its grant has none.
   */
  granted(fifoPriority: number): void {
    this.metadata = { fifo_priority: String(fifoPriority), ...this.metadata };
  }

  onChunk(chunk: string | Uint8Array, encoding: unknown): void {
    try {
      const buf =
        typeof chunk === 'string'
          ? Buffer.from(chunk, typeof encoding === 'string' && Buffer.isEncoding(encoding) ? encoding : 'utf8')
          : Buffer.isBuffer(chunk)
            ? chunk
            : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      if (!this.decided) this.decide();
      this.scanner?.push(buf);
      if (this.parts !== null) this.copy(buf);
    } catch {
      /* never the client's problem */
    }
  }

  /** At the first chunk, with the status and headers in place: stream-scan or copy. */
  private decide(): void {
    this.decided = true;
    const res = this.res;
    const captureBytes = this.log.captures.enabled && (this.mask & CAPTURE_RESP_BODY) !== 0 ? this.log.captureLimit() : 0;
    const sse = res.statusCode === 200 && header(res, 'content-encoding') === '' && header(res, 'content-type').includes('text/event-stream');
    if (sse) {
      this.scanner = new SseUsageScanner();
      if (captureBytes > 0) {
        this.parts = [];
        this.limit = captureBytes;
      }
    } else {
      this.parts = [];
      this.limit = Math.max(MAX_BODY_COPY, captureBytes);
    }
  }

  private copy(buf: Buffer): void {
    if (this.overflow) return;
    if (this.copied + buf.length > this.limit) {
      this.overflow = true;
      this.parts = [];
      return;
    }
    // The chunk is not written to again once handed to the socket: kept as it is.
    this.parts!.push(buf);
    this.copied += buf.length;
  }

  onResponseClose(): void {
    const res = this.res;
    this.observer.tap = null;
    this.observer.activity = null;
    const wallMs = Math.round(performance.now() - this.startedAt);
    const responded = res.headersSent;
    const status = responded ? res.statusCode : CLIENT_CLOSED_STATUS;
    const row: NewActivity = {
      timestamp: isoNow.text(),
      model: this.model,
      req_path: this.start.path,
      resp_content_type: header(res, 'content-type'),
      resp_status_code: status,
      tokens: ZERO_TOKENS, // shared and frozen: a row's tokens are replaced, never written to
      duration_ms: wallMs,
    };
    const metadata = this.metadata;
    if (metadata !== undefined && hasKeys(metadata)) row.metadata = { ...metadata };
    if (!responded) {
      row.error_msg = 'client closed the request before a response';
      this.log.record(row);
      return;
    }
    this.scanner?.end();
    const parts = this.parts;
    // One chunk (a small answer) is the body as it is: no copy.
    const raw = parts !== null && !this.overflow ? (parts.length === 1 ? parts[0]! : Buffer.concat(parts)) : null;
    this.parts = null;
    const encoding = header(res, 'content-encoding');
    let body: Buffer | null = raw;
    let decodeError: string | null = null;
    if (raw !== null && raw.length > 0 && encoding !== '') {
      try {
        body = decodeBody(raw, encoding);
      } catch (err) {
        body = null;
        decodeError = (err as Error).message;
      }
    }
    if (status !== 200) {
      row.error_msg = failedErrorMessage(status, body === null ? null : body.toString('utf8'), decodeError);
      // The request and the answer's headers: the error is in error_msg (llama-swap keeps no failed body).
      this.log.record(row, (id) => this.capture(id, this.mask & ~CAPTURE_RESP_BODY, null));
      return;
    }
    if (!res.writableFinished) row.error_msg = 'response cut short (client gone or upstream failed)';
    if (this.scanner !== null) {
      const parsed = this.scanner.usage.result(wallMs);
      row.tokens = parsed.tokens;
      row.duration_ms = parsed.durationMs;
      this.log.record(row, (id) => this.capture(id, this.mask, body));
      return;
    }
    if (decodeError !== null) {
      row.error_msg = `response decompression failed: ${decodeError}`;
      this.log.record(row);
      return;
    }
    // Empty, or past the copy's bound: all zeros, and no capture (llama-swap: "empty body").
    if (body === null || body.length === 0) return void this.log.record(row);
    // A body that names none of the keys has nothing to read: not decoded nor parsed (a large
    // embedding answer without usage costs a substring search, not a JSON.parse).
    if (!namesAnswerKey(body)) return void this.log.record(row, (id) => this.capture(id, this.mask, body));
    const parsed = row.resp_content_type.includes('text/event-stream')
      ? parseSseBody(body.toString('utf8'), wallMs)
      : parseJsonAnswer(body, this.start.routePath, wallMs);
    row.tokens = parsed.tokens;
    row.duration_ms = parsed.durationMs;
    this.log.record(row, (id) => this.capture(id, this.mask, body));
  }

  /** The capture of this exchange under row `id`, or null when captures are off. */
  private capture(id: number, mask: number, body: Buffer | null): Capture | null {
    if (!this.log.captures.enabled) return null;
    // An answer past the copy's bound is larger than the whole cache: no capture, as llama-swap skips it.
    if (mask & CAPTURE_RESP_BODY && this.overflow) return null;
    let resp: Record<string, string> | null = null;
    if (mask & CAPTURE_RESP_HEADERS) {
      resp = responseHeaders(this.res);
      delete resp['Content-Encoding'];
    }
    return {
      id,
      req_path: this.start.path,
      req_headers: mask & CAPTURE_REQ_HEADERS ? requestHeaders(this.req) : null,
      req_body: mask & CAPTURE_REQ_BODY ? this.reqBody : null,
      resp_headers: resp,
      resp_body: mask & CAPTURE_RESP_BODY ? body : null,
    };
  }
}

/** Starts recording `req`: its row is written when `res` closes. Null when `req` is not metered (not a POST). */
export function recordActivity(log: ActivityLog, req: IncomingMessage, res: ServerResponse, start: ActivityStart): ActivityRecording | null {
  if (req.method !== 'POST') return null;
  return new ActivityRecording(log, req, res, start);
}
