/**
 * A reader of swapstate's `/api/events` stream for tests: collects every frame as it arrives,
 * parsed twice (the envelope, then its JSON-encoded `data` string), and waits for frames.
 */
import { until } from './real-upstreams.ts';

export interface SseFrame {
  /** The frame's bytes, without the blank line that ends it. */
  raw: string;
  type: string;
  /** The envelope's `data` string, as sent. */
  dataText: string;
  /** `dataText` parsed. */
  data: unknown;
  /** performance.now() when it arrived. */
  at: number;
}

export class SseReader {
  readonly frames: SseFrame[] = [];
  /** Frames not of llama-swap's form (a test expects none). */
  readonly malformed: string[] = [];
  ended = false;
  private constructor(
    readonly response: Response,
    private readonly abort: AbortController,
  ) {}

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const ac = new AbortController();
    const response = await fetch(`${url}/api/events`, { headers, signal: ac.signal });
    const reader = new SseReader(response, ac);
    void reader.pump();
    return reader;
  }

  private async pump(): Promise<void> {
    const body = this.response.body;
    if (!body) {
      this.ended = true;
      return;
    }
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of body) {
        buf += decoder.decode(chunk as Uint8Array, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n\n')) !== -1) {
          const raw = buf.slice(0, i);
          buf = buf.slice(i + 2);
          try {
            this.frames.push(parseFrame(raw));
          } catch {
            this.malformed.push(raw);
          }
        }
      }
    } catch {
      /* aborted by close(), or cut by the server */
    }
    this.ended = true;
  }

  /** Frames of one type (from index `from` of all frames). */
  ofType(type: string, from = 0): SseFrame[] {
    return this.frames.slice(from).filter((f) => f.type === type);
  }

  /** The first frame from index `from` on that satisfies `pred`, once it has arrived. */
  async waitFor(what: string, pred: (f: SseFrame) => boolean, from = 0, timeoutMs = 15_000): Promise<SseFrame> {
    let hit: SseFrame | undefined;
    await until(() => (hit = this.frames.slice(from).find(pred)) !== undefined, what, timeoutMs);
    return hit!;
  }

  close(): void {
    this.abort.abort();
  }
}

function parseFrame(raw: string): SseFrame {
  const lines = raw.split('\n');
  if (lines.length !== 2 || lines[0] !== 'event:message' || !lines[1]!.startsWith('data:')) {
    throw new Error(`malformed frame: ${JSON.stringify(raw)}`);
  }
  const envelope = JSON.parse(lines[1]!.slice('data:'.length)) as { type: string; data: unknown };
  if (typeof envelope.data !== 'string') throw new Error(`data is not a JSON-encoded string: ${raw}`);
  return { raw, type: envelope.type, dataText: envelope.data, data: JSON.parse(envelope.data), at: performance.now() };
}
