/**
 * Headers as llama-swap shows them (the in-flight tracker's `req_headers` / `resp_headers`,
 * captures): one value per name (the first), Go's canonical spelling, secrets redacted
 * (redact.ts), and no Host (Go's header map has none).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isSecretHeader, REDACTED } from './redact.ts';

/** Spellings seen so far: every request repeats the same few header names. Bounded. */
const canonicalCache = new Map<string, string>();

/** Go's canonical header spelling (`content-type` -> `Content-Type`), as llama-swap shows them. */
export function canonical(lower: string): string {
  let c = canonicalCache.get(lower);
  if (c === undefined) {
    c = lower.replace(/(^|-)([a-z])/g, (_m, sep: string, ch: string) => sep + ch.toUpperCase());
    if (canonicalCache.size < 512) canonicalCache.set(lower, c);
  }
  return c;
}

/** First value of each header, secrets redacted. Go's header map has no Host: neither has this. */
export function requestHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name === 'host') continue;
    const key = canonical(name);
    if (key in out) continue;
    out[key] = isSecretHeader(name) ? REDACTED : raw[i + 1]!;
  }
  return out;
}

export function responseHeaders(res: ServerResponse): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.getHeaders())) {
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (first === undefined) continue;
    out[canonical(name)] = isSecretHeader(name) ? REDACTED : String(first);
  }
  return out;
}
