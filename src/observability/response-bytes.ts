/**
 * The body bytes a response has written, counted as they are written: for the access log
 * line and the in-flight tracker's `resp_bytes` alike (llama-swap counts body bytes).
 *
 * One counter per response, installed on first use: `write` and `end` get own-property
 * wrappers that add the chunk's length and call the original. That is the only per-chunk
 * work, an addition; reading `socket.bytesWritten` instead walks the socket's write queue.
 * The counter also notes when the first body byte was written (time to first byte, /metrics).
 *
 * The same wrappers hand each chunk to `tap`, when one is set (the activity recorder reads
 * token usage from the body as it passes: activity-recorder.ts). The chunk goes on to the
 * client unchanged and at once; the tap only looks.
 */
import type { ServerResponse } from 'node:http';
import { ABLATED } from '../perf/ablate.ts';

export interface ByteCounter {
  bytes: number;
  /** performance.now() when the first body byte was written; 0 until then. */
  firstByteAt: number;
  /** Sees every body chunk, with its encoding when it is a string; must not throw. */
  tap: ((chunk: string | Uint8Array, encoding: unknown) => void) | null;
}

const counters = new WeakMap<ServerResponse, ByteCounter>();

/** The response's counter, installed now if it has none yet. */
export function responseBytes(res: ServerResponse): ByteCounter {
  let counter = counters.get(res);
  if (counter) return counter;
  const c: ByteCounter = { bytes: 0, firstByteAt: 0, tap: null };
  counter = c;
  counters.set(res, c);
  if (ABLATED.bytes) return c; // a benchmark's ablation (perf/ablate.ts): nothing counted
  const write = res.write;
  const end = res.end;
  res.write = function (this: ServerResponse, chunk: unknown, encoding?: unknown) {
    c.bytes += byteLength(chunk);
    if (c.firstByteAt === 0 && c.bytes > 0) c.firstByteAt = performance.now();
    if (c.tap !== null && (typeof chunk === 'string' || chunk instanceof Uint8Array)) c.tap(chunk, encoding);
    // eslint-disable-next-line prefer-rest-params
    return write.apply(this, arguments as unknown as Parameters<ServerResponse['write']>);
  } as ServerResponse['write'];
  res.end = function (this: ServerResponse, chunk?: unknown, encoding?: unknown) {
    if (typeof chunk !== 'function') c.bytes += byteLength(chunk);
    if (c.firstByteAt === 0 && c.bytes > 0) c.firstByteAt = performance.now();
    if (c.tap !== null && (typeof chunk === 'string' || chunk instanceof Uint8Array)) c.tap(chunk, encoding);
    // eslint-disable-next-line prefer-rest-params
    return end.apply(this, arguments as unknown as Parameters<ServerResponse['end']>);
  } as ServerResponse['end'];
  return c;
}

function byteLength(chunk: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk);
  return chunk instanceof Uint8Array ? chunk.length : 0;
}
