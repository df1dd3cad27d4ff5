/**
 * The error catalogue and the error envelope (reference/llama-swap.md section 3.5).
 *
 * Clients of llama-swap parse its error bodies and sometimes match the message text, so
 * every status, type and code here is llama-swap's, with only the product name swapped:
 * `"src":"swapstate"`, `swapstate: <message>` and `<h1>swapstate</h1>`. Every message starts
 * with llama-swap's text; where a newcomer could not act on that text alone (which model was
 * asked for, why no model was found, how long the request really waited), swapstate's detail
 * follows it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SchedError } from '../core/effects.ts';
import { HEALTH_CHECK_TIMEOUT_PREFIX } from '../../machines/process.protocol.ts';

/** Options of an {@link HttpError} beyond status and message. */
export interface HttpErrorOptions {
  /** Envelope `code`; defaults from the status table ({@link envelopeTypeAndCode}). */
  code?: string;
  /** Envelope `type`; defaults from the status table. */
  type?: string;
  /** Extra response headers (`WWW-Authenticate`, `Retry-After`, ...). */
  headers?: Record<string, string>;
  cause?: unknown;
}

/**
 * An error that knows its HTTP answer. Throw or pass it anywhere in the HTTP layer; only
 * {@link sendError} turns it into bytes, so the wire format lives in one place.
 */
export class HttpError extends Error {
  readonly status: number;
  readonly code?: string;
  readonly type?: string;
  readonly headers?: Readonly<Record<string, string>>;

  constructor(status: number, message: string, opts: HttpErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'HttpError';
    this.status = status;
    if (opts.code !== undefined) this.code = opts.code;
    if (opts.type !== undefined) this.type = opts.type;
    if (opts.headers !== undefined) this.headers = { ...opts.headers };
  }
}

// ---------------------------------------------------------------------------------------
// The catalogue. One helper per message llama-swap can answer with, so call sites cannot
// drift from the exact texts clients match on.
// ---------------------------------------------------------------------------------------

// Messages that answer a client's mistake say what the mistake was. llama-swap's text always
// comes first and the detail after it, so clients that match llama-swap's words (a prefix or
// substring match; nobody can match the detail, it is new) keep working.

/** Client text quoted into a message is cut here: a 60 KB model name must not make a 60 KB error. */
export const QUOTED_CLIENT_TEXT_MAX = 100;

/**
 * Client input (a model name, a Content-Type) as it appears in a message: JSON-quoted, so
 * control characters and quotes show as escapes, and cut to {@link QUOTED_CLIENT_TEXT_MAX}
 * characters plus "…". The envelope renderer escapes the result again for its JSON body.
 */
export function quoteClientText(text: string): string {
  if (text.length <= QUOTED_CLIENT_TEXT_MAX) return JSON.stringify(text);
  let cut = text.slice(0, QUOTED_CLIENT_TEXT_MAX);
  // Never end on half of a surrogate pair.
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return `${JSON.stringify(cut)}…`;
}

/** The models an unknown-model answer offers instead (see model-suggestions.ts). */
export interface AvailableModels {
  /** Listed model ids and their aliases, closest to the requested name first; at most 10. */
  closest: readonly string[];
  /** How many more there are beyond `closest`. */
  more: number;
}

/** `available models are a, b, c` (+ how many more), or that there are none. */
function availableText(available: AvailableModels): string {
  if (available.closest.length === 0) return 'no models are available';
  const more = available.more > 0 ? ` and ${available.more} more (GET /v1/models lists them all)` : '';
  return `available models are ${available.closest.join(', ')}${more}`;
}

/** Where a request's model field was looked for. */
export type ModelSource = 'json' | 'form' | 'multipart' | 'query';

/**
 * Why no model could be identified (found by no-model-reason.ts, worded by
 * {@link noModelReasonText}). Data, not text, so every word a client reads stays here.
 */
