/**
 * Which model a request names, and rewriting that name (reference/llama-swap.md 3.3, 3.4).
 *
 * llama-swap reads the model with gjson/Go's form parsers; the rules here reproduce what
 * those answer, because routing must pick the same model llama-swap would for the same
 * bytes. Bodies arrive fully buffered (they are forwarded afterwards), so everything here
 * works on a Buffer.
 */
import busboy from 'busboy';
import type { NoModelReason } from './error-wording.ts';
import { JSON_FULL_PARSE_LIMIT, MINUS, scanTopLevel, type JsonMember } from './json-top-level.ts';
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
export async function extractModel(req: ExtractableRequest, body: Buffer): Promise<ExtractedModel> {
  const query = queryOf(req.url);
  if ((req.method ?? 'GET').toUpperCase() === 'GET') {
    const found = { model: nonEmpty(query.get('model')), stream: query.get('stream') === 'true' };
    return found.model === null ? { ...found, reason: queryNoModelReason(query) } : found;
  }
  // Media types are case-insensitive (RFC 9110); llama-swap matches case-sensitively, which
  // only ever turned "Application/JSON" requests into a 404.
  const contentType = headerValue(req.headers['content-type']).toLowerCase();
  if (contentType.includes('application/json')) {
    const found = extractJsonModel(body);
    return found.model === null ? { ...found, reason: jsonNoModelReason(body) } : found;
  }
  if (contentType.includes('multipart/form-data')) return extractMultipartModel(req.headers, body, query);

  // Go's ParseForm reads the body only for urlencoded POST/PUT/PATCH; body values come first.
  const method = (req.method ?? '').toUpperCase();
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

/** Feed size when parsing a buffered multipart body, so parsing can stop between chunks. */
const MULTIPART_CHUNK = 64 * 1024;

/**
 * Go's `FormValue` on a multipart request: `r.Form` holds the query values first and the
 * form fields after them, so a query `model` wins over a form field. The body is parsed only
 * until the model is known: audio uploads are large, and the model field usually precedes
 * the file. `stream` comes from the query, else from a form field seen before that point.
 * A body busboy cannot parse names no model (Go's ParseMultipartForm fails the same way).
 */
function extractMultipartModel(
  headers: ExtractableRequest['headers'],
  body: Buffer,
  query: URLSearchParams,
): Promise<ExtractedModel> {
  const queryStream = query.has('stream') ? query.get('stream') === 'true' : undefined;
  if (query.has('model')) {
    const model = nonEmpty(query.get('model'));
    return Promise.resolve({
      model,
      stream: queryStream ?? false,
      ...(model === null ? { reason: { kind: 'empty-model-field', source: 'query', value: 'empty' } as const } : {}),
    });
  }

  return new Promise((resolve) => {
    let model: string | undefined;
    let stream: string | undefined;
    let settled = false;
    let bb: busboy.Busboy;
    const finish = (result: ExtractedModel): void => {
      if (settled) return;
      settled = true;
      resolve(result);
      bb.destroy();
    };
    const result = (): ExtractedModel => {
      const found = { model: nonEmpty(model), stream: queryStream ?? stream === 'true' };
      if (found.model !== null) return found;
      const reason: NoModelReason =
        model === undefined ? { kind: 'no-model-field', source: 'multipart' } : { kind: 'empty-model-field', source: 'multipart', value: 'empty' };
      return { ...found, reason };
    };
    const unreadable = (err: unknown): ExtractedModel => ({
      ...NONE,
      reason: { kind: 'multipart-unreadable', detail: err instanceof Error ? err.message : String(err) },
    });
    const onValue = (name: string, value: string): void => {
      // The first value of a repeated field is the one FormValue returns.
      if (name === 'model' && model === undefined) model = value;
      else if (name === 'stream' && stream === undefined) stream = value;
      if (model !== undefined) finish(result());
    };
    try {
      bb = busboy({
        headers: { 'content-type': headerValue(headers['content-type']) },
        // No truncation: a truncated value would be a different model name.
        limits: { fieldNameSize: Infinity, fieldSize: Infinity },
      });
    } catch (err) {
      resolve(unreadable(err)); // no or bad boundary
      return;
    }
    bb.on('field', (name, value) => onValue(name, value));
    bb.on('file', (name, file, info) => {
      // busboy calls a part without a filename a file when its type is
      // application/octet-stream; Go calls it a value. Read such a model/stream part as one.
      if (info.filename === undefined && (name === 'model' || name === 'stream')) {
        const chunks: Buffer[] = [];
        file.on('data', (d: Buffer) => chunks.push(d));
        file.on('end', () => onValue(name, Buffer.concat(chunks).toString('utf8')));
      } else {
        file.resume();
      }
      // Stopping early destroys a half-read part; its stream then errors, harmlessly.
      file.on('error', () => {});
    });
    bb.on('error', (err) => finish(unreadable(err)));
    bb.on('close', () => finish(result()));
    let offset = 0;
    const pump = (): void => {
      while (!settled && offset < body.length) {
        const chunk = body.subarray(offset, offset + MULTIPART_CHUNK);
        offset += chunk.length;
        if (!bb.write(chunk)) {
          bb.once('drain', pump);
          return;
        }
      }
      if (!settled) bb.end();
    };
    pump();
  });
}

// ---------------------------------------------------------------------------------------
// Rewriting the model (useModelName, profile pins, selectors).
// ---------------------------------------------------------------------------------------

/**
 * Returns `body` with its model replaced by `newModel`, everything else byte-exact:
 *
 * - JSON: every top-level `model` value is replaced in place (added at the end when absent,
 *   as sjson does). No re-serialisation, so big integers, key order and formatting survive.
 * - multipart/form-data: the value of every non-file `model` part is replaced (a part is
 *   added when there is none); other parts, files and the boundary stay as they were, so
 *   the Content-Type header stays valid.
 * - application/x-www-form-urlencoded: every `model` pair is replaced (appended if absent).
 * - anything else, or a body that cannot be parsed: returned unchanged.
 *
 * The caller must update Content-Length.
 */
export function rewriteModel(body: Buffer, contentType: string, newModel: string): Buffer {
  const ct = contentType.toLowerCase();
  if (ct.includes('application/json')) return rewriteJsonModel(body, newModel);
  if (ct.includes('multipart/form-data')) return rewriteMultipartModel(body, contentType, newModel);
  if (mediaType(ct) === 'application/x-www-form-urlencoded') return rewriteUrlencodedModel(body, newModel);
  return body;
}

const MODEL_KEY: ReadonlySet<string> = new Set(['model']);

function rewriteJsonModel(body: Buffer, newModel: string): Buffer {
  const scan = scanTopLevel(body, MODEL_KEY);
  if (scan === null || !scan.isObject) return body;
  const value = Buffer.from(JSON.stringify(newModel), 'utf8');
  if (scan.members.length === 0) {
    const insert = Buffer.from(`${scan.memberCount === 0 ? '' : ','}"model":${value.toString('utf8')}`, 'utf8');
    return Buffer.concat([body.subarray(0, scan.lastValueEnd), insert, body.subarray(scan.lastValueEnd)]);
  }
  const pieces: Buffer[] = [];
  let at = 0;
  for (const m of scan.members) {
    pieces.push(body.subarray(at, m.valueStart), value);
    at = m.valueEnd;
  }
  pieces.push(body.subarray(at));
  return Buffer.concat(pieces);
}

function rewriteUrlencodedModel(body: Buffer, newModel: string): Buffer {
  const text = body.toString('utf8');
  const encoded = `model=${new URLSearchParams({ model: newModel }).toString().slice('model='.length)}`;
  let found = false;
  const pairs = text === '' ? [] : text.split('&');
  const out = pairs.map((pair) => {
    const eq = pair.indexOf('=');
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    if (decodeFormComponent(rawKey) !== 'model') return pair;
    found = true;
    return encoded;
  });
  if (!found) out.push(encoded);
  return Buffer.from(out.join('&'), 'utf8');
}

function decodeFormComponent(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

const CRLF = Buffer.from('\r\n');

/** One part of a multipart body: where its content is, and whether it is the model field. */
interface MultipartPart {
  contentStart: number;
  contentEnd: number;
  isModelField: boolean;
}

/**
 * Splits a multipart body at its boundary (RFC 2046). Returns null if the body does not
 * follow the grammar; then it is not rewritten at all rather than mangled.
 */
function splitMultipart(body: Buffer, boundary: string): { parts: MultipartPart[]; closeAt: number } | null {
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const nextDelimiter = Buffer.concat([CRLF, delimiter]);
  let at = body.subarray(0, delimiter.length).equals(delimiter) ? 0 : body.indexOf(nextDelimiter);
  if (at < 0) return null;
  if (at > 0) at += 2; // the CRLF before a delimiter belongs to it
  const parts: MultipartPart[] = [];
  for (;;) {
    let i = at + delimiter.length;
    if (body[i] === MINUS && body[i + 1] === MINUS) return { parts, closeAt: at };
    while (body[i] === 0x20 || body[i] === 0x09) i++; // transport padding
    if (body[i] !== 0x0d || body[i + 1] !== 0x0a) return null;
    const headerStart = i + 2;
    const headerEnd = body.indexOf('\r\n\r\n', headerStart - 2, 'latin1');
    if (headerEnd < 0) return null;
    const contentStart = headerEnd + 4;
    const end = body.indexOf(nextDelimiter, contentStart);
    if (end < 0) return null;
    const headers = headerEnd < headerStart ? '' : body.toString('latin1', headerStart, headerEnd);
    parts.push({ contentStart, contentEnd: end, isModelField: isModelFieldPart(headers) });
    at = end + 2;
  }
}

/** Whether a part's headers make it the non-file `model` field (the one FormValue reads). */
function isModelFieldPart(headers: string): boolean {
  for (const line of headers.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.slice(0, colon).trim().toLowerCase() !== 'content-disposition') continue;
    const { type, params } = parseHeaderParams(line.slice(colon + 1));
    if (type !== 'form-data') return false;
    const filename = params.get('filename*') ?? params.get('filename');
    return params.get('name') === 'model' && (filename === undefined || filename === '');
  }
  return false;
}

function rewriteMultipartModel(body: Buffer, contentType: string, newModel: string): Buffer {
  const boundary = parseHeaderParams(contentType).params.get('boundary');
  if (!boundary) return body;
  const split = splitMultipart(body, boundary);
  if (split === null) return body;
  const value = Buffer.from(newModel, 'utf8');
  const pieces: Buffer[] = [];
  let at = 0;
  let replaced = false;
  for (const part of split.parts) {
    if (!part.isModelField) continue;
    pieces.push(body.subarray(at, part.contentStart), value);
    at = part.contentEnd;
    replaced = true;
  }
  if (!replaced) {
    // The model came from the query: add the field, right before the close delimiter.
    pieces.push(
      body.subarray(0, split.closeAt),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n`, 'latin1'),
      value,
      CRLF,
    );
    at = split.closeAt;
  }
  pieces.push(body.subarray(at));
  return Buffer.concat(pieces);
}

/**
 * Parses `type/subtype; a=b; c="quoted \" value"` (Content-Type, Content-Disposition).
 * Parameter names are lower-cased; values keep their case.
 */
function parseHeaderParams(value: string): { type: string; params: Map<string, string> } {
  const params = new Map<string, string>();
  let i = value.indexOf(';');
  const type = (i < 0 ? value : value.slice(0, i)).trim().toLowerCase();
  while (i >= 0 && i < value.length) {
    i++; // past ';'
    const eq = value.indexOf('=', i);
    if (eq < 0) break;
    const semi = value.indexOf(';', i);
    if (semi >= 0 && semi < eq) {
      i = semi; // a parameter without a value: skip it
      continue;
    }
    const name = value.slice(i, eq).trim().toLowerCase();
    let j = eq + 1;
    while (value[j] === ' ' || value[j] === '\t') j++;
    let v = '';
    if (value[j] === '"') {
      j++;
      while (j < value.length && value[j] !== '"') {
        if (value[j] === '\\' && j + 1 < value.length) j++;
        v += value[j];
        j++;
      }
      j++; // closing quote
      const next = value.indexOf(';', j);
      i = next;
    } else {
      const next = value.indexOf(';', j);
      v = (next < 0 ? value.slice(j) : value.slice(j, next)).trim();
      i = next;
    }
    if (name !== '' && !params.has(name)) params.set(name, v);
  }
  return { type, params };
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

/** `type/subtype` of a Content-Type, lower-cased, without parameters. */
function mediaType(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

function nonEmpty(s: string | null | undefined): string | null {
  return s === null || s === undefined || s === '' ? null : s;
}
