/**
 * Bounded in-memory logs of upstream output.
 *
 * An upstream server can print for days; we keep only the recent tail (what `/logs` shows
 * and what explains a crash), and pass live chunks to whoever streams them.
 */

import { OutputEscaper } from './log-text.ts';

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
    const all = this.tail();
    return all.subarray(utf8Start(all)).toString('utf8');
  }

  /** The retained bytes as they are (the first may be inside a UTF-8 character). */
  tail(): Buffer {
    const ring = this.ring;
    if (!ring || this.size === 0) return Buffer.alloc(0);
    const end = this.start + this.size;
    return end <= this.limitBytes
      ? ring.subarray(this.start, end)
      : Buffer.concat([ring.subarray(this.start), ring.subarray(0, end - this.limitBytes)], this.size);
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

/** Receives every model's chunk with the id of the model that wrote it. */
export type ModelChunkListener = (chunk: Buffer, model: string) => void;

/** A run of bytes in the aggregate log written by one model. */
export interface UpstreamPart {
  model: string;
  text: string;
}

/**
 * Which model wrote which bytes of the aggregate's retained tail, as runs of (model, byte
 * count): consecutive chunks of one model are one run, so a model printing alone costs one
 * entry however much it prints. Trimmed with the same bound as the ring it describes.
 */
class Attribution {
  private runs: Array<{ model: string; bytes: number }> = [];
  /** Index of the oldest run still (partly) retained. */
  private head = 0;
  private total = 0;

  constructor(private readonly limitBytes: number) {}

  add(model: string, bytes: number): void {
    if (bytes === 0 || this.limitBytes === 0) return;
    const last = this.runs.length > this.head ? this.runs[this.runs.length - 1]! : null;
    if (last && last.model === model) last.bytes += bytes;
    else this.runs.push({ model, bytes });
    this.total += bytes;
    while (this.total > this.limitBytes) {
      const first = this.runs[this.head]!;
      const excess = this.total - this.limitBytes;
      if (first.bytes <= excess) {
        this.total -= first.bytes;
        this.head++;
      } else {
        first.bytes -= excess;
        this.total = this.limitBytes;
      }
    }
    // Drop the trimmed runs now and then, not on every write.
    if (this.head > 1024 && this.head * 2 > this.runs.length) {
      this.runs = this.runs.slice(this.head);
      this.head = 0;
    }
  }

  /** The retained runs, oldest first, covering exactly the last `total` bytes written. */
  list(): Array<{ model: string; bytes: number }> {
    return this.runs.slice(this.head);
  }
}

/**
 * One {@link RingLog} per model, plus `upstream`, which receives every model's chunks too
 * (llama-swap's "upstream" log: all servers' output interleaved, raw, with nothing added).
 * Which model wrote what is kept beside it, for the web UI: see {@link LogHub.upstreamParts}
 * and {@link LogHub.subscribeUpstream}.
 */
export class LogHub {
  /** Every model's output, interleaved in arrival order. */
  readonly upstream: RingLog;
  private readonly models = new Map<string, RingLog>();
  private readonly limitBytes: number;
  private readonly attribution: Attribution;
  private readonly modelListeners = new Set<ModelChunkListener>();

  /** @param limitBytes bound of each model log and of the aggregate (default 100 KiB). */
  constructor(limitBytes = 100 * 1024) {
    this.limitBytes = limitBytes;
    this.upstream = new RingLog(limitBytes);
    this.attribution = new Attribution(limitBytes);
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
      log.subscribe((chunk) => {
        // Attributed first, so a reader of the aggregate's history always finds its bytes' owner.
        this.attribution.add(id, chunk.length);
        this.upstream.write(chunk);
        for (const listener of this.modelListeners) {
          try {
            listener(chunk, id);
          } catch {
            /* as in RingLog.write: a broken subscriber breaks nothing else */
          }
        }
      });
      this.models.set(id, log);
    }
    return log;
  }

  /** Ids of the models that have a log so far. */
  modelIds(): string[] {
    return [...this.models.keys()];
  }

  /**
   * Calls `listener` with every chunk the aggregate receives from now on, and its model.
   * @returns a function that unsubscribes.
   */
  subscribeUpstream(listener: ModelChunkListener): () => void {
    const entry: ModelChunkListener = (chunk, model) => listener(chunk, model);
    this.modelListeners.add(entry);
    return () => {
      this.modelListeners.delete(entry);
    };
  }

  /**
   * The aggregate's history cut into runs by the model that wrote them: joined, the texts
   * are exactly `upstream.history()`. Each chunk a model log passes on is whole UTF-8 text
   * (its escaper holds back split characters), so runs never split a character; only the
   * oldest may start inside one, where the ring's bound cut it, and that part is skipped as
   * history() skips it.
   */
  upstreamParts(): UpstreamPart[] {
    const bytes = this.upstream.tail();
    const runs = this.attribution.list();
    // Bytes older than every run (none, unless something wrote to `upstream` directly) have
    // no owner; runs older than the bytes (never, the bounds are equal) are dropped.
    let skip = runs.reduce((n, r) => n + r.bytes, 0) - bytes.length;
    const owned = skip < 0 ? [{ model: '', bytes: -skip }, ...runs] : runs;
    const parts: UpstreamPart[] = [];
    let at = 0;
    for (const run of owned) {
      const cut = Math.min(run.bytes, Math.max(0, skip));
      skip -= cut;
      let piece = bytes.subarray(at, at + run.bytes - cut);
      at += run.bytes - cut;
      if (parts.length === 0) piece = piece.subarray(utf8Start(piece));
      if (piece.length > 0) parts.push({ model: run.model, text: piece.toString('utf8') });
    }
    return parts;
  }
}
