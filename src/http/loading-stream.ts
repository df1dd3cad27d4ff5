/**
 * The loading-state stream (`sendLoadingState`, reference 3.14): while the model of a
 * streamed chat request loads, llama-swap answers 200 at once and types progress into the
 * stream as reasoning text, so chat UIs show something instead of a silent spinner; the real
 * answer follows in the same response (loading-serve.ts).
 *
 * The text is llama-swap's, byte for byte where clients or users may match it: the
 * `llama-swap loading model: <id>` line (people grep their logs and UIs for it), `Queue
 * position: #N`, the dots, `Done! (X.XXs)`, and the typing rhythm (5 runes at a time, 75 a
 * second; a 750 ms tick). swapstate adds one thing: the scheduler's reason for the wait when
 * it says more than "loading" (`Status: model b is loading (evicting a)`, `... is waking`),
 * typed as an update in the same frame format (README, Differences).
 *
 * Everything that takes time goes through an injected clock, and every random choice through
 * an injected source, so tests replay a load frame by frame. Single-threaded: Go's writer
 * needed a mutex and a release fence against a finished response; here `abort()` (the client
 * left) and the closed phase stop every write and timer at once.
 */
import { goJson } from './error-response.ts';
import { LOADING_REMARKS } from './loading-remarks.ts';

/** The forwarded paths a loading stream may start on (llama-swap's `loadingPaths`, by prefix). */
const LOADING_PATH_PREFIXES = ['/v1/chat/completions'];

/** Whether a forwarded path (its query ignored) may get a loading stream. */
export function isLoadingPath(forwardPath: string): boolean {
  const q = forwardPath.indexOf('?');
  const path = q < 0 ? forwardPath : forwardPath.slice(0, q);
  return LOADING_PATH_PREFIXES.some((p) => path.startsWith(p));
}

/** The clock a stream types and ticks by (the real one in the server, a fake in tests). */
export interface LoadingClock {
  /** Milliseconds, monotonic. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: LoadingClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface LoadingStreamOptions {
  /** The real model id, shown in the header line. */
  model: string;
  /** Sends one frame to the client (the caller drops it once the response is gone). */
  write(frame: string): void;
  clock?: LoadingClock;
  /** Uniform in [0, 1): the remarks' order and the pause between remarks. */
  random?: () => number;
  remarks?: readonly string[];
  /** Between progress ticks (llama-swap: 750 ms). */
  tickMs?: number;
  /** Typing speed; 0 types without pauses (llama-swap: 75). */
  charsPerSecond?: number;
  /**
   * Why the request waits now (the scheduler's words), asked at each tick; null when it no
   * longer waits. A changed reason is typed as a `Status:` update.
   */
  waitReason?: () => string | null;
}

/** One loading frame: the text as a chat-completion chunk's reasoning (no id/model/object, as Go). */
export function loadingFrame(text: string): string {
  return `data: {"choices":[{"delta":{"reasoning_content":${goJson(text)}}}]}\n\n`;
}

/**
 * A failure after the 200 was committed: the error body (an envelope, or an upstream's JSON
 * error) as one frame, then `[DONE]`, so SSE parsers see it and the stream visibly ends
 * (a bare JSON line, what older llama-swap appended, is dropped by every SSE parser).
 */
export function errorFrame(json: string): string {
  return `data: ${json}\n\ndata: [DONE]\n\n`;
}

/**
 * Go's `%.2f` of a duration's seconds. toFixed rounds exact ties up, Go to even; a tie is
 * exact only when the seconds are a multiple of 1/8 (then the products below are exact too).
 */
export function goSeconds(ms: number): string {
  const seconds = ms / 1000;
  const scaled = seconds * 100;
  const floor = Math.floor(scaled);
  if (Number.isInteger(seconds * 8) && scaled - floor === 0.5) return ((floor % 2 === 0 ? floor : floor + 1) / 100).toFixed(2);
  return seconds.toFixed(2);
}

type Piece =
  /** Sent as one frame at once. */
  | { kind: 'data'; text: string }
  /** Typed: a chunk of runes per frame, with a pause after each but the last. */
  | { kind: 'typed'; runes: string[] }
  /** Run when the typing before it is done (a remark's time is taken after it is typed). */
  | { kind: 'call'; fn: () => void };

const SEPARATOR = '━━━━━';

export class LoadingStream {
  private readonly clock: LoadingClock;
  private readonly random: () => number;
  private readonly tickMs: number;
  private readonly charsPerSecond: number;
  private readonly chunkRunes: number;
  private readonly remarks: string[];
  private remarkIndex = 0;

  private phase: 'new' | 'loading' | 'finishing' | 'closed' = 'new';
  private readonly queue: Piece[] = [];
  private typingTimer: unknown = null;
  private tickTimer: unknown = null;
  /** A tick that came while typing: handled once the typing is done (Go's buffered ticker). */
  private tickWaiting = false;
  private closingQueued = false;

  private startedAt = 0;
  /** When the last remark or update was typed; -Infinity makes the first idle tick a remark. */
  private lastRemarkAt = -Infinity;
  private nextRemarkInMs = 0;
  private pendingPosition: number | null = null;
  private pendingReason: string | null = null;
  /** The reason last shown; the header already says the model is loading. */
  private shownReason: string;

  private resolveClosed!: () => void;
  private readonly closed = new Promise<void>((resolve) => {
    this.resolveClosed = resolve;
  });

