/**
 * A validating top-level JSON scanner, for request bodies too big to JSON.parse just to read
 * one key (chat requests with inline images run to tens of MiB). It accepts exactly what
 * JSON.parse accepts (on the body decoded as UTF-8, where invalid bytes become U+FFFD and so
 * never make JSON invalid) and records where chosen top-level keys' values are, without
 * building any value. It is iterative, so deeply nested input cannot overflow the stack.
 */

/** Bodies below this are parsed with JSON.parse; larger ones are scanned without copying. */
export const JSON_FULL_PARSE_LIMIT = 1024 * 1024;

/** One top-level `"key": value` member; offsets are byte offsets into the body. */
export interface JsonMember {
  key: string;
  keyStart: number;
  valueStart: number;
  valueEnd: number;
}

/** What {@link scanTopLevel} found in a valid JSON text. */
export interface TopLevelScan {
  /** False for valid JSON whose top level is not an object. */
  isObject: boolean;
  /** The wanted members, in body order (duplicates included). */
  members: JsonMember[];
  /** Number of top-level members (wanted or not). */
  memberCount: number;
  /** End offset of the last member's value (the `{` + 1 when empty). */
  lastValueEnd: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
/** `-`: also the multipart delimiter's suffix character. */
export const MINUS = 0x2d;

/**
 * Scans `buf` as one JSON text. Returns null when it is not valid JSON, else where the
 * top-level members whose (decoded) key is in `wanted` are.
 */
export function scanTopLevel(buf: Buffer, wanted: ReadonlySet<string>): TopLevelScan | null {
  const n = buf.length;
  let i = skipWs(buf, 0);
  if (buf[i] !== LBRACE) {
    const end = skipValue(buf, i);
    if (end < 0 || skipWs(buf, end) !== n) return null;
    return { isObject: false, members: [], memberCount: 0, lastValueEnd: -1 };
  }
  const members: JsonMember[] = [];
  let memberCount = 0;
  let lastValueEnd = i + 1;
  // Longest raw spelling of a wanted key: every character written as a 6-byte \uXXXX escape.
  let maxRawKey = 0;
  for (const k of wanted) maxRawKey = Math.max(maxRawKey, k.length * 6);
  i = skipWs(buf, i + 1);
  if (buf[i] === RBRACE) {
    return skipWs(buf, i + 1) === n ? { isObject: true, members, memberCount, lastValueEnd } : null;
  }
  for (;;) {
    if (buf[i] !== QUOTE) return null;
    const keyStart = i;
    const keyEnd = skipString(buf, i);
    if (keyEnd < 0) return null;
    i = skipWs(buf, keyEnd);
    if (buf[i] !== COLON) return null;
    const valueStart = skipWs(buf, i + 1);
    const valueEnd = skipValue(buf, valueStart);
    if (valueEnd < 0) return null;
    memberCount++;
    lastValueEnd = valueEnd;
    if (keyEnd - keyStart - 2 <= maxRawKey) {
      const key = decodeKey(buf, keyStart, keyEnd);
      if (wanted.has(key)) members.push({ key, keyStart, valueStart, valueEnd });
    }
    i = skipWs(buf, valueEnd);
    if (buf[i] === COMMA) {
      i = skipWs(buf, i + 1);
      continue;
    }
    if (buf[i] !== RBRACE) return null;
    return skipWs(buf, i + 1) === n ? { isObject: true, members, memberCount, lastValueEnd } : null;
  }
}

/** A (short) key's decoded text; escapes such as `mod\u0065l` decode like JSON.parse does. */
function decodeKey(buf: Buffer, start: number, end: number): string {
  const raw = buf.toString('utf8', start, end);
  return raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
}

function skipWs(buf: Buffer, i: number): number {
  for (;;) {
    const c = buf[i];
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

/** `i` at an opening quote; returns the offset after the closing quote, or -1. */
function skipString(buf: Buffer, i: number): number {
  const n = buf.length;
  i++;
  while (i < n) {
    const c = buf[i]!;
    if (c === QUOTE) return i + 1;
    if (c === BACKSLASH) {
      const e = buf[i + 1];
      // " \ / b f n r t
      if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
        i += 2;
      } else if (e === 0x75 && isHex(buf[i + 2]) && isHex(buf[i + 3]) && isHex(buf[i + 4]) && isHex(buf[i + 5])) {
        i += 6;
      } else {
        return -1;
      }
    } else if (c < 0x20) {
      return -1; // raw control characters are not allowed inside JSON strings
    } else {
      i++;
    }
  }
  return -1;
}

/** `-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?` at `i`; returns its end, or -1. */
function skipNumber(buf: Buffer, i: number): number {
  if (buf[i] === MINUS) i++;
  if (buf[i] === 0x30) i++;
  else if (isDigit(buf[i])) while (isDigit(buf[i])) i++;
  else return -1;
  if (buf[i] === 0x2e) {
    i++;
    if (!isDigit(buf[i])) return -1;
    while (isDigit(buf[i])) i++;
  }
  if (buf[i] === 0x65 || buf[i] === 0x45) {
    i++;
    if (buf[i] === 0x2b || buf[i] === MINUS) i++;
    if (!isDigit(buf[i])) return -1;
    while (isDigit(buf[i])) i++;
  }
  return i;
}

const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL = Buffer.from('null');

function skipLiteral(buf: Buffer, i: number, lit: Buffer): number {
  return buf.length - i >= lit.length && buf.compare(lit, 0, lit.length, i, i + lit.length) === 0 ? i + lit.length : -1;
}

/** Skips a scalar at `i` (string, number, literal); -1 if there is none. */
function skipScalar(buf: Buffer, i: number): number {
  const c = buf[i];
  if (c === QUOTE) return skipString(buf, i);
  if (c === MINUS || isDigit(c)) return skipNumber(buf, i);
  if (c === 0x74) return skipLiteral(buf, i, TRUE);
  if (c === 0x66) return skipLiteral(buf, i, FALSE);
  if (c === 0x6e) return skipLiteral(buf, i, NULL);
  return -1;
}

/**
 * Skips one JSON value starting exactly at `i` (no leading whitespace). Returns the offset
 * just after it, or -1 if it is not valid JSON. Containers are tracked on an explicit stack.
 */
function skipValue(buf: Buffer, i: number): number {
  const stack: number[] = []; // LBRACE or LBRACKET per open container
  for (;;) {
    // Expecting a value at i.
    const c = buf[i];
    if (c === LBRACE || c === LBRACKET) {
      const close = c === LBRACE ? RBRACE : RBRACKET;
      i = skipWs(buf, i + 1);
      if (buf[i] === close) {
        i++;
      } else {
        stack.push(c);
        if (c === LBRACE) {
          i = skipMemberKey(buf, i);
          if (i < 0) return -1;
        }
        continue;
      }
    } else {
      i = skipScalar(buf, i);
      if (i < 0) return -1;
    }
    // A value just ended: close containers or move to the next element.
    for (;;) {
      if (stack.length === 0) return i;
      i = skipWs(buf, i);
      const top = stack[stack.length - 1];
      const d = buf[i];
      if (d === COMMA) {
        i = skipWs(buf, i + 1);
        if (top === LBRACE) {
          i = skipMemberKey(buf, i);
          if (i < 0) return -1;
        }
        break;
      }
      if ((top === LBRACE && d === RBRACE) || (top === LBRACKET && d === RBRACKET)) {
        stack.pop();
        i++;
        continue;
      }
      return -1;
    }
  }
}

/** `"key" :` at `i`; returns the offset of the member's value (whitespace skipped), or -1. */
function skipMemberKey(buf: Buffer, i: number): number {
  if (buf[i] !== QUOTE) return -1;
  i = skipString(buf, i);
  if (i < 0) return -1;
  i = skipWs(buf, i);
  if (buf[i] !== COLON) return -1;
  return skipWs(buf, i + 1);
}
