/**
 * The request path with a loading stream (`sendLoadingState`, reference 3.14): taken by
 * serve-model.ts once a request is admitted, when {@link wantsLoadingStream} says so. The
 * client gets a 200 `text/event-stream` at once and the loading frames (loading-stream.ts)
 * while the scheduler swaps; then the upstream's answer in the same body (forward-into.ts).
 *
 * Once the 200 is sent, no failure can change the status: a failed load, a refused grant,
 * an upstream that cannot be reached or answers non-2xx is framed into the stream as an error
 * followed by `[DONE]`, as newer llama-swap does, so SSE clients see it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SchedError } from '../core/effects.ts';
import type { InflightHandle } from '../observability/inflight.ts';
import type { RequestObservation } from '../observability/request-metrics.ts';
import type { WaitingRequest } from '../core/waiting-reasons.ts';
import type { Ticket } from '../runtime/tickets.ts';
import type { AppDeps, ServerState } from './deps.ts';
import { httpErrors } from './error-catalogue.ts';
import { errorEnvelope } from './error-response.ts';
import { forwardInto } from './forward-into.ts';
import { noticeGrant } from './grant-notice.ts';
import type { HttpError } from './http-error.ts';
import { errorFrame, isLoadingPath, LoadingStream, type LoadingClock } from './loading-stream.ts';

/** What of the request the loading path needs (serve-model.ts's options). */
export interface LoadingRequest {
  model: string;
  body: Buffer;
  forwardPath: string;
  /** The client asked for a streamed answer (`"stream": true`; `?stream=true` on a query). */
  stream?: boolean;
}

/**
 * Whether an admitted request gets a loading stream: it asks for a stream, its model's
 * effective `sendLoadingState` is on, the path is a chat completion, and the model is not
 * serving right now (stopped, starting, asleep or waking all count as loading).
 */
export function wantsLoadingStream(state: ServerState, r: LoadingRequest): boolean {
  return (
    r.stream === true &&
    state.config.models[r.model]?.sendLoadingState === true &&
    isLoadingPath(r.forwardPath) &&
    !state.runtime.serving(r.model)
  );
}

/**
 * The scheduler's reason in the stream's words: without the queue position, which has its own
 * `Queue position: #N` line (and would make every move look like a new reason).
 */
export function waitText(w: WaitingRequest | null): string | null {
  if (w === null) return null;
  const suffix = `, position ${w.position}`;
  return w.position !== null && w.text.endsWith(suffix) ? w.text.slice(0, -suffix.length) : w.text;
}

export interface LoadingServeContext {
  ticket: Ticket;
  /** The error a scheduler refusal answers with (the same as without a loading stream). */
  refusal(e: SchedError): HttpError;
  tracked: InflightHandle | null;
  /** Its `/metrics` observation: told when the request is granted. */
  observed?: RequestObservation | undefined;
  /** Tests only: the stream's clock and random source. */
  clock?: LoadingClock;
  random?: () => number;
}

/** The error as a stream's last frames, then the end of the response. */
function endWithError(res: ServerResponse, json: string): void {
  if (!res.destroyed && !res.writableEnded) res.end(errorFrame(json));
}

/** An upstream's non-2xx body: its JSON as it is (compacted onto one line), else our envelope. */
function upstreamErrorJson(model: string, status: number, body: Buffer): string {
  const text = body.toString('utf8').trim();
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null) return JSON.stringify(parsed);
  } catch {
    /* not JSON: reported in our envelope below */
  }
  return errorEnvelope(httpErrors.upstreamStatusInStream(model, status, text.slice(0, 1024)));
}

/**
 * Serves an admitted request with a loading stream, from the 200 to the end of the response.
 * The caller keeps what it already does around it: cancelling the ticket when the client
 * leaves, and `ticket.done()` / the in-flight entry's end afterwards.
 */
export async function serveWithLoadingStream(
  req: IncomingMessage,
  res: ServerResponse,
  deps: AppDeps,
  state: ServerState,
  r: LoadingRequest,
  ctx: LoadingServeContext,
): Promise<void> {
  const { ticket } = ctx;
  // Set one by one, not passed to writeHead: getHeader() then sees them (the activity recorder
  // reads the content type to know the body is a stream).
  res.setHeader('Content-Type', 'text/event-stream');
  res.setHeader('Cache-Control', 'no-cache');
  // keep-alive as llama-swap says, unless this connection is to close (Node decides that).
  res.setHeader('Connection', res.shouldKeepAlive ? 'keep-alive' : 'close');
  // nginx and friends buffer SSE unless told not to (llama-swap #236; proxy.ts does the same).
  res.setHeader('X-Accel-Buffering', 'no');
  res.writeHead(200);
  res.flushHeaders();
  const stream = new LoadingStream({
    model: r.model,
    write: (frame) => {
      if (!res.destroyed && !res.writableEnded) res.write(frame);
    },
    waitReason: () => waitText(state.runtime.waitReason(ticket.reqId)),
    ...(ctx.clock ? { clock: ctx.clock } : {}),
    ...(ctx.random ? { random: ctx.random } : {}),
  });
  // The client left: no frame and no timer after that (serve-model.ts cancels the ticket).
  const onClose = () => stream.abort();
  res.on('close', onClose);
  ticket.onPosition((position) => stream.setPosition(position));
  const queuedAt = ticket.position();
  if (queuedAt !== null) stream.setPosition(queuedAt);
  stream.start();
  try {
    const grant = await ticket.grant;
    await stream.finish();
    if (res.destroyed) return;
    if (!grant.ok) return endWithError(res, errorEnvelope(ctx.refusal(grant.error)));
    noticeGrant(res, state, r.model, ctx.tracked, ctx.observed);
    const outcome = await forwardInto(req, res, {
      base: grant.upstream.base,
      path: r.forwardPath,
      body: r.body,
      agent: grant.upstream.agent,
    });
    if (outcome.kind === 'status') {
      deps.logs.logger.warn(`${r.model}: upstream answered ${outcome.status} after the loading stream`);
      endWithError(res, upstreamErrorJson(r.model, outcome.status, outcome.body));
    } else if (outcome.kind === 'failed') {
      deps.logs.logger.warn(`${r.model}: upstream error: ${outcome.error.message}`);
      if (outcome.responded) res.destroy();
      else endWithError(res, errorEnvelope(httpErrors.upstreamUnreachable(r.model, outcome.error.message)));
    }
  } finally {
    res.off('close', onClose);
    stream.abort();
  }
}