  constructor(private readonly opts: LoadingStreamOptions) {
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.tickMs = opts.tickMs ?? 750;
    this.charsPerSecond = opts.charsPerSecond ?? 75;
    this.chunkRunes = this.charsPerSecond > 0 ? Math.max(3, Math.floor(this.charsPerSecond / 15)) : 10;
    this.shownReason = `model ${opts.model} is loading`;
    // A fresh order per stream (Fisher-Yates from the top, as Go's rand.Shuffle).
    this.remarks = [...(opts.remarks ?? LOADING_REMARKS)];
    for (let i = this.remarks.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [this.remarks[i], this.remarks[j]] = [this.remarks[j]!, this.remarks[i]!];
    }
  }

  /** Types the header; the ticks start once it is typed (Go types it before its loop). */
  start(): void {
    if (this.phase !== 'new') return;
    this.phase = 'loading';
    this.startedAt = this.clock.now();
    this.line(SEPARATOR);
    this.line(`llama-swap loading model: ${this.opts.model}`);
    this.call(() => {
      if (this.phase === 'loading') this.scheduleTick();
    });
    this.pump();
  }

  /** The request's new 1-based queue position, shown at the next tick. */
  setPosition(position: number): void {
    this.pendingPosition = position;
  }

  /**
   * The load is over: what is being typed is finished, then `Done! (X.XXs)` and the closing
   * lines. Resolves once they are written, or at once when the client has left.
   */
  finish(): Promise<void> {
    if (this.phase === 'new' || this.phase === 'loading') {
      this.phase = 'finishing';
      this.stopTicker();
      this.pump();
    }
    return this.closed;
  }

  /** The client has gone: no more writes, no timer left. */
  abort(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.stopTicker();
    if (this.typingTimer !== null) this.clock.clearTimeout(this.typingTimer);
    this.typingTimer = null;
    this.queue.length = 0;
    this.resolveClosed();
  }

  private stopTicker(): void {
    if (this.tickTimer !== null) this.clock.clearTimeout(this.tickTimer);
    this.tickTimer = null;
    this.tickWaiting = false;
  }

  private scheduleTick(): void {
    this.tickTimer = this.clock.setTimeout(() => {
      this.tickTimer = null;
      if (this.phase !== 'loading') return;
      this.scheduleTick();
      if (this.typingTimer !== null || this.queue.length > 0) this.tickWaiting = true;
      else this.tick();
    }, this.tickMs);
  }

  /** One tick: a queue update, else a changed wait reason, else a remark when due, else a dot. */
  private tick(): void {
    const reason = this.opts.waitReason?.() ?? null;
    if (reason !== null && reason !== this.shownReason) this.pendingReason = reason;
    if (this.pendingPosition !== null) {
      this.update(`Queue position: #${this.pendingPosition}`);
      this.pendingPosition = null;
    } else if (this.pendingReason !== null) {
      this.shownReason = this.pendingReason;
      this.update(`Status: ${this.pendingReason}`);
      this.pendingReason = null;
    } else if (this.clock.now() - this.lastRemarkAt >= this.nextRemarkInMs && this.remarks.length > 0) {
      this.update(this.remarks[this.remarkIndex++ % this.remarks.length]!);
    } else {
      this.data('.');
    }
    this.pump();
  }

  /** An update or remark on a line of its own; the next remark is due 5 to 9 s after it. */
  private update(text: string): void {
    this.data('\n');
    this.typed(text);
    this.data(' ');
    this.call(() => {
      this.lastRemarkAt = this.clock.now();
      this.nextRemarkInMs = (5 + Math.floor(this.random() * 5)) * 1000;
    });
  }

  private line(text: string): void {
    this.typed(text);
    this.data('\n');
  }

  private data(text: string): void {
    this.queue.push({ kind: 'data', text });
  }

  private typed(text: string): void {
    this.queue.push({ kind: 'typed', runes: [...text] });
  }

  private call(fn: () => void): void {
    this.queue.push({ kind: 'call', fn });
  }

  /** Writes what is queued until a typing pause; then a waiting tick, or the closing lines. */
  private pump(): void {
    for (;;) {
      if (this.phase === 'closed' || this.typingTimer !== null) return;
      const piece = this.queue.shift();
      if (piece === undefined) {
        if (this.phase === 'loading' && this.tickWaiting) {
          this.tickWaiting = false;
          this.tick();
          return;
        }
        if (this.phase === 'finishing') {
          if (this.closingQueued) {
            this.phase = 'closed';
            this.resolveClosed();
            return;
          }
          // Timed here, after any remark being typed is done (Go measures after its loop ends).
          this.closingQueued = true;
          this.data('\n');
          this.line(`Done! (${goSeconds(this.clock.now() - this.startedAt)}s)`);
          this.line(SEPARATOR);
          this.line(' ');
          continue;
        }
        return;
      }
      if (piece.kind === 'call') {
        piece.fn();
        continue;
      }
      if (piece.kind === 'data') {
        this.opts.write(loadingFrame(piece.text));
        continue;
      }
      const chunk = piece.runes.slice(0, this.chunkRunes);
      this.opts.write(loadingFrame(chunk.join('')));
      if (piece.runes.length > chunk.length) {
        this.queue.unshift({ kind: 'typed', runes: piece.runes.slice(chunk.length) });
        if (this.charsPerSecond > 0) {
          this.typingTimer = this.clock.setTimeout(() => {
            this.typingTimer = null;
            this.pump();
          }, (chunk.length * 1000) / this.charsPerSecond);
        }
      }
    }
  }
}
