/**
 * CORS, exactly as permissive as llama-swap (reference/llama-swap.md 3.15): every OPTIONS
 * request is a preflight answered 204 without authentication, and only `/v1/models` echoes
 * the caller's Origin. Other responses get no CORS headers from us (an upstream's own pass
 * through).
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

/** Allowed headers when the preflight does not say which it wants. */
export const DEFAULT_ALLOW_HEADERS = 'Content-Type, Authorization, Accept, X-Requested-With';

const TOKEN = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;

/**
 * The requested header names that are valid HTTP tokens, trimmed and joined with ", ".
 * A name containing anything else is dropped whole, so nothing the client sent can inject
 * text into our response header.
 */
export function sanitizeRequestHeaders(value: string): string {
  return value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '' && TOKEN.test(p))
    .join(', ');
}

/** The preflight answer's headers for a request with these headers. */
export function preflightHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const requested = headers['access-control-request-headers'];
  const req = Array.isArray(requested) ? requested.join(', ') : (requested ?? '');
  return {
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Allow-Methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
    'Access-Control-Allow-Headers': req !== '' ? sanitizeRequestHeaders(req) : DEFAULT_ALLOW_HEADERS,
    'Access-Control-Max-Age': '86400',
  };
}

/** Middleware (plain Node request and response): answers any OPTIONS request 204 with {@link preflightHeaders}. */
export function corsPreflight() {
  return (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    if (req.method !== 'OPTIONS') {
      next();
      return;
    }
    for (const [name, value] of Object.entries(preflightHeaders(req.headers))) res.setHeader(name, value);
    res.statusCode = 204;
    res.end();
  };
}

/**
 * For `GET /v1/models`: echo the request's Origin as `Access-Control-Allow-Origin`, so
 * browser apps can list models. Nothing is set without an Origin.
 */
export function echoOrigin(req: { headers: IncomingHttpHeaders }, res: ServerResponse): void {
  const origin = req.headers.origin;
  if (!origin) return;
  try {
    res.setHeader('Access-Control-Allow-Origin', origin);
  } catch {
    // A value Node refuses to send (invalid characters) gets no echo rather than a 500.
  }
}
