/**
 * Request/response captures (reference 7.4), kept when `captureBuffer` (MB) is above 0: a FIFO
 * cache bounded by bytes, where the oldest captures go to make room and a capture larger than
 * the whole cache is not kept at all. Captures hold prompts and answers, so swapstate keeps
 * none unless asked (`captureBuffer` defaults to 0; llama-swap's to 5).
 *
 * llama-swap stores each capture zstd-compressed CBOR; here they are plain buffers (Node 20
 * has no zstd), so a megabyte of `captureBuffer` holds fewer of them.
 */

/** What a route keeps of its exchanges: the request's headers and body, the response's. */
export const CAPTURE_REQ_HEADERS = 1;
export const CAPTURE_REQ_BODY = 2;
export const CAPTURE_RESP_HEADERS = 4;
export const CAPTURE_RESP_BODY = 8;
const ALL = CAPTURE_REQ_HEADERS | CAPTURE_REQ_BODY | CAPTURE_RESP_HEADERS | CAPTURE_RESP_BODY;

/** Routes with large binary bodies keep less (llama-swap's table); every other route keeps all. */
const MASKS: Readonly<Record<string, number>> = {
  '/v1/audio/speech': CAPTURE_REQ_HEADERS | CAPTURE_REQ_BODY | CAPTURE_RESP_HEADERS,
  '/v1/audio/voices': CAPTURE_REQ_HEADERS | CAPTURE_RESP_HEADERS | CAPTURE_RESP_BODY,
  '/v1/audio/transcriptions': CAPTURE_REQ_HEADERS | CAPTURE_RESP_HEADERS | CAPTURE_RESP_BODY,
  '/v1/images/generations': CAPTURE_REQ_HEADERS | CAPTURE_REQ_BODY | CAPTURE_RESP_HEADERS,
  '/v1/images/edits': CAPTURE_REQ_HEADERS | CAPTURE_RESP_HEADERS,
  '/sdapi/v1/txt2img': CAPTURE_REQ_HEADERS | CAPTURE_REQ_BODY | CAPTURE_RESP_HEADERS,
  '/sdapi/v1/img2img': CAPTURE_REQ_HEADERS | CAPTURE_RESP_HEADERS,
};

/** The capture mask of a model route's path (the path the model route has, `/upstream/<m>` removed). */
export function captureFieldsFor(path: string): number {
  return MASKS[path] ?? ALL;
}

/** One capture, as `GET /api/captures/<id>` returns it (bodies base64, as Go encodes []byte). */
export interface Capture {
  id: number;
  req_path: string;
  req_headers: Record<string, string> | null;
  req_body: Buffer | null;
  resp_headers: Record<string, string> | null;
  resp_body: Buffer | null;
}

/** A capture's JSON (Go's: a nil map or []byte is `null`, a []byte base64). */
export function captureJson(c: Capture): Record<string, unknown> {
  return {
    id: c.id,
    req_path: c.req_path,
    req_headers: c.req_headers,
    req_body: c.req_body === null ? null : c.req_body.toString('base64'),
    resp_headers: c.resp_headers,
    resp_body: c.resp_body === null ? null : c.resp_body.toString('base64'),
  };
}

/** About what a capture holds in memory: its bodies and header text. */
export function captureSize(c: Capture): number {
  let n = c.req_path.length + (c.req_body?.length ?? 0) + (c.resp_body?.length ?? 0);
  for (const h of [c.req_headers, c.resp_headers]) if (h) for (const [k, v] of Object.entries(h)) n += k.length + v.length;
  return n;
}

export class CaptureCache {
  private readonly items = new Map<number, { capture: Capture; size: number }>();
  private bytes = 0;

  /** `capacity()` in bytes, read on each add: a reload's new `captureBuffer` applies at once. */
  constructor(private readonly capacity: () => number) {}

  /** Whether captures are kept at all. */
  get enabled(): boolean {
    return this.capacity() > 0;
  }

  /** Keeps `c`, dropping the oldest to make room; false (nothing kept) when it alone is too big. */
  add(c: Capture): boolean {
    const cap = this.capacity();
    const size = captureSize(c);
    if (cap <= 0 || size > cap) return false;
    const old = this.items.get(c.id);
    if (old) {
      this.items.delete(c.id);
      this.bytes -= old.size;
    }
    for (const [id, item] of this.items) {
      if (this.bytes + size <= cap) break;
      this.items.delete(id);
      this.bytes -= item.size;
    }
    this.items.set(c.id, { capture: c, size });
    this.bytes += size;
    return true;
  }

  get(id: number): Capture | null {
    return this.items.get(id)?.capture ?? null;
  }

  has(id: number): boolean {
    return this.items.has(id);
  }

  /** Bytes held (for tests and inspection). */
  get size(): number {
    return this.bytes;
  }
}
