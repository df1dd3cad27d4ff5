/**
 * Which model a request names (reference/llama-swap.md 3.3), and whether it asks for a stream.
 *
 * llama-swap reads the model with gjson/Go's form parsers; the rules here reproduce what
 * those answer, because routing must pick the same model llama-swap would for the same
 * bytes. Bodies arrive fully buffered (they are forwarded afterwards), so everything here
 * works on a Buffer. Multipart framing is in multipart.ts; putting another model into a
 * body is model-rewrite.ts.
 */
import type { NoModelReason } from './error-wording.ts';
import { JSON_FULL_PARSE_LIMIT, scanTopLevel, type JsonMember } from './json-top-level.ts';
import { mediaType, readModelFields } from './multipart.ts';
import { formNoModelReason, jsonNoModelReason, queryNoModelReason, unreadBodyReason } from './no-model-reason.ts';

/** The parts of a request that model extraction looks at (express and node requests fit). */
export interface ExtractableRequest {
  method?: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  /** Request target; only its query string is used. */
  url?: string | undefined;
}

export interface ExtractedModel {
  /** The requested model, or null when none could be identified (empty counts as none). */
  model: string | null;
  /** Whether the client asked for a streamed answer (drives the loading-state stream). */
  stream: boolean;
  /**
   * Set by {@link extractModel} when `model` is null: why (for the 404's message). Worked out
   * only then, so requests that do name a model pay nothing for it.
   */
  reason?: NoModelReason;
}

/** Re-exported: the size above which JSON bodies are scanned rather than parsed (json-top-level.ts). */
export { JSON_FULL_PARSE_LIMIT };

/** Go's `maxFormSize`: a larger urlencoded body makes ParseForm fail, so no model is found. */
const MAX_URLENCODED_BYTES = 10 * 1024 * 1024;

const NONE: ExtractedModel = { model: null, stream: false };

const WANTED_KEYS: ReadonlySet<string> = new Set(['model', 'stream']);

/**
 * Finds the model and stream flag of a request, as llama-swap's `extractContext` does:
 * GET reads the query; JSON bodies the top-level `model`/`stream`; multipart and urlencoded
 * bodies their form fields merged with the query the way Go's `FormValue` merges them;
 * anything else the query only. When no model is found, `reason` says why (no-model-reason.ts).
 */
export function extractModel(req: ExtractableRequest, body: Buffer): ExtractedModel | Promise<ExtractedModel> {
  // A promise only for multipart bodies (their parser streams): the JSON request of the hot
  // path is answered without a turn of the microtask queue, and without parsing its query.
  const method = (req.method ?? 'GET').toUpperCase();
  // Media types are case-insensitive (RFC 9110); llama-swap matches case-sensitively, which
  // only ever turned "Application/JSON" requests into a 404.
  const contentType = headerValue(req.headers['content-type']).toLowerCase();
  if (method !== 'GET' && contentType.includes('application/json')) {
    const found = extractJsonModel(body);
    return found.model === null ? { ...found, reason: jsonNoModelReason(body) } : found;
  }
  const query = queryOf(req.url);
  if (method === 'GET') {
    const found = { model: nonEmpty(query.get('model')), stream: query.get('stream') === 'true' };
    return found.model === null ? { ...found, reason: queryNoModelReason(query) } : found;
  }
  if (contentType.includes('multipart/form-data')) return extractMultipartModel(req.headers, body, query);

  // Go's ParseForm reads the body only for urlencoded POST/PUT/PATCH; body values come first.
  if (mediaType(contentType) === 'application/x-www-form-urlencoded' && ['POST', 'PUT', 'PATCH'].includes(method)) {
    if (body.length > MAX_URLENCODED_BYTES) return { ...NONE, reason: { kind: 'form-too-large', limit: MAX_URLENCODED_BYTES } };
    const form = new URLSearchParams(body.toString('utf8'));
    const model = form.has('model') ? form.get('model') : query.get('model');
    const stream = form.has('stream') ? form.get('stream') : query.get('stream');
    const found = { model: nonEmpty(model), stream: stream === 'true' };
    return found.model === null ? { ...found, reason: formNoModelReason(form, query, body) } : found;
  }
  const found = { model: nonEmpty(query.get('model')), stream: query.get('stream') === 'true' };
  return found.model === null ? { ...found, reason: unreadBodyReason(contentType, query, body) } : found;
}

// ---------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------

/**
 * The top-level `model` and `stream` of a JSON body. Invalid JSON (or a non-object) names no
 * model. Small bodies go through JSON.parse; big ones (chat requests with inline images run
 * to tens of MiB) through {@link scanJsonModel}, which does not build a second copy of the
 * body as a string and an object tree just to read one key. Both give identical answers.
 */
