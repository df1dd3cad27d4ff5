/**
 * Reads usage from an SSE answer as its chunks pass to the client, without keeping the
 * stream: only the line a chunk leaves unfinished is carried over, and only lines holding
 * `usage`, `timings` or `metrics` are decoded and parsed (a token delta is neither). Each
 * chunk costs a few native substring searches over its bytes; nothing is allocated for a
 * chunk without such a line, and chunks are never joined.
 *
 * What is read is what llama-swap reads from every `data:` line of the whole body (a line
 * without those keys tells it nothing), see usage-parse.ts.
 */
import { addSseLine, ANSWER_KEY_BYTES as KEYS, namesAnswerKey, StreamUsage } from './usage-parse.ts';

const NL = 0x0a;

/** A line longer than this (no newline in sight) is dropped: its usage, if any, is lost. */
export const MAX_SSE_LINE_BYTES = 4 * 1024 * 1024;

export class SseUsageScanner {
  readonly usage = new StreamUsage();
  /** The unfinished line, in the pieces it came in (copied: the chunks belong to the socket). */
  private carry: Buffer[] = [];
  private carryBytes = 0;
  /** The unfinished line outgrew {@link MAX_SSE_LINE_BYTES}; skipped up to its newline. */
  private overlong = false;

  /** The next chunk of the body, as written to the client. */
  push(chunk: Buffer): void {
    const first = chunk.indexOf(NL);
    if (first === -1) return this.keep(chunk);
    let from = 0;
    if (this.carryBytes > 0 || this.overlong) {
      // The line begun in earlier chunks ends here.
      if (!this.overlong) this.readJoined(chunk.subarray(0, first));
      this.carry = [];
      this.carryBytes = 0;
      this.overlong = false;
      from = first + 1;
    }
    const last = chunk.lastIndexOf(NL);
    if (from < last) this.scan(chunk, from, last);
    if (last + 1 < chunk.length) this.keep(chunk.subarray(last + 1));
  }

  /** The body ended: a last line without its newline still counts. */
  end(): void {
    if (this.carryBytes > 0 && !this.overlong) this.readJoined(Buffer.alloc(0));
    this.carry = [];
    this.carryBytes = 0;
  }

  /** Reads the complete lines in `chunk[from, to)` that hold a key, in their order. */
  private scan(chunk: Buffer, from: number, to: number): void {
    let starts: number[] | null = null;
    for (const key of KEYS) {
      let at = chunk.indexOf(key, from);
      while (at !== -1 && at < to) {
        const start = chunk.lastIndexOf(NL, at) + 1;
        (starts ??= []).push(start < from ? from : start);
        const end = chunk.indexOf(NL, at);
        at = end === -1 || end >= to ? -1 : chunk.indexOf(key, end);
      }
    }
    if (starts === null) return;
    // A line with two keys is read once; lines in stream order (the last timings win).
    starts.sort((a, b) => a - b);
    let prev = -1;
    for (const start of starts) {
      if (start === prev) continue;
      prev = start;
      const end = chunk.indexOf(NL, start);
      addSseLine(this.usage, chunk.toString('utf8', start, end === -1 || end > to ? to : end));
    }
  }

  private readJoined(tail: Buffer): void {
    const line = this.carry.length === 0 ? tail : Buffer.concat([...this.carry, tail]);
    if (namesAnswerKey(line)) addSseLine(this.usage, line.toString('utf8'));
  }

  private keep(piece: Buffer): void {
    if (this.overlong) return;
    if (this.carryBytes + piece.length > MAX_SSE_LINE_BYTES) {
      this.overlong = true;
      this.carry = [];
      this.carryBytes = 0;
      return;
    }
    this.carry.push(Buffer.from(piece));
    this.carryBytes += piece.length;
  }
}
