/**
 * Why a request named no model: the detail after llama-swap's 404 "no model id could be
 * identified". llama-swap says only that, so `curl -d '{"model":...}'` (urlencoded, not
 * JSON), a missing Content-Type and a stray comma all look the same to the user.
 *
 * These run only after extraction found no model, never on the hot path; they may look at
 * the body again (JSON.parse a small body for the parser's position, check a form for a
 * JSON-looking body). The words are in error-wording.ts ({@link noModelReasonText}).
 */
import type { NoModelReason } from './error-wording.ts';
import { JSON_FULL_PARSE_LIMIT, scanTopLevel } from './json-top-level.ts';

const MODEL_KEY: ReadonlySet<string> = new Set(['model']);

/** Whether every byte is JSON whitespace (an empty body included). */
function isBlank(body: Buffer): boolean {
  for (const c of body) if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  return true;
}

/** The first non-whitespace byte, or undefined. */
function firstByte(body: Buffer): number | undefined {
  for (const c of body) if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return c;
  return undefined;
}

/** `an array`, `a string`, ...: what a JSON top level is instead of an object. */
function jsonKind(doc: unknown): string {
  if (Array.isArray(doc)) return 'an array';
  if (doc === null) return 'null';
  return `a ${typeof doc}`;
}

/** The same, read from the first byte of valid JSON (for bodies too big to parse twice). */
function jsonKindOfByte(c: number | undefined): string {
  if (c === 0x5b) return 'an array';
  if (c === 0x22) return 'a string';
  if (c === 0x74 || c === 0x66) return 'a boolean';
  if (c === 0x6e) return 'null';
  return 'a number';
}

/**
 * Why a JSON body (by Content-Type) names no model. A body under the full-parse limit is
 * parsed again for the parser's message (with its position); a bigger one is only scanned,
 * so a client cannot make an error cost a 64 MiB JSON.parse.
 */
export function jsonNoModelReason(body: Buffer): NoModelReason {
  if (isBlank(body)) return { kind: 'empty-body' };
  if (body.length < JSON_FULL_PARSE_LIMIT) {
    let doc: unknown;
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch (err) {
      return { kind: 'invalid-json', detail: (err as Error).message };
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { kind: 'json-not-object', got: jsonKind(doc) };
    if (!Object.hasOwn(doc, 'model')) return { kind: 'no-model-field', source: 'json' };
    return { kind: 'empty-model-field', source: 'json', value: (doc as { model: unknown }).model === null ? 'null' : 'empty' };
  }
  const scan = scanTopLevel(body, MODEL_KEY);
  if (scan === null) return { kind: 'invalid-json' };
  if (!scan.isObject) return { kind: 'json-not-object', got: jsonKindOfByte(firstByte(body)) };
  const last = scan.members[scan.members.length - 1];
  if (!last) return { kind: 'no-model-field', source: 'json' };
  const raw = body.toString('utf8', last.valueStart, last.valueEnd);
  return { kind: 'empty-model-field', source: 'json', value: raw === 'null' ? 'null' : 'empty' };
}

/** Why a GET names no model: no `?model=`, or an empty one. */
export function queryNoModelReason(query: URLSearchParams): NoModelReason {
  return query.has('model') ? { kind: 'empty-model-field', source: 'query', value: 'empty' } : { kind: 'get-without-query' };
}

/**
 * Why an urlencoded body (and its query) names no model. A body that is JSON is the classic:
 * `curl -d '{"model":"m"}'` sends it as application/x-www-form-urlencoded.
 */
export function formNoModelReason(form: URLSearchParams, query: URLSearchParams, body: Buffer): NoModelReason {
  if (form.has('model')) return { kind: 'empty-model-field', source: 'form', value: 'empty' };
  if (query.has('model')) return { kind: 'empty-model-field', source: 'query', value: 'empty' };
  const c = firstByte(body);
  if (c === 0x7b || c === 0x5b) return { kind: 'json-sent-as-form' };
  return { kind: 'no-model-field', source: 'form' };
}

/**
 * Why a POST whose body is not read (any Content-Type but JSON, multipart and urlencoded, or
 * none) names no model: the body was ignored, so say which header would have it read.
 */
export function unreadBodyReason(contentType: string, query: URLSearchParams, body: Buffer): NoModelReason {
  if (query.has('model')) return { kind: 'empty-model-field', source: 'query', value: 'empty' };
  const semi = contentType.indexOf(';');
  const media = (semi < 0 ? contentType : contentType.slice(0, semi)).trim();
  return { kind: 'body-not-read', contentType: media === '' ? null : media, emptyBody: body.length === 0 };
}
