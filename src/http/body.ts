/**
 * Reading a request body with a size bound. A body over the bound is refused without being
 * buffered whole: reading stops at the first byte past it. A client that goes away before its
 * body is complete ends the request quietly: it is not a server error, and nothing was granted
 * (the body is read before the scheduler is asked for a slot).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { payloadTooLarge, sendError } from './errors.ts';

export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`request body exceeds the limit of ${limit} bytes`);
  }
}

/** The client closed the connection before its request body was complete. */
export class ClientGone extends Error {
  constructor() {
    super('client closed the connection before sending its whole request body');
  }
}

/**
 * Reads `req` fully, or rejects with BodyTooLarge once more than `limit` bytes arrived, or with
 * ClientGone when the connection closes first. It always settles.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLarge(limit));
  if (req.complete && req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  if (req.destroyed) return Promise.reject(new ClientGone());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.resume(); // discard the rest without keeping it
        reject(new BodyTooLarge(limit));
        return;
      }
      chunks.push(chunk);
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
 * Reads the body within `limit`; past it, answers 413 in the error envelope (and closes the
 * connection, whose unread rest is discarded) and returns null. Null too, without an answer,
 * when the client went away before its body was complete.
 */
export async function readBodyOrRefuse(req: IncomingMessage, res: ServerResponse, limit: number): Promise<Buffer | null> {
  try {
    return await readBody(req, limit);
  } catch (err) {
    if (err instanceof ClientGone) {
      res.destroy();
      return null;
    }
    if (!(err instanceof BodyTooLarge)) throw err;
    res.setHeader('Connection', 'close');
    sendError(req, res, payloadTooLarge(err.limit));
    return null;
  }
}
