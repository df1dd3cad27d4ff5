/**
 * multipart/form-data framing (RFC 2046, RFC 7578) for the model routes, and the header
 * parameters it is framed by (Content-Type's media type and boundary, Content-Disposition).
 *
 * Two readers, for two needs. Extraction wants the first `model` and `stream` values and
 * nothing more, so {@link readModelFields} lets busboy parse the body and stops at the model
 * field (audio uploads are large; the field usually precedes the file). Rewriting must keep
 * every byte but the model's value, and busboy hands out values, not where they are, so
 * {@link splitMultipart} splits the body by hand into byte ranges. Bodies arrive fully
 * buffered, so both work on a Buffer.
 */
import busboy from 'busboy';
import { MINUS } from './json-top-level.ts';

// ---------------------------------------------------------------------------------------
// Header parameters
// ---------------------------------------------------------------------------------------

/** `type/subtype` of a Content-Type, lower-cased, without parameters. */
export function mediaType(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/**
 * Parses `type/subtype; a=b; c="quoted \" value"` (Content-Type, Content-Disposition).
 * Parameter names are lower-cased; values keep their case.
 */
export function parseHeaderParams(value: string): { type: string; params: Map<string, string> } {
  const params = new Map<string, string>();
  let i = value.indexOf(';');
  const type = mediaType(value);
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
// Reading the model fields (busboy)
// ---------------------------------------------------------------------------------------

/** Feed size when parsing a buffered multipart body, so parsing can stop between chunks. */
const MULTIPART_CHUNK = 64 * 1024;

/**
 * What {@link readModelFields} read: the first value of the `model` and of the `stream`
 * field (undefined when not seen), or why busboy could not parse the body.
 */
export type ModelFields =
  | { ok: true; model: string | undefined; stream: string | undefined }
  | { ok: false; detail: string };

/**
 * Reads the `model` and `stream` form fields of a multipart body, stopping as soon as the
 * model is known: `stream` is then only what was seen before that point. The first value of
 * a repeated field is kept (the one Go's FormValue returns). A `model` or `stream` part
 * without a filename is read as a value, whatever its Content-Type, as Go reads it.
 */
export function readModelFields(contentType: string, body: Buffer): Promise<ModelFields> {
  return new Promise((resolve) => {
    let model: string | undefined;
    let stream: string | undefined;
    let settled = false;
    let bb: busboy.Busboy;
    const finish = (result: ModelFields): void => {
      if (settled) return;
      settled = true;
      resolve(result);
      bb.destroy();
    };
    const read = (): ModelFields => ({ ok: true, model, stream });
    const unreadable = (err: unknown): ModelFields => ({ ok: false, detail: err instanceof Error ? err.message : String(err) });
    const onValue = (name: string, value: string): void => {
      // The first value of a repeated field is the one FormValue returns.
      if (name === 'model' && model === undefined) model = value;
      else if (name === 'stream' && stream === undefined) stream = value;
      if (model !== undefined) finish(read());
    };
    try {
      bb = busboy({
        headers: { 'content-type': contentType },
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
    bb.on('close', () => finish(read()));
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
// Splitting into byte ranges (by hand)
// ---------------------------------------------------------------------------------------

export const CRLF = Buffer.from('\r\n');

/** One part of a multipart body: where its content is, and whether it is the model field. */
export interface MultipartPart {
  contentStart: number;
  contentEnd: number;
  isModelField: boolean;
}

/**
 * Splits a multipart body at its boundary (RFC 2046). Returns null if the body does not
 * follow the grammar; then it is not rewritten at all rather than mangled. `closeAt` is
 * where the close delimiter starts.
 */
export function splitMultipart(body: Buffer, boundary: string): { parts: MultipartPart[]; closeAt: number } | null {
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
