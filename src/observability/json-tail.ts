/**
 * The top-level members at the end of a JSON object, read without parsing the whole of it
 * (issue 16: a non-streamed answer's `usage`/`timings`/`metrics`, on every request).
 *
 * Servers put the usage last (OpenAI, llama.cpp, vLLM): `{..., "choices":[...], "usage":{...},
 * "timings":{...}}`. `JSON.parse` of the whole answer builds every choice and string only to
 * drop them. Here the last `"usage"` (etc.) is found with a native search, and `{` plus the
 * rest of the body from there is parsed: when that parses and the key follows a `,`, the
 * comma was at the top level (a comma deeper down leaves more closing brackets after it than
 * one object can hold), so the parsed members are the object's last ones.
 *
 * It says "unsure" (null) rather than guess, and the caller parses the whole body: no key
 * found where expected, a tail that does not parse, or a wanted key missing from the tail
 * while its quoted name still appears before it (a member further up, or a nested one: only
 * a full parse knows). An unescaped `"usage"` is always a string token of its own in valid
 * JSON (quotes inside strings are escaped). The part before the tail is not validated: a body
 * broken in its middle but whole at its end would be read where a full parse gives up; an
 * answer a server sent does not look like that, and a cut one fails at its end.
 */

const isSpace = (b: number): boolean => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/**
 * The values of `keys` among the last members of the JSON object in `buf` (a key absent from
 * the object: not in the map), or null when unsure.
 */
export function tailMembers(buf: Buffer, keys: readonly string[]): Map<string, unknown> | null {
  let start = -1;
  for (const key of keys) {
    const at = buf.lastIndexOf(`"${key}"`);
    if (at > 0 && (start < 0 || at < start)) start = at;
  }
  if (start < 0) return null;
  // An escaped quote is inside a string; the key must follow a comma.
  if (buf[start - 1] === 0x5c) return null;
  let i = start - 1;
  while (i >= 0 && isSpace(buf[i]!)) i--;
  if (buf[i] !== 0x2c) return null;
  let tail: unknown;
  try {
    tail = JSON.parse(`{${buf.toString('utf8', start)}`);
  } catch {
    return null;
  }
  if (tail === null || typeof tail !== 'object') return null;
  const found = new Map<string, unknown>();
  for (const key of keys) {
    if (Object.hasOwn(tail, key)) found.set(key, (tail as Record<string, unknown>)[key]);
    else if (buf.lastIndexOf(`"${key}"`, i) !== -1) return null;
  }
  let first = 0;
  while (first < buf.length && isSpace(buf[first]!)) first++;
  return buf[first] === 0x7b ? found : null;
}
