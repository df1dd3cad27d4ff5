/**
 * An error that knows its HTTP answer. Only the catalogue (error-catalogue.ts) makes them, so
 * every status, message, type and code a client can see is written down in one place; only
 * `sendError` (error-response.ts) turns one into bytes, so the wire format is in one place too.
 */

/** Options of an {@link HttpError} beyond status and message. */
export interface HttpErrorOptions {
  /** Envelope `code`; defaults from the status table (error-catalogue.ts). */
  code?: string;
  /** Envelope `type`; defaults from the status table. */
  type?: string;
  /** Extra response headers (`WWW-Authenticate`, `Retry-After`, `Allow`, ...). */
  headers?: Record<string, string>;
  /**
   * Go's mux answers unmatched routes and unparsable targets in plain text, whatever the
   * client accepts: the body is the message as is, with no `swapstate: ` prefix.
   */
  plain?: boolean;
  cause?: unknown;
}

export class HttpError extends Error {
  readonly status: number;
  readonly code?: string;
  readonly type?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly plain: boolean;

  constructor(status: number, message: string, opts: HttpErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'HttpError';
    this.status = status;
    this.plain = opts.plain === true;
    if (opts.code !== undefined) this.code = opts.code;
    if (opts.type !== undefined) this.type = opts.type;
    if (opts.headers !== undefined) this.headers = { ...opts.headers };
  }
}
