/**
 * Redirects as Go's `http.Redirect` writes them, for every redirect llama-swap's mux and
 * handlers answer (path cleaning, `/`, `/ui`, `/upstream/<model>`): the status, `Location`,
 * an HTML content type for GET and HEAD, and a one-link body for GET.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { http } from '../node-http.ts';
import { escapeHtml } from './error-response.ts';

/** Answers `req` with a redirect to `location`, as Go's `http.Redirect(w, r, location, status)`. */
export function goRedirect(req: IncomingMessage, res: ServerResponse, status: number, location: string): void {
  res.statusCode = status;
  res.setHeader('Location', location);
  if (req.method === 'GET' || req.method === 'HEAD') res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(req.method === 'GET' ? `<a href="${escapeHtml(location)}">${http.STATUS_CODES[status] ?? ''}</a>.\n\n` : undefined);
}
