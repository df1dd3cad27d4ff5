/**
 * Reading a request body within two bounds: `maxRequestBodyBytes` for one body, and the
 * server's {@link BodyBudget} for all bodies held at once.
 *
 * - A body over the per-request bound is refused with 413 without being buffered whole:
 *   reading stops at the first byte past it (or before the first, when its declared length
 *   says so).
 * - A body the budget cannot take is refused with 503 and `Retry-After` before it is read
 *   (a chunked one, whose length nobody knows, as soon as it no longer fits); what is
 *   already in flight is never affected.
 * - A client waiting for `100 Continue` is told to send only once both checks passed.
 * - A client that goes away before its body is complete ends the request quietly: it is not
 *   a server error, and nothing was granted (the body is read before the scheduler is asked
 *   for a slot).
 *
 * An accepted body stays counted in the budget until its response closes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BodyBudget } from './body-budget.ts';
import { httpErrors } from './error-catalogue.ts';
import { sendError } from './error-response.ts';
import { continueBody } from './expect-continue.ts';
import { watch, type CloseHook } from '../observability/response-observer.ts';

export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`request body exceeds the limit of ${limit} bytes`);
  }
}

/** The body would take the server past its budget for bodies held in memory. */
export class BodyBudgetExceeded extends Error {
  constructor(
    readonly used: number,
    readonly capacity: number,
  ) {
    super(`request bodies held in memory would exceed maxBufferedRequestBytes (${capacity} bytes)`);
  }
}

/** The client closed the connection before its request body was complete. */
export class ClientGone extends Error {
  constructor() {
    super('client closed the connection before sending its whole request body');
  }
}

export interface BodyLimits {
  /** The largest body one request may send (`maxRequestBodyBytes`). */
  maxBytes: number;
  budget: BodyBudget;
}

const EMPTY = Buffer.alloc(0);

/** What one body holds of the budget, given back when its response closes. */
class BudgetShare implements CloseHook {
  private counted = 0;

  constructor(private readonly budget: BodyBudget) {}

  take(bytes: number): boolean {
    if (!this.budget.tryReserve(bytes)) return false;
    this.counted += bytes;
    return true;
  }

  onResponseClose(): void {
    this.budget.release(this.counted);
  }
}

/**
 * Reads `req` fully, or rejects with BodyTooLarge, BodyBudgetExceeded or ClientGone. It
 * always settles; whatever it counted in the budget is given back when `res` closes.
 */
export function readBody(req: IncomingMessage, res: ServerResponse, limits: BodyLimits): Promise<Buffer> {
  const { maxBytes, budget } = limits;
  // Node refuses a request with both headers, and one with a malformed length: a body is
  // either chunked (its length unknown) or exactly as long as it says (none: 0).
  const known = req.headers['transfer-encoding'] === undefined;
  const declared = known ? Number(req.headers['content-length'] ?? 0) : 0;
  if (declared > maxBytes) return Promise.reject(new BodyTooLarge(maxBytes));
  if (req.complete && req.readableEnded) return Promise.resolve(EMPTY);
  if (req.destroyed) return Promise.reject(new ClientGone());

  // A declared length is counted whole before a byte is read; a chunked body chunk by
  // chunk, and refused at once if the budget is already spent.
  const share = new BudgetShare(budget);
  const count = (bytes: number): boolean => share.take(bytes);
  if (known ? !count(declared) : budget.used >= budget.capacity) {
    return Promise.reject(new BodyBudgetExceeded(budget.used, budget.capacity));
  }
  if (!known || declared > 0) {
    const o = watch(res);
    // Given back when the response closes (response-observer.ts); a second body read on one
    // response (none today) would keep its own listener.
    if (o.bodyBudget === null) o.bodyBudget = share;
    else res.once('close', () => share.onResponseClose());
    continueBody(req); // a client waiting for 100 Continue may send its body now
  }

  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) return fail(new BodyTooLarge(maxBytes));
      if (!known && !count(chunk.length)) return fail(new BodyBudgetExceeded(budget.used, budget.capacity));
      chunks.push(chunk);
    };
    const fail = (err: Error) => {
      cleanup();
      req.resume(); // discard the rest without keeping it
      reject(err);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      // Node reports a connection closed mid-body as an "aborted" ECONNRESET error.
      reject(req.destroyed || (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? new ClientGone() : err);
    };
    const onClose = () => {
      cleanup();
      reject(new ClientGone());
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * Reads the body within `limits`; past them, answers 413 or 503 in the error envelope (and
 * closes the connection, whose unread rest is discarded) and returns null. Null too, without
 * an answer, when the client went away before its body was complete.
 */
export async function readBodyOrRefuse(req: IncomingMessage, res: ServerResponse, limits: BodyLimits): Promise<Buffer | null> {
  try {
    return await readBody(req, res, limits);
  } catch (err) {
    if (err instanceof ClientGone) {
      res.destroy();
      return null;
    }
    if (err instanceof BodyTooLarge) {
      res.setHeader('Connection', 'close');
      sendError(req, res, httpErrors.payloadTooLarge(err.limit));
      return null;
    }
    if (err instanceof BodyBudgetExceeded) {
      res.setHeader('Connection', 'close');
      sendError(req, res, httpErrors.tooManyBufferedBodies(err.capacity));
      return null;
    }
    throw err;
  }
}