export function extractJsonModel(body: Buffer): ExtractedModel {
  return body.length < JSON_FULL_PARSE_LIMIT ? parseJsonModel(body) : scanJsonModel(body);
}

/** The JSON.parse path of {@link extractJsonModel}; exported so tests can compare paths. */
export function parseJsonModel(body: Buffer): ExtractedModel {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return NONE;
  }
  if (!isJsonObject(doc)) return NONE;
  return {
    model: Object.hasOwn(doc, 'model') ? modelString(doc.model) : null,
    stream: Object.hasOwn(doc, 'stream') ? gjsonBool(doc.stream) : false,
  };
}

/** The scanning path of {@link extractJsonModel}; exported so tests can compare paths. */
export function scanJsonModel(body: Buffer): ExtractedModel {
  const scan = scanTopLevel(body, WANTED_KEYS);
  if (scan === null || !scan.isObject) return NONE;
  // Duplicate keys: the last one wins, as with JSON.parse (and so as in the small path).
  let model: JsonMember | undefined;
  let stream: JsonMember | undefined;
  for (const m of scan.members) {
    if (m.key === 'model') model = m;
    else stream = m;
  }
  return {
    model: model ? modelString(JSON.parse(body.toString('utf8', model.valueStart, model.valueEnd))) : null,
    stream: stream ? gjsonBool(JSON.parse(body.toString('utf8', stream.valueStart, stream.valueEnd))) : false,
  };
}

function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * gjson's `Result.String()` of the model value: strings as they are, numbers in plain
 * decimal (no exponent), true/false as words, objects and arrays as (compact) JSON, and null
 * as "" (which names no model).
 */
function modelString(v: unknown): string | null {
  if (typeof v === 'string') return nonEmpty(v);
  if (typeof v === 'number') return plainDecimal(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v === null || v === undefined) return null;
  return JSON.stringify(v);
}

/** Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest round-trip digits, never an exponent. */
export function plainDecimal(v: number): string {
  if (Object.is(v, -0)) return '-0';
  const s = String(v);
  const e = s.indexOf('e');
  if (e < 0) return s;
  const neg = s.startsWith('-');
  const mantissa = s.slice(neg ? 1 : 0, e);
  const exp = Number(s.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const digits = mantissa.replace('.', '');
  const point = (dot < 0 ? mantissa.length : dot) + exp; // position of the decimal point in digits
  let out: string;
  if (point <= 0) out = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return neg ? `-${out}` : out;
}

/**
 * gjson's `Result.Bool()`: true, non-zero numbers and the strings Go's ParseBool accepts as
 * true ("1", "t", "true", any case) are true; everything else is false.
 */
function gjsonBool(v: unknown): boolean {
  if (v === true) return true;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return ['1', 't', 'true'].includes(v.toLowerCase());
  return false;
}

// ---------------------------------------------------------------------------------------
// Forms
// ---------------------------------------------------------------------------------------

/**
 * Go's `FormValue` on a multipart request: `r.Form` holds the query values first and the
 * form fields after them, so a query `model` wins over a form field. The body is parsed only
 * until the model is known: audio uploads are large, and the model field usually precedes
 * the file. `stream` comes from the query, else from a form field seen before that point.
 * A body busboy cannot parse names no model (Go's ParseMultipartForm fails the same way).
 */
async function extractMultipartModel(
  headers: ExtractableRequest['headers'],
  body: Buffer,
  query: URLSearchParams,
): Promise<ExtractedModel> {
  const queryStream = query.has('stream') ? query.get('stream') === 'true' : undefined;
  if (query.has('model')) {
    const model = nonEmpty(query.get('model'));
    return {
      model,
      stream: queryStream ?? false,
      ...(model === null ? { reason: { kind: 'empty-model-field', source: 'query', value: 'empty' } as const } : {}),
    };
  }
  const read = await readModelFields(headerValue(headers['content-type']), body);
  if (!read.ok) return { ...NONE, reason: { kind: 'multipart-unreadable', detail: read.detail } };
  const found = { model: nonEmpty(read.model), stream: queryStream ?? read.stream === 'true' };
  if (found.model !== null) return found;
  const reason: NoModelReason =
    read.model === undefined ? { kind: 'no-model-field', source: 'multipart' } : { kind: 'empty-model-field', source: 'multipart', value: 'empty' };
  return { ...found, reason };
}

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------

function queryOf(url: string | undefined): URLSearchParams {
  if (!url) return new URLSearchParams();
  const q = url.indexOf('?');
  if (q < 0) return new URLSearchParams();
  const hash = url.indexOf('#', q);
  return new URLSearchParams(hash < 0 ? url.slice(q + 1) : url.slice(q + 1, hash));
}

function headerValue(v: string | string[] | undefined): string {
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
}

function nonEmpty(s: string | null | undefined): string | null {
  return s === null || s === undefined || s === '' ? null : s;
}
