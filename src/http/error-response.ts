/**
 * The wire format of errors (reference/llama-swap.md section 3.5): llama-swap's JSON
 * envelope, or its text/plain and text/html variants by the `Accept` header, with only the
 * product name swapped (`"src":"swapstate"`, `swapstate: <message>`, `<h1>swapstate</h1>`).
 * What each error says is the catalogue's (error-catalogue.ts); how it is written is here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { envelopeTypeAndCode, httpErrors } from './error-catalogue.ts';
import type { HttpError } from './http-error.ts';

/**
 * JSON.stringify with Go's encoding/json escaping of `<`, `>`, `&`, U+2028 and U+2029, so the
 * envelope's bytes match llama-swap's for messages that quote HTML or commands.
 */
export function goJson(value: unknown): string {
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
 * Go's mux answers (`err.plain`) are plain text whatever the client accepts.
 */
export function renderError(accept: string | string[] | undefined, err: HttpError): RenderedError {
  const acc = Array.isArray(accept) ? accept.join(', ') : (accept ?? '');
  let contentType: string;
  let body: string;
  if (err.plain) {
    contentType = 'text/plain; charset=utf-8';
    body = err.message;
  } else if (acc.includes('text/plain')) {
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
    // Express's res.json/res.type would add "; charset=utf-8" to every type; llama-swap's
    // envelope and its variants have none (only Go's plain mux answers do, as rendered).
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
    if (status && status >= 400 && status < 500) return sendError(req, res, httpErrors.clientError(status, message));
    logs.logger.error(`${req.method} ${(req as { originalUrl?: string }).originalUrl ?? req.url}: ${message}`);
    sendError(req, res, httpErrors.unspecific(message));
  };
}