export type NoModelReason =
  /** A GET without `?model=`. */
  | { kind: 'get-without-query' }
  /** A JSON Content-Type with an empty body. */
  | { kind: 'empty-body' }
  /** A JSON Content-Type, but the body does not parse; `detail` is the parser's message. */
  | { kind: 'invalid-json'; detail?: string }
  /** Valid JSON whose top level is `got` (array, string, ...), not an object. */
  | { kind: 'json-not-object'; got: string }
  /** The field is absent. */
  | { kind: 'no-model-field'; source: ModelSource }
  /** The field is there but empty (`""`, or JSON `null`). */
  | { kind: 'empty-model-field'; source: ModelSource; value: 'empty' | 'null' }
  /** multipart/form-data that cannot be parsed (no boundary, truncated, ...). */
  | { kind: 'multipart-unreadable'; detail: string }
  /** An urlencoded body over Go's form limit: its fields are not read. */
  | { kind: 'form-too-large'; limit: number }
  /** An urlencoded body that is JSON: what `curl -d '{...}'` sends. */
  | { kind: 'json-sent-as-form' }
  /** Another (or no) Content-Type: the body is not read; `contentType` null when missing. */
  | { kind: 'body-not-read'; contentType: string | null; emptyBody: boolean };

const SEND_JSON = 'send the header "Content-Type: application/json"';

const FIELD_OF: Record<ModelSource, string> = {
  json: 'the JSON body\'s "model" field',
  form: 'the form\'s "model" field',
  multipart: 'the multipart form\'s "model" field',
  query: 'the "model" query parameter',
};

/** The words after `no model id could be identified: ` for `reason`. */
export function noModelReasonText(reason: NoModelReason): string {
  switch (reason.kind) {
    case 'get-without-query':
      return 'a GET request names its model in the query string: add ?model= with a model id or alias';
    case 'empty-body':
      return 'the body is empty: send a JSON object with a "model" field';
    case 'invalid-json':
      return `the body is not valid JSON${reason.detail ? ` (${reason.detail})` : ''}`;
    case 'json-not-object':
      return `the JSON body is ${reason.got}, not an object with a "model" field`;
    case 'no-model-field':
      switch (reason.source) {
        case 'json':
          return 'the JSON body has no "model" field';
        case 'multipart':
          return 'the multipart form has no "model" field (and the query no ?model=)';
        case 'form':
          return 'the form has no "model" field (and the query no ?model=)';
        case 'query':
          return 'the query string has no "model" parameter';
      }
      break;
    case 'empty-model-field':
      return `${FIELD_OF[reason.source]} is ${reason.value === 'null' ? 'null' : 'empty'}`;
    case 'multipart-unreadable':
      return `the multipart body cannot be read (${reason.detail})`;
    case 'form-too-large':
      return `the form body is over ${reason.limit} bytes, so its fields are not read`;
    case 'json-sent-as-form':
      return `the body looks like JSON, but its Content-Type is application/x-www-form-urlencoded (what curl -d sends): ${SEND_JSON}`;
    case 'body-not-read': {
      const because = reason.contentType === null ? 'the request has no Content-Type' : `its Content-Type is ${quoteClientText(reason.contentType)}`;
      return reason.emptyBody
        ? 'the request has no body and no ?model=: send a JSON object with a "model" field and the header "Content-Type: application/json"'
        : `the body is not read as JSON because ${because}: ${SEND_JSON}`;
    }
  }
}

/**
 * 404: the request names no model (missing, empty, or the body could not be read).
 * With a reason, swapstate says why after llama-swap's text, e.g. `no model id could be
 * identified: the body looks like JSON, but its Content-Type is application/x-www-form-urlencoded
 * (what curl -d sends): send the header "Content-Type: application/json"`.
 */
export const modelNotIdentified = (reason?: NoModelReason): HttpError =>
  new HttpError(404, reason ? `no model id could be identified: ${noModelReasonText(reason)}` : 'no model id could be identified');

