/**
 * The error catalogue and the error envelope (reference/llama-swap.md section 3.5).
 *
 * Clients of llama-swap parse its error bodies and sometimes match the message text, so
 * every status, message, type and code here is llama-swap's, with only the product name
 * swapped: `"src":"swapstate"`, `swapstate: <message>` and `<h1>swapstate</h1>`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SchedError } from '../core/effects.ts';

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

/** 404: the request names no model (missing, empty, or the body could not be read). */
export const modelNotIdentified = (): HttpError => new HttpError(404, 'no model id could be identified');

/**
 * 404: the model is neither local nor a peer's. This is what llama-swap's dispatcher answers
 * for an unknown model on the normal request path, before any scheduler sees it.
 */
export const noRouter = (): HttpError => new HttpError(404, 'no router for requested model');

/**
 * 404: the local router does not own the model. llama-swap answers this from its scheduler
 * (an unknown model that got past the dispatcher, e.g. across a config reload) and from
 * `POST /api/models/unload/<model>`.
 */
export const noLocalServer = (): HttpError => new HttpError(404, 'no local server found for requested model');

/** 404: the peer router does not know the model. */
export const noPeer = (): HttpError => new HttpError(404, 'no peer found for requested model');

/** 404: management routes (`/api/models/unload/<m>`, `/upstream/<m>`) naming no configured model. */
export const modelNotFound = (): HttpError => new HttpError(404, 'model not found');

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

/**
 * Maps a scheduler refusal to its HTTP answer, keeping llama-swap's texts where the core's
 * message carries more detail than llama-swap says (the unknown-model message has no
 * `: <model>` suffix in llama-swap, and clients match that string).
 */
export function fromSchedError(e: SchedError): HttpError {
  switch (e.code) {
    case 'MODEL_NOT_FOUND':
      return noLocalServer();
    case 'CONCURRENCY_LIMIT':
      return tooManyRequests();
    case 'SWAP_FAILED':
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
