/**
 * One `/api/events` client: llama-swap's frame format and a bound on what it may buffer.
 *
 * Frames are `event:message\ndata:<json>\n\n` with json = `{"type":T,"data":"<string>"}`:
 * the payload is JSON encoded a second time, as a string (reference 3.11; the UI parses it
 * twice). A client that does not read loses messages rather than growing the server's memory.
 */
import type { ServerResponse } from 'node:http';

/** Past this many unsent bytes a client's messages are dropped (llama-swap: 1024 messages). */
export const MAX_BUFFERED_BYTES = 1024 * 1024;

export function sseFrame(type: string, data: string): string {
  return `event:message\ndata:${JSON.stringify({ type, data })}\n\n`;
}

export class SseClient {
  /** The last `state` payload sent (its JSON without `at`), to skip unchanged ones. */
  lastState: string | null = null;
  private warned = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly warn: (message: string) => void,
  ) {}

  send(type: string, data: string): void {
    this.write(sseFrame(type, data));
  }

  /** Writes a frame unless the stream has ended (a write after end would emit an error). */
  write(frame: string): void {
    const res = this.res;
    if (res.writableEnded || res.destroyed) return;
    if (res.writableLength > MAX_BUFFERED_BYTES) {
      if (!this.warned) {
        this.warned = true;
        this.warn(`/api/events: a client is not reading; dropping its messages while over ${MAX_BUFFERED_BYTES} bytes buffered`);
      }
      return;
    }
    res.write(frame);
  }
}