/**
 * 404: the model is neither local nor a peer's. This is what llama-swap's dispatcher answers
 * for an unknown model on the normal request path, before any scheduler sees it. swapstate
 * adds the name asked for and the closest names that exist:
 * `no router for requested model "lama-3": available models are llama-3, llama-3-8b, qwen`.
 */
export const noRouter = (requested: string, available: AvailableModels): HttpError =>
  new HttpError(404, `no router for requested model ${quoteClientText(requested)}: ${availableText(available)}`);

/**
 * 404: the local router does not own the model. llama-swap answers this from its scheduler
 * (an unknown model that got past the dispatcher, e.g. across a config reload). swapstate
 * adds the model's id: `no local server found for requested model "m"`.
 */
export const noLocalServer = (model?: string): HttpError =>
  new HttpError(404, `no local server found for requested model${model === undefined ? '' : ` ${quoteClientText(model)}`}`);

/** 404: the peer router does not know the model. */
export const noPeer = (): HttpError => new HttpError(404, 'no peer found for requested model');

/**
 * 404: management routes (`/api/models/unload/<m>`, `/upstream/<m>/...`) naming no configured
 * model. swapstate adds what was asked for and the closest names that exist:
 * `model not found: "lama-3"; available models are llama-3, qwen`. `requested` is null when
 * the path names nothing at all.
 */
export const modelNotFound = (requested: string | null, available: AvailableModels): HttpError =>
  new HttpError(
    404,
    `model not found: ${requested === null || requested === '' ? 'the path names no model' : quoteClientText(requested)}; ${availableText(available)}`,
  );

/** 401 with the Basic challenge, so browsers prompt for the key (the password field). */
export const unauthorized = (): HttpError =>
  new HttpError(401, 'unauthorized: invalid or missing API key', {
    headers: { 'WWW-Authenticate': 'Basic realm="swapstate"' },
  });

/**
 * 429: the model's concurrency limit is reached. `Retry-After: 1` because a slot usually
 * frees within a second or so, and clients that honour it back off instead of hammering.
 */
export const tooManyRequests = (): HttpError =>
  new HttpError(429, 'Too many requests', { code: 'concurrency_limit', headers: { 'Retry-After': '1' } });

/** 500: a start/swap failed, or any error without a more specific answer. */
export const swapFailed = (message: string): HttpError => new HttpError(500, `unspecific error: ${message}`);

/** 503: the model's process is not ready (e.g. `/upstream` must not start it). */
export const notReady = (id: string): HttpError => new HttpError(503, `[${id}] process is not ready`);

/** 503: a selector (reference 5.6) found no target, or another temporary unavailability. */
export const serviceUnavailable = (message: string): HttpError => new HttpError(503, message);

/**
 * 503: swapstate is shutting down. llama-swap answers 500 "unspecific error: ... is
 * shutting down"; we answer 503 on purpose, since the condition is temporary and 503 is
 * what load balancers and retrying clients understand as "try another instance / later".
 */
export const shuttingDown = (message = 'swapstate is shutting down'): HttpError => new HttpError(503, message);

/** 502 with a message (llama-swap's peer failures; local upstream failures get an empty 502). */
export const badGateway = (message: string): HttpError => new HttpError(502, message);

/** 502: forwarding to a peer failed. */
export const peerProxyError = (detail: string): HttpError => badGateway(`peer proxy error: ${detail}`);

/** 400: the request could not be rewritten (profile/selector/useModelName) or is malformed. */
export const badRequest = (message: string): HttpError => new HttpError(400, message);

/** 409: e.g. "model X is not loaded; ignored websocket requests cannot start it". */
export const conflict = (message: string): HttpError => new HttpError(409, message);

/** 500: filters or another internal step failed. */
export const internalError = (message: string): HttpError => new HttpError(500, message);

/**
 * 413: the body exceeds `maxRequestBodyBytes` (swapstate's own key; llama-swap has no
 * configurable limit). The code says which limit was hit so clients need not parse text.
 */
export const payloadTooLarge = (limit: number): HttpError =>
  new HttpError(413, `request body is too large: limit is ${limit} bytes`, {
    code: 'payload_too_large',
    type: 'invalid_request_error',
  });

