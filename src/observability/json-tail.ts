/**
 * The top-level members at the end of a JSON object, found without parsing the whole of it
 * (issue 16: a non-streamed answer's `usage`/`timings`/`metrics` on every request).
 *
 * Servers put the usage last (OpenAI, llama.cpp, vLLM): `{..., "choices":[...], "usage":{...},
 * "timings":{...}}`. `JSON.parse` of the whole answer builds every choice and string only for
 * them to be dropped; here the object is walked backwards from its closing brace, member by
 * member, and only the values of the wanted keys are parsed.
 *
 * It says "unsure" (null) rather than guess: the caller then parses the whole body. Unsure
 * is: not an object, a key with an escape, anything that does not scan as JSON, or a wanted
 * key that was not among the walked members while its quoted name still appears earlier in
 * the body (it may be a top-level member further up, or a nested one: only a full parse
 * knows). JSON.parse keeps the last of duplicate keys, and so does this, finding it first.
 * The part before the walked members is not validated: a body broken in its middle but
 * whole at its end would be read here where a full parse would give up; an answer a server
 * sent does not look like that, and a cut one fails at its end.
 *
 * Works on the bytes: every structural character is ASCII, and no byte of a multi-byte
 * UTF-8 character is below 0x80, so none is mistaken for one.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** Members walked at most before giving up (an answer's usage is among its last few). */
const MAX_MEMBERS = 8;

const isSpace = (b: number): boolean => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

function skipSpaceBack(buf: Buffer, i: number): number {
  while (i >= 0 && isSpace(buf[i]!)) i--;
  return i;
}

/** Whether the quote at `i` is escaped (an odd run of backslashes before it). */
function escaped(buf: Buffer, i: number): boolean {
  let n = 0;
  for (let j = i - 1; j >= 0 && buf[j] === BACKSLASH; j--) n++;
  return (n & 1) === 1;
}

/** The index of the opening quote of the string whose closing quote is at `end`, or -1. */
function stringStart(buf: Buffer, end: number): number {
  for (let i = end - 1; i >= 0; i--) if (buf[i] === QUOTE && !escaped(buf, i)) return i;
  return -1;
}

/** The start of the value that ends at `end` (inclusive), or -1 when it does not scan. */
function valueStart(buf: Buffer, end: number): number {
  const last = buf[end]!;
  if (last === QUOTE) return stringStart(buf, end);
  if (last !== CLOSE_BRACE && last !== CLOSE_BRACKET) {
    // A number, true, false or null: back to the separator before it.
    let i = end;
    while (i >= 0) {
      const b = buf[i]!;
      if (b === COLON || b === COMMA || b === OPEN_BRACKET || b === OPEN_BRACE || isSpace(b)) break;
      if (b === QUOTE || b === CLOSE_BRACE || b === CLOSE_BRACKET) return -1;
      i--;
    }
    return i + 1 <= end ? i + 1 : -1;
  }
  let depth = 0;
  for (let i = end; i >= 0; i--) {
    const b = buf[i]!;
    if (b === QUOTE) {
      i = stringStart(buf, i);
      if (i < 0) return -1;
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) depth++;
    else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/**
 * The values of `keys` among the last members of the JSON object in `buf`, parsed (a key
 * absent from the object: undefined), or null when unsure (see the module comment).
 */
export function tailMembers(buf: Buffer, keys: readonly string[]): Map<string, unknown> | null {
  let i = skipSpaceBack(buf, buf.length - 1);
  if (i < 1 || buf[i] !== CLOSE_BRACE) return null;
  let first = 0;
  while (first < buf.length && isSpace(buf[first]!)) first++;
  if (buf[first] !== OPEN_BRACE) return null;
  const found = new Map<string, unknown>();
  i = skipSpaceBack(buf, i - 1);
  if (i === first) return found; // {}
  for (let m = 0; m < MAX_MEMBERS; m++) {
    const vEnd = i;
    const vStart = valueStart(buf, vEnd);
    if (vStart <= first) return null;
    let k = skipSpaceBack(buf, vStart - 1);
    if (buf[k] !== COLON) return null;
    k = skipSpaceBack(buf, k - 1);
    if (buf[k] !== QUOTE) return null;
    const kStart = stringStart(buf, k);
    if (kStart <= first) return null;
    const key = buf.toString('latin1', kStart + 1, k);
    if (key.includes('\\')) return null;
    if (keys.includes(key) && !found.has(key)) {
      try {
        found.set(key, JSON.parse(buf.toString('utf8', vStart, vEnd + 1)));
      } catch {
        return null;
      }
    }
    i = skipSpaceBack(buf, kStart - 1);
    if (i === first) return found; // the object's first member: every member walked
    if (buf[i] !== COMMA) return null;
    if (found.size === keys.length) return found;
    i = skipSpaceBack(buf, i - 1);
    // Members further up are not walked: sure only if no wanted key missing so far is named there.
    if (keys.every((key) => found.has(key) || buf.lastIndexOf(`"${key}"`, i) === -1)) return found;
  }
  return null;
}
