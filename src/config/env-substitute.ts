/**
 * Step 1 of the load pipeline (reference 2.1): `${env.NAME}` is replaced in the raw YAML text,
 * before anything is parsed, so an environment variable can stand anywhere (a port number,
 * part of a key, an API key).
 *
 * Only references outside YAML comments count: a commented-out line that mentions an unset
 * variable must not break the config. Comments are found with `yaml`'s lexer rather than a
 * regular expression, so a `#` inside a quoted string or a block scalar (`cmd: |` bodies often
 * hold `# comment` lines, which are scalar text to YAML) is not mistaken for a comment.
 */
import { CST, Lexer } from 'yaml';
import { MAX_CONFIG_BYTES, MAX_CONFIG_SIZE_TEXT } from './limits.ts';
import { ConfigError } from './config-error.ts';

const ENV_REFERENCE = /\$\{env\.([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Lexer markers that carry no source text (document start, flow end, scalar start). */
const ZERO_WIDTH = new Set(['\u0002', '\u0018', '\u001f']);

/**
 * Replaces every `${env.NAME}` outside comments with the variable's value.
 *
 * Like llama-swap, values holding a newline, carriage return or NUL are refused (they would
 * change the YAML structure), and `\` and `"` are escaped as `\\` and `\"` so a value is safe
 * inside a double-quoted YAML string (in a plain scalar the escapes stay visible, as in
 * llama-swap).
 *
 * The result may be at most MAX_CONFIG_BYTES long (UTF-8), like the file itself: a large
 * variable referenced many times over would otherwise build a string of gigabytes before
 * anything could look at it.
 *
 * @example substituteEnv('apiKeys: ["${env.KEY}"]', { KEY: 'k1' }) // 'apiKeys: ["k1"]'
 * @throws ConfigError `environment variable 'NAME' is not set`, with `file:line`; or when the
 *   result would be over MAX_CONFIG_BYTES.
 */
export function substituteEnv(text: string, env: NodeJS.ProcessEnv = process.env, file = '<config>'): string {
  if (!text.includes('${env.')) return text;
  const outside = outsideComments(commentRanges(text));
  const whereAt = (offset: number): string => `${file}:${lineOf(text, offset)}`;
  let bytes = Buffer.byteLength(text);
  return text.replace(ENV_REFERENCE, (match: string, name: string, offset: number) => {
    if (!outside(offset)) return match;
    const value = env[name];
    if (value === undefined) {
      throw new ConfigError(`environment variable '${name}' is not set`, whereAt(offset));
    }
    if (/[\n\r\0]/.test(value)) {
      throw new ConfigError(
        `environment variable '${name}' contains newlines or null bytes which are not allowed in YAML substitution`,
        whereAt(offset),
      );
    }
    const escaped = value.replaceAll('\\', '\\\\').replaceAll('"', '\\"');
    bytes += Buffer.byteLength(escaped) - match.length;
    if (bytes > MAX_CONFIG_BYTES) {
      const message = `config is larger than ${MAX_CONFIG_SIZE_TEXT} once environment variable '${name}' is substituted`;
      throw new ConfigError(message, whereAt(offset));
    }
    return escaped;
  });
}

/** [start, end) offsets of every YAML comment in `text`. */
export function commentRanges(text: string): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let offset = 0;
  let scalarFollows = false;
  for (const token of new Lexer().lex(text)) {
    if (ZERO_WIDTH.has(token)) {
      // The token after a scalar marker is scalar text even when it starts with `#`.
      scalarFollows = token === '\u001f';
      continue;
    }
    if (!scalarFollows && CST.tokenType(token) === 'comment') ranges.push([offset, offset + token.length]);
    scalarFollows = false;
    offset += token.length;
  }
  return ranges;
}

/**
 * A test for "offset is outside every comment", for offsets asked in increasing order (as
 * `String.replace` visits matches): one pass over the ranges in all, not one per reference.
 */
function outsideComments(ranges: ReadonlyArray<[number, number]>): (offset: number) => boolean {
  let next = 0;
  return (offset) => {
    while (next < ranges.length && ranges[next]![1] <= offset) next++;
    const range = ranges[next];
    return !(range && offset >= range[0]);
  };
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}