/**
 * 503: the request bodies held in memory would exceed `maxBufferedRequestBytes` (swapstate's
 * own key). Temporary by nature: held bodies are given back as their responses end.
 */
export const tooManyBufferedBodies = (capacity: number): HttpError =>
  new HttpError(503, `too many request bodies in memory at once (maxBufferedRequestBytes is ${capacity} bytes); retry shortly`, {
    code: 'request_bodies_over_budget',
    headers: { 'Retry-After': '1' },
  });

/** What the HTTP layer knows about a refused request beyond the scheduler's error. */
export interface RefusalContext {
  /** The (resolved) model id the request asked for. */
  model?: string;
  /** ms from handing the request to the scheduler to this answer. */
  waitedMs?: number;
}

/**
 * The tail a failed start's message gets, so it states the time the client actually waited:
 * `health check timed out after 15s` alone reads as 15 s, while the client also waited for
 * the eviction before the start and, when the start failed right after an eviction, for the
 * one retry (swap.machine.ts): twice the timeout and more. E.g.
 * ` (the request waited 31.2s: the start was retried once after evicting b)`.
 *
 * Only a health-check timeout (whose message states a duration) or a retried start gets it:
 * whether a message has the tail then never depends on timing, and a quick crash's message
 * stays exactly what it was.
 */
export function waitedText(e: Pick<SchedError, 'message' | 'retriedAfterEvicting'>, waitedMs: number | undefined): string {
  const retried = e.retriedAfterEvicting !== undefined && e.retriedAfterEvicting.length > 0;
  if (waitedMs === undefined || (!retried && !e.message.startsWith(HEALTH_CHECK_TIMEOUT_PREFIX))) return '';
  const waited = `the request waited ${(waitedMs / 1000).toFixed(1)}s`;
  return retried ? ` (${waited}: the start was retried once after evicting ${e.retriedAfterEvicting!.join(', ')})` : ` (${waited})`;
}

/**
 * Maps a scheduler refusal to its HTTP answer. llama-swap's text comes first; swapstate's
 * detail (the model's id, the time waited) after it, so clients matching the text still match.
 */
export function fromSchedError(e: SchedError, context: RefusalContext = {}): HttpError {
  switch (e.code) {
    case 'MODEL_NOT_FOUND':
      return noLocalServer(context.model);
    case 'CONCURRENCY_LIMIT':
      return tooManyRequests();
    case 'SWAP_FAILED':
      return swapFailed(e.message + waitedText(e, context.waitedMs));
    case 'MODEL_UNLOADED':
      // MODEL_UNLOADED arrives as "swapstate: model unloaded", llama-swap's "<router>: model
      // unloaded" with our name in the router's place.
      return swapFailed(e.message);
    case 'SHUTTING_DOWN':
      // Deliberately 503, not llama-swap's 500 (see shuttingDown). The core's text is kept,
      // so "swapstate scheduler failed: ..." still says why.
      return shuttingDown(e.message || undefined);
    case 'BACKING_OFF':
      // Crash-loop protection (swapstate only): tell the client when a retry can work.
      return new HttpError(503, e.message, {
        code: 'model_backing_off',
        headers: { 'Retry-After': String(Math.max(1, Math.ceil((e.retryAfterMs ?? 1000) / 1000))) },
      });
  }
}

// ---------------------------------------------------------------------------------------
// Rendering.
// ---------------------------------------------------------------------------------------

/** The envelope's `type` and default `code` for a status (reference 3.5 table). */
export function envelopeTypeAndCode(status: number): { type: string; code: string } {
  switch (status) {
    case 400:
      return { type: 'invalid_request_error', code: 'bad_request' };
    case 401:
      return { type: 'authentication_error', code: 'unauthorized' };
    case 403:
      return { type: 'authentication_error', code: 'forbidden' };
    case 404:
      return { type: 'invalid_request_error', code: 'not_found' };
    case 409:
      return { type: 'invalid_request_error', code: 'conflict' };
    case 429:
      return { type: 'rate_limit_error', code: 'rate_limit_exceeded' };
    case 502:
      return { type: 'server_error', code: 'bad_gateway' };
    case 503:
      return { type: 'server_error', code: 'service_unavailable' };
    case 504:
      return { type: 'server_error', code: 'gateway_timeout' };
    default:
      return status >= 500
        ? { type: 'server_error', code: 'internal_error' }
        : { type: 'invalid_request_error', code: 'invalid_request' };
  }
}

