/**
 * One observer per response (issue 16): everything that watches a response hangs off it,
 * instead of each part adding its own `close` listener, closures and write wrappers.
 *
 * - The body bytes written, counted as they are written: for the access log line and the
 *   in-flight tracker's `resp_bytes` alike (llama-swap counts body bytes). Reading
 *   `socket.bytesWritten` instead walks the socket's write queue.
 * - When the first body byte was written (time to first byte, /metrics).
 * - A tap that sees each chunk as it passes (the activity recorder reads token usage from
 *   the body: activity-recorder.ts). The chunk goes on to the client unchanged and first;
 *   the tap only looks, after it was written.
 * - What runs when the response closes, in this order: the access log line, the body
 *   budget's release, the activity row, the scheduler ticket's cancel (a client that left
 *   unfinished), the forward's own close handling (lean-forward.ts).
 *
 * Installed on first use: `write` and `end` get own-property wrappers, the same two shared
 * functions for every response (no closure per response); on the first close hook, one
 * `close` listener, also shared. The parts are plain fields: a part that is not there costs a null check.
 */
import type { ServerResponse } from 'node:http';
import { ABLATED } from '../perf/ablate.ts';

/** Sees every body chunk, with its encoding when it is a string; must not throw. */
export interface ChunkTap {
  onChunk(chunk: string | Uint8Array, encoding: unknown): void;
}

/** Runs once, when the response closes; must not throw. */
export interface CloseHook {
  onResponseClose(res: ServerResponse): void;
}

/** The activity row's hook: its close, and the scheduler's grant. */
export interface ActivityHook extends CloseHook {
  /** The request was granted; `fifoPriority` is its model's `fifo.priority` (0 when unset). */
  granted(fifoPriority: number): void;
}

/** The part of a scheduler ticket the observer needs. */
export interface Cancellable {
  cancel(): void;
}

const OBSERVER = Symbol('swapstate.responseObserver');

type Observed = ServerResponse & { [OBSERVER]?: ResponseObserver };

export class ResponseObserver {
  /** Body bytes written so far. */
  bytes = 0;
  /** performance.now() when the first body byte was written; 0 until then. */
  firstByteAt = 0;
  tap: ChunkTap | null = null;
  /** The access log line (access-log.ts), written first. */
  accessLog: CloseHook | null = null;
  /** The request body's share of the body budget, given back (body.ts). */
  bodyBudget: CloseHook | null = null;
  /** The activity row (activity-recorder.ts). */
  activity: ActivityHook | null = null;
  /** Cancelled when the client leaves before the response finished (serve-model.ts). */
  ticket: Cancellable | null = null;
  /** The forward's close handling (lean-forward.ts). */
  forward: CloseHook | null = null;
  /** Its `close` listener is installed ({@link watch}). */
  watching = false;
  /** The response's own `write` and `end`, which the wrappers call. */
  readonly write: ServerResponse['write'];
  readonly end: ServerResponse['end'];

  constructor(res: ServerResponse) {
    this.write = res.write;
    this.end = res.end;
  }

  count(chunk: unknown, encoding: unknown): void {
    let n = 0;
    if (typeof chunk === 'string') n = Buffer.byteLength(chunk);
    else if (chunk instanceof Uint8Array) n = chunk.length;
    else return;
    this.bytes += n;
    if (this.firstByteAt === 0 && n > 0) this.firstByteAt = performance.now();
    if (this.tap !== null) this.tap.onChunk(chunk, encoding);
  }

  closed(res: ServerResponse): void {
    this.accessLog?.onResponseClose(res);
    this.bodyBudget?.onResponseClose(res);
    this.activity?.onResponseClose(res);
    if (this.ticket !== null && !res.writableFinished) this.ticket.cancel();
    this.forward?.onResponseClose(res);
  }
}

function observedWrite(this: Observed, chunk: unknown, encoding?: unknown): boolean {
  const o = this[OBSERVER]!;
  // The chunk goes first, then it is counted and tapped: the tap only looks, and a cold one
  // (the activity row's usage scan, after a moment of idle) held a stream's first chunk back
  // by ~40 µs (issue 16). Nothing reads the count before the response closes.
  // eslint-disable-next-line prefer-rest-params
  const ok = o.write.apply(this, arguments as unknown as Parameters<ServerResponse['write']>);
  o.count(chunk, encoding);
  return ok;
}

function observedEnd(this: Observed, chunk?: unknown, encoding?: unknown): ServerResponse {
  const o = this[OBSERVER]!;
  if (typeof chunk !== 'function') o.count(chunk, encoding);
  // eslint-disable-next-line prefer-rest-params
  return o.end.apply(this, arguments as unknown as Parameters<ServerResponse['end']>);
}

function onClose(this: Observed): void {
  this[OBSERVER]?.closed(this);
}

/**
 * The response's observer, installed now if it has none yet: its byte counter, first byte
 * and tap. Nothing runs at close until {@link watch} (the in-flight tracker only counts).
 */
export function observe(res: ServerResponse): ResponseObserver {
  const r = res as Observed;
  let o = r[OBSERVER];
  if (o !== undefined) return o;
  o = new ResponseObserver(res);
  r[OBSERVER] = o;
  if (ABLATED.bytes) return o; // a benchmark's ablation (perf/ablate.ts): nothing counted
  res.write = observedWrite as ServerResponse['write'];
  res.end = observedEnd as ServerResponse['end'];
  return o;
}

/** The response's observer, with its one `close` listener installed (for the close hooks). */
export function watch(res: ServerResponse): ResponseObserver {
  const o = observe(res);
  if (!o.watching) {
    o.watching = true;
    // `close` is emitted once: a plain listener, no once-wrapper.
    res.on('close', onClose);
  }
  return o;
}
