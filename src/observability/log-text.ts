/**
 * Text that reaches a log, made safe to print: one log line stays one line, and nothing in
 * it can drive the terminal that shows it.
 *
 * Request headers and paths, config names (a model id may hold `\n` or ESC) and model output
 * all end up in the proxy log, on stdout and in `/logs`. Written raw, a header value could
 * forge a whole access line (`X-Forwarded-For: 1.2.3.4" "fake" 200`), a newline could add
 * lines, and C0/C1 control codes (ESC, or U+009B, which Node hands over for a header byte
 * 0x9b) could move the cursor, rewrite the screen or set a terminal's title. So every such
 * character is written as an escape instead: `\n`, `\x1b`, `\u009b`.
 */

/**
 * Control characters and the invisible ones that reorder or split text: C0 but tab, DEL, C1,
 * the line and paragraph separators, and the bidirectional overrides and isolates.
 */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** The same, plus tab, `"` and `\`, for a field written between double quotes. */
const IN_QUOTES = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069"\\]/g;

/** The same, plus blanks, for a field written without quotes (fields are space-separated). */
const BARE = /[\x00-\x20\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069"\\]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '"': '\\"', '\\': '\\\\' };

function escapeChar(c: string): string {
  const named = NAMED[c];
  if (named !== undefined) return named;
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** A message for one log line: control characters escaped (cheap when there are none). */
export function escapeControl(text: string): string {
  CONTROL.lastIndex = 0;
  return CONTROL.test(text) ? text.replace(CONTROL, escapeChar) : text;
}

/** A field the log line puts between double quotes (`"<user-agent>"`). */
export function escapeQuoted(text: string): string {
  IN_QUOTES.lastIndex = 0;
  return IN_QUOTES.test(text) ? text.replace(IN_QUOTES, escapeChar) : text;
}

/** A field the log line writes bare, between spaces (a client address). */
export function escapeBare(text: string): string {
  BARE.lastIndex = 0;
  return BARE.test(text) ? text.replace(BARE, escapeChar) : text;
}

/**
 * Control characters in one process's output, as it arrives in chunks: the same escapes as
 * {@link escapeControl}, but newlines and tabs are kept (output has lines), and a carriage
 * return becomes a line break (progress bars redraw a line with `\r`; in a log it would hide
 * what came before it on the line). UTF-8 sequences split across chunks are put back
 * together before they are looked at; invalid bytes become U+FFFD.
 */
export class OutputEscaper {
  private readonly decoder = new TextDecoder('utf-8');
  /** The chunk before ended with `\r`: a `\n` opening the next one belongs to it. */
  private pendingCr = false;

  /** The escaped text of `chunk` (possibly '' while a split character is incomplete). */
  push(chunk: Uint8Array): string {
    let text = this.decoder.decode(chunk, { stream: true });
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = text.endsWith('\r');
    OUTPUT.lastIndex = 0;
    return OUTPUT.test(text) ? text.replace(OUTPUT, escapeOutputChar) : text;
  }
}

/** {@link CONTROL} without `\n`, and with `\r\n` taken as one line break. */
const OUTPUT = /\r\n?|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function escapeOutputChar(c: string): string {
  return c[0] === '\r' ? '\n' : escapeChar(c);
}