/**
 * JSON.stringify with Go's encoding/json escaping of `<`, `>`, `&`, U+2028 and U+2029, so the
 * envelope's bytes match llama-swap's for messages that quote HTML or commands.
 */
function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The JSON envelope body: `{"src":"swapstate","error":{"message","type","param":null,"code"}}`. */
export function errorEnvelope(err: HttpError): string {
  const table = envelopeTypeAndCode(err.status);
  const code = err.code ?? table.code;
  const error: Record<string, unknown> = { message: err.message, type: err.type ?? table.type, param: null };
  // llama-swap's code field is `omitempty`: an empty code disappears rather than being "".
  if (code !== '') error.code = code;
  return goJson({ src: 'swapstate', error });
}

/** Go's html.EscapeString: the five characters that matter in text and attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/[&'<>"]/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case "'":
        return '&#39;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      default:
        return '&#34;';
    }
  });
}

/** A fully rendered error response. */
export interface RenderedError {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Renders `err` for a client whose `Accept` header is `accept`. `text/plain` is checked before
 * `text/html`, by substring like llama-swap, so `Accept: text/html, text/plain` gets text.
 */
export function renderError(accept: string | string[] | undefined, err: HttpError): RenderedError {
  const acc = Array.isArray(accept) ? accept.join(', ') : (accept ?? '');
  let contentType: string;
  let body: string;
  if (acc.includes('text/plain')) {
    contentType = 'text/plain';
    body = `swapstate: ${err.message}`;
  } else if (acc.includes('text/html')) {
    contentType = 'text/html';
    body = `<html><body><h1>swapstate</h1><p>${escapeHtml(err.message)}</p></body></html>`;
  } else {
    contentType = 'application/json';
    body = errorEnvelope(err);
  }
  return {
    status: err.status,
    headers: { ...err.headers, 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(body)) },
    body,
  };
}

/**
 * Answers the request with `err`. Never throws: an error handler that throws turns one
 * failure into two. If the response has already started (a stream was mid-way), nothing
 * sensible can be appended, and ending it normally would make a truncated response look
 * complete; so the socket is destroyed and the client sees an aborted response instead.
 */
export function sendError(req: Pick<IncomingMessage, 'headers'>, res: ServerResponse, err: HttpError): void {
  try {
    if (res.headersSent) {
      if (!res.writableEnded) res.destroy();
      return;
    }
    const out = renderError(req.headers.accept, err);
    // Express's res.json/res.type would add "; charset=utf-8"; llama-swap's bytes do not.
    res.statusCode = out.status;
    for (const [name, value] of Object.entries(out.headers)) res.setHeader(name, value);
    res.end(out.body);
  } catch {
    try {
      res.destroy();
    } catch {
      /* nothing left to do */
    }
  }
}

/**
 * The last resort for a handler that throws or rejects: a 4xx it names is answered in the
 * envelope, anything else is logged and answered 500. It must cost one request, never the server.
 */
export function handlerError(logs: { logger: { error(message: string): void } }) {
  return (err: unknown, req: IncomingMessage, res: ServerResponse): void => {
    const status = (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode;
    const message = err instanceof Error ? err.message : String(err);
    if (status && status >= 400 && status < 500) return sendError(req, res, new HttpError(status, message));
    logs.logger.error(`${req.method} ${(req as { originalUrl?: string }).originalUrl ?? req.url}: ${message}`);
    sendError(req, res, new HttpError(500, `unspecific error: ${message}`));
  };
}
