/**
 * XState inspection of the whole actor tree (scheduler, processes, swaps), chosen by
 * `--inspect` or the config key `inspect`:
 *
 * - `off` (default): nothing; inspection roughly halves the actors' event throughput;
 * - `log`: events and state changes as debug lines in swapstate's log;
 * - `ws://host:port`: the Stately inspector protocol over a WebSocket, through
 *   @statelyai/inspect (an optional dependency, loaded only then). Point it at
 *   `npx @statelyai/inspect` or any receiver of that protocol.
 *
 * What leaves the process is sanitised: actor refs (the `replyTo` of protocol events, the
 * waiter lists in process context) become their ids. Requests are never in events or
 * context: only ids and model names are.
 */
import type { AnyActorRef, InspectionEvent, Observer } from 'xstate';
import type { Logger } from 'winston';
import type { InspectMode } from '../config/inspect-mode.ts';

export interface Inspection {
  inspect: Observer<InspectionEvent> | undefined;
  stop(): void;
}

function isRef(v: unknown): v is AnyActorRef {
  return typeof v === 'object' && v !== null && 'sessionId' in v && typeof (v as { send?: unknown }).send === 'function';
}

/** Replaces actor refs (anywhere, one level of arrays deep) by their ids. */
function sanitize<T extends Record<string, unknown>>(obj: T): T {
  // Promise and callback actors have no context at all.
  if (typeof obj !== 'object' || obj === null) return obj;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (isRef(v)) out[k] = v.id;
    else if (Array.isArray(v)) out[k] = v.map((x) => (isRef(x) ? x.id : x));
    else out[k] = v;
  }
  return out as T;
}

export const sanitizeEvent = sanitize;
export const sanitizeContext = sanitize;

export async function createInspection(mode: InspectMode, logger: Logger): Promise<Inspection> {
  if (mode === 'off') return { inspect: undefined, stop: () => {} };
  if (mode === 'log') {
    const last = new Map<string, string>();
    return {
      inspect: {
        next: (e: InspectionEvent) => {
          const id = (e.actorRef as AnyActorRef).id;
          if (e.type === '@xstate.event') {
            logger.debug(`inspect: ${id} <- ${e.event.type}${e.sourceRef ? ` from ${(e.sourceRef as AnyActorRef).id}` : ''}`);
          } else if (e.type === '@xstate.snapshot') {
            const value = JSON.stringify((e.snapshot as { value?: unknown }).value ?? null);
            if (last.get(id) !== value) {
              last.set(id, value);
              logger.debug(`inspect: ${id} is ${value}`);
            }
          } else if (e.type === '@xstate.actor') {
            logger.debug(`inspect: actor ${id} started`);
          }
        },
      },
      stop: () => {},
    };
  }
  const { createWebSocketInspector } = await import('@statelyai/inspect');
  const inspector = createWebSocketInspector({ url: mode, sanitizeEvent, sanitizeContext });
  return { inspect: inspector.inspect, stop: () => inspector.stop() };
}
