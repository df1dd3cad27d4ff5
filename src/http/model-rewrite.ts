/**
 * Rewriting the model a request names (useModelName, profile pins, selectors; reference/
 * llama-swap.md 3.4): the body goes upstream with another model in it and every other byte
 * as the client sent it, so nothing is re-serialised. Which model a body names is read in
 * model-extract.ts; the multipart framing both use is in multipart.ts.
 */
import { scanTopLevel } from './json-top-level.ts';
import { CRLF, mediaType, parseHeaderParams, splitMultipart } from './multipart.ts';

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
 * `addWhenAbsent: false` leaves a form body without a `model` field as it is (its model came
 * from the query string, which the caller rewrites instead).
 *
 * The caller must update Content-Length.
 */
export function rewriteModel(body: Buffer, contentType: string, newModel: string, opts: { addWhenAbsent?: boolean } = {}): Buffer {
  const add = opts.addWhenAbsent ?? true;
  const ct = contentType.toLowerCase();
  if (ct.includes('application/json')) return rewriteJsonModel(body, newModel);
  if (ct.includes('multipart/form-data')) return rewriteMultipartModel(body, contentType, newModel, add);
  if (mediaType(ct) === 'application/x-www-form-urlencoded') return rewriteUrlencodedModel(body, newModel, add);
  return body;
}

/**
 * A query string (with its `?`, or '') with every `model` parameter's value replaced by
 * `newModel`; the other parameters stay exactly as written. No `model` parameter: unchanged.
 *
 * @example rewriteQueryModel('?model=b%2Fm&x=1', 'm') // '?model=m&x=1'
 */
export function rewriteQueryModel(query: string, newModel: string): string {
  if (query.length <= 1) return query;
  const encoded = `model=${encodeURIComponent(newModel)}`;
  const pairs = query.slice(1).split('&');
  let found = false;
  const out = pairs.map((pair) => {
    const eq = pair.indexOf('=');
    if (decodeFormComponent(eq < 0 ? pair : pair.slice(0, eq)) !== 'model') return pair;
    found = true;
    return encoded;
  });
  return found ? `?${out.join('&')}` : query;
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

function rewriteUrlencodedModel(body: Buffer, newModel: string, add: boolean): Buffer {
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
  if (!found && !add) return body;
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

function rewriteMultipartModel(body: Buffer, contentType: string, newModel: string, add: boolean): Buffer {
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
  if (!replaced && !add) return body;
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
