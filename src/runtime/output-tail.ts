/**
 * The last few lines a process wrote to one of its pipes, kept so that a start that fails can
 * say why (llama-server prints "failed to load model ..." to stderr and exits 1; without its
 * words the client only learns that the command "exited prematurely").
 *
 * The lines end up in an HTTP error body and in swapstate's own log, so they are made safe to
 * show: ANSI colour sequences are dropped, every other control character is escaped, and each
 * line is cut to a bounded length. Memory is bounded too, whatever the process writes.
 */
import { StringDecoder } from 'node:string_decoder';
import { escapeControl } from '../observability/log-text.ts';

/** Lines kept (the most recent ones). */
export const TAIL_LINES = 5;
/** Characters kept per line, after escaping; a longer line ends with `…`. */
export const TAIL_LINE_CHARS = 200;

/** ANSI CSI sequences (colours, cursor moves): noise in a one-line error message. */
const CSI = /\x1b\[[0-?]*[ -/]*[@-~]/g;

/**
 * Makes one line of process output safe to show on one line: colour sequences dropped, tabs
 * as spaces, other control characters escaped (log-text.ts), at most `maxChars` characters.
 */
export function safeLine(line: string, maxChars = TAIL_LINE_CHARS): string {
  // A carriage return redraws the line (progress bars): keep what a terminal would show last.
  const shown = line.replace(/\r+$/, '').split('\r').at(-1) as string;
  const plain = shown
    .replace(/\t/g, ' ')
    .replace(CSI, '');
  // Every other control character (they could forge log lines or drive a terminal) as an escape.
  const escaped = escapeControl(plain).trim();
  return escaped.length > maxChars ? `${escaped.slice(0, maxChars - 1)}…` : escaped;
}

/** Collects a stream's chunks and remembers its last {@link TAIL_LINES} non-empty lines. */
export class OutputTail {
  private readonly decoder = new StringDecoder('utf8');
  private readonly lines: string[] = [];
  /** The line being written (no newline yet), capped: only its start can be shown anyway. */
  private partial = '';

  constructor(
    private readonly maxLines = TAIL_LINES,
    private readonly maxChars = TAIL_LINE_CHARS,
  ) {}

  /** Feeds a chunk of output as it arrives (any split, multi-byte characters included). */
  write(chunk: Buffer | string): void {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const parts = text.split('\n');
    for (let i = 0; i < parts.length - 1; i++) {
      this.push(this.partial + (parts[i] as string));
      this.partial = '';
    }
    this.partial = (this.partial + (parts.at(-1) as string)).slice(0, this.maxChars * 4);
  }

  /** The last lines, oldest first, the unterminated last one included; each made safe to show. */
  tail(): string[] {
    const lines = [...this.lines];
    const last = safeLine(this.partial, this.maxChars);
    if (last !== '') lines.push(last);
    return lines.slice(-this.maxLines);
  }

  private push(raw: string): void {
    const line = safeLine(raw, this.maxChars);
    if (line === '') return; // blank lines explain nothing
    this.lines.push(line);
    if (this.lines.length > this.maxLines) this.lines.shift();
  }
}
