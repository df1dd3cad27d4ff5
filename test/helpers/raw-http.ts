/**
 * A raw HTTP/1.1 client on one TCP connection, for client behaviours no library produces:
 * pipelined requests, waiting for `100 Continue`, half-closing, trickling bytes. It parses
 * every response the server sends on the connection, interim ones (1xx) included, in order.
 */
import net from 'node:net';

export interface ParsedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses as many complete responses as `buf` holds; returns them and the bytes used. */
function parseResponses(buf: Buffer, closed: boolean): { responses: ParsedResponse[]; used: number } {
  const responses: ParsedResponse[] = [];
  let at = 0;
  for (;;) {
    const headEnd = buf.indexOf('\r\n\r\n', at, 'latin1');
    if (headEnd < 0) break;
    const [statusLine = '', ...lines] = buf.subarray(at, headEnd).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? NaN);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    let bodyStart = headEnd + 4;
    if (status >= 100 && status < 200) {
      responses.push({ status, headers, body: '' });
      at = bodyStart;
      continue;
    }
    let body: Buffer;
    if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      const parts: Buffer[] = [];
      let p = bodyStart;
      let done = false;
      for (;;) {
        const eol = buf.indexOf('\r\n', p, 'latin1');
        if (eol < 0) break;
        const size = parseInt(buf.subarray(p, eol).toString('latin1'), 16);
        if (size === 0) {
          const end = buf.indexOf('\r\n', eol + 2, 'latin1'); // no trailers expected
          if (end < 0) break;
          p = end + 2;
          done = true;
          break;
        }
        if (eol + 2 + size + 2 > buf.length) break;
        parts.push(buf.subarray(eol + 2, eol + 2 + size));
        p = eol + 2 + size + 2;
      }
      if (!done) break;
      body = Buffer.concat(parts);
      bodyStart = p;
    } else if (headers['content-length'] !== undefined) {
      const len = Number(headers['content-length']);
      if (bodyStart + len > buf.length) break;
      body = buf.subarray(bodyStart, bodyStart + len);
      bodyStart += len;
    } else if (status === 204 || status === 304) {
      body = Buffer.alloc(0);
    } else {
      if (!closed) break; // read until close
      body = buf.subarray(bodyStart);
      bodyStart = buf.length;
    }
    responses.push({ status, headers, body: body.toString('utf8') });
    at = bodyStart;
  }
  return { responses, used: at };
}

export class RawConnection {
  readonly socket: net.Socket;
  private buf = Buffer.alloc(0);
  private all: Buffer[] = [];
  private parsed: ParsedResponse[] = [];
  private closedFlag = false;
  private readonly waiters = new Set<() => void>();

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.all.push(d);
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closedFlag = true;
      this.parse();
    });
  }

  /** Connects to the server at `url` (only its port is used; always 127.0.0.1). */
  static open(url: string): Promise<RawConnection> {
    const socket = net.connect(Number(new URL(url).port), '127.0.0.1');
    const conn = new RawConnection(socket);
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(conn));
      socket.once('error', reject);
    });
  }

  private parse(): void {
    const { responses, used } = parseResponses(this.buf, this.closedFlag);
    if (used > 0) this.buf = this.buf.subarray(used);
    this.parsed.push(...responses);
    for (const w of this.waiters) w();
  }

  /** Everything received so far, as latin1 text (complete responses or not). */
  get received(): string {
    return Buffer.concat(this.all).toString('latin1');
  }

  /** Every response received so far, interim ones included, in order. */
  get responses(): readonly ParsedResponse[] {
    return this.parsed;
  }

  /** Final (non-1xx) responses received so far. */
  get finals(): ParsedResponse[] {
    return this.parsed.filter((r) => r.status >= 200);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Sends FIN: the client will send nothing more but still reads. */
  halfClose(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Resolves once `pred` holds (checked on every byte received and on close), or rejects after `timeoutMs`. */
  until(pred: (c: RawConnection) => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    if (pred(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pred(this)) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.parsed.map((r) => r.status))}, closed=${this.closedFlag}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  /** Waits for `n` final responses. */
  finalsAtLeast(n: number, timeoutMs?: number): Promise<ParsedResponse[]> {
    return this.until((c) => c.finals.length >= n, `${n} final responses`, timeoutMs).then(() => this.finals);
  }

  /** Waits until the server closed the connection. */
  whenClosed(timeoutMs?: number): Promise<void> {
    return this.until((c) => c.closed, 'the connection to close', timeoutMs);
  }
}

/** One request's bytes: `head` lines plus an optional body (Content-Length added unless given). */
export function rawRequest(
  method: string,
  target: string,
  headers: Record<string, string> = {},
  body?: string | Buffer,
): Buffer {
  const lines = [`${method} ${target} HTTP/1.1`];
  const all: Record<string, string> = { Host: '127.0.0.1', ...headers };
  const lower = new Set(Object.keys(all).map((k) => k.toLowerCase()));
  if (body !== undefined && !lower.has('content-length') && !lower.has('transfer-encoding')) {
    all['Content-Length'] = String(Buffer.byteLength(body));
  }
  for (const [k, v] of Object.entries(all)) lines.push(`${k}: ${v}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return body === undefined ? head : Buffer.concat([head, typeof body === 'string' ? Buffer.from(body, 'utf8') : body]);
}

/** A JSON POST to a model route (chat by default). */
export function rawChat(model: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}, path = '/v1/chat/completions'): Buffer {
  return rawRequest('POST', path, { 'Content-Type': 'application/json', ...headers }, JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], ...extra }));
}

/** The raw connections a test opens, destroyed together after it. */
export class RawConnections {
  private readonly opened: RawConnection[] = [];

  /** @param url the server's URL, read when a connection is opened. */
  constructor(private readonly url: () => string) {}

  async open(): Promise<RawConnection> {
    const c = await RawConnection.open(this.url());
    this.opened.push(c);
    return c;
  }

  destroyAll(): void {
    for (const c of this.opened.splice(0)) c.destroy();
  }
}
