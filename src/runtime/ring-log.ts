/**
 * Bounded in-memory logs of upstream output.
 *
 * An upstream server can print for days; we keep only the recent tail (what `/logs` shows
 * and what explains a crash), and pass live chunks to whoever streams them.
 */

import { OutputEscaper } from '../observability/log-text.ts';

/** Receives every chunk written after it subscribed, as the raw bytes. */
export type LogListener = (chunk: Buffer) => void;

/**
 * A byte-bounded log: keeps the last `limitBytes` bytes written, plus live subscribers.
 *
 * The bound is exact: when it is exceeded the oldest chunk is cut mid-chunk, so
 * {@link RingLog.history} is always the last `min(total written, limitBytes)` bytes. When
 * the cut falls inside a multi-byte UTF-8 character, `history()` skips that partial
 * character rather than starting with a replacement character.
 */
export class RingLog {
  readonly limitBytes: number;
  /**
   * The retained bytes, in one circular buffer allocated on first write. One copy per write
   * instead of one retained Buffer per line: a busy access log wrote a line per request, and
   * keeping the last thousand lines as objects made each of them old-generation garbage.
   */
  private ring: Buffer | null = null;
  /** Where the oldest retained byte is. */
  private start = 0;
  private size = 0;
  private readonly listeners = new Set<LogListener>();
  /** Set for a process's output: see {@link OutputEscaper}. */
  private readonly escaper: OutputEscaper | null;

  /**
   * @param limitBytes how many of the most recent bytes to keep (default 100 KiB).
   * @param opts.escapeOutput escape the control characters of what is written (a process's
   *   raw output, which may echo anything a client sent); the proxy log's lines are escaped
   *   by their writer.
   */
  constructor(limitBytes = 100 * 1024, opts: { escapeOutput?: boolean } = {}) {
    if (!Number.isInteger(limitBytes) || limitBytes < 0) {
      throw new Error(`RingLog limit must be a non-negative integer, got ${limitBytes}`);
    }
    this.limitBytes = limitBytes;
    this.escaper = opts.escapeOutput ? new OutputEscaper() : null;
  }

  /** Appends a chunk (strings are UTF-8 encoded) and hands it to every subscriber. */
  write(chunk: Buffer | string): void {
    let buf: Buffer;
    if (this.escaper) buf = Buffer.from(this.escaper.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk), 'utf8');
    else buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (buf.length === 0) return;
    this.append(buf);
    for (const listener of this.listeners) {
      // A broken subscriber (say, a closed HTTP stream) must not break the process that
      // writes, nor the other subscribers.
      try {
        listener(buf);
      } catch {
        /* ignored on purpose */
      }
    }
  }

  /** The retained tail, decoded as UTF-8. */
  history(): string {
    const ring = this.ring;
    if (!ring || this.size === 0) return '';
    const end = this.start + this.size;
    const all =
      end <= this.limitBytes
        ? ring.subarray(this.start, end)
        : Buffer.concat([ring.subarray(this.start), ring.subarray(0, end - this.limitBytes)], this.size);
    return all.subarray(utf8Start(all)).toString('utf8');
  }

  /** Bytes currently retained (at most `limitBytes`). */
  get byteLength(): number {
    return this.size;
  }

  /**
   * Calls `listener` with every chunk written from now on.
   * @returns a function that unsubscribes (safe to call more than once).
   */
  subscribe(listener: LogListener): () => void {
    // Wrap so the same function may subscribe twice and each unsubscribe removes its own.
    const entry: LogListener = (chunk) => listener(chunk);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  private append(buf: Buffer): void {
    const limit = this.limitBytes;
    if (limit === 0) return;
    const ring = (this.ring ??= Buffer.allocUnsafe(limit));
    // Only the last `limit` bytes of a huge chunk can stay.
    const src = buf.length > limit ? buf.subarray(buf.length - limit) : buf;
    let at = (this.start + this.size) % limit;
    const first = Math.min(src.length, limit - at);
    src.copy(ring, at, 0, first);
    if (first < src.length) src.copy(ring, 0, first);
    at = (at + src.length) % limit;
    const total = this.size + src.length;
    if (total > limit) {
      // The oldest bytes were overwritten: the tail now starts where the write ended.
      this.start = at;
      this.size = limit;
    } else {
      this.size = total;
    }
  }
}

/** Index of the first byte that is not a UTF-8 continuation byte (at most 3 skipped). */
function utf8Start(buf: Buffer): number {
  let i = 0;
  while (i < 3 && i < buf.length && ((buf[i] as number) & 0xc0) === 0x80) i++;
  return i;
}

/**
 * One {@link RingLog} per model, plus `upstream`, which receives every model's chunks too
 * (llama-swap's "upstream" log: all servers' output interleaved).
 */
export class LogHub {
  /** Every model's output, interleaved in arrival order. */
  readonly upstream: RingLog;
  private readonly models = new Map<string, RingLog>();
  private readonly limitBytes: number;

  /** @param limitBytes bound of each model log and of the aggregate (default 100 KiB). */
  constructor(limitBytes = 100 * 1024) {
    this.limitBytes = limitBytes;
    this.upstream = new RingLog(limitBytes);
  }

  /**
   * The log of model `id`, created on first use; the same instance on every call. What is
   * written to it has its control characters escaped (see OutputEscaper): a model server
   * may print what a client sent it.
   */
  forModel(id: string): RingLog {
    let log = this.models.get(id);
    if (log === undefined) {
      log = new RingLog(this.limitBytes, { escapeOutput: true });
      const upstream = this.upstream;
      log.subscribe((chunk) => upstream.write(chunk));
      this.models.set(id, log);
    }
    return log;
  }

  /** Ids of the models that have a log so far. */
  modelIds(): string[] {
    return [...this.models.keys()];
  }
}
