/**
 * One swap: stop the evictees in parallel, then make the target ready. Also serves unloads
 * (no target). Its output is its done event to the scheduler.
 *
 * ```
 * evicting ──all PROCESS.STOPPED──▶ ensuring ──PROCESS.READY / FAILED──▶ done (final)
 *                                     │  └─ FAILED right after an eviction: retryWait ─▶ ensuring (once)
 *                                     └─ no target (unload) ───────────▶ done
 * ```
 *
 * The one retry is for llama-swap #97: a server that starts right after another one was
 * stopped can fail because the driver has not released the GPU memory yet.
 *
 * A swap never reads process state: it asks (STOP, ENSURE_READY) and waits for the answer,
 * because the process is the only one who may decide what a request means in its current
 * state (llama-swap #946). It has no timeout of its own: the process's health-check timeout
 * and stop grace bound every wait.
 */
import { assign, enqueueActions, setup, type ActorSystem, type AnyActorRef } from 'xstate';
import { processSystemId, type ProcessReply } from './process.protocol.ts';

export interface SwapInput {
  swapId: string;
  /** The model to make ready; null for an unload. */
  target: string | null;
  evict: string[];
  /** Grace for the evictees' stop; omitted, each uses its own unloadTimeout. */
  graceMs?: number | undefined;
}

export interface SwapOutput {
  swapId: string;
  target: string | null;
  evict: string[];
  error?: string;
  /** The target refused to start for a while (crash-loop backoff). */
  retryAfterMs?: number;
  /**
   * Set with `error` when the start failed right after evicting these models, was retried
   * once and failed again: the waiters waited for two attempts, and their answer says so.
   */
  retriedAfterEvicting?: string[];
}

/** Wait before the one retry of a start that failed right after an eviction. */
export const EVICTION_RETRY_DELAY_MS = 1_000;

interface SwapContext extends SwapInput {
  /** Evictees that have not confirmed their stop yet. */
  pending: string[];
  error: string | null;
  retryAfterMs: number | null;
  retried: boolean;
}

/** Processes are found by system id; a missing one is a model nobody configured. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function processRef(system: ActorSystem<any>, model: string): AnyActorRef | undefined {
  return system.get(processSystemId(model)) as AnyActorRef | undefined;
}

export const swapMachine = setup({
  types: {
    context: {} as SwapContext,
    events: {} as ProcessReply | { type: 'ABORT'; reason: string },
    input: {} as SwapInput,
    output: {} as SwapOutput,
  },
  actions: {
    stopEvictees: enqueueActions(({ context, enqueue, system, self }) => {
      const gone: string[] = [];
      for (const m of context.evict) {
        const ref = processRef(system, m);
        if (!ref) gone.push(m);
        // A swap to another model only needs their resources: sleep-enabled models may sleep.
        else enqueue.sendTo(ref, { type: 'STOP', replyTo: self, graceMs: context.graceMs, reason: context.swapId, evicting: context.target !== null });
      }
      if (gone.length > 0) enqueue.assign({ pending: context.pending.filter((m) => !gone.includes(m)) });
    }),
    markStopped: assign({
      pending: ({ context, event }) =>
        event.type === 'PROCESS.STOPPED' ? context.pending.filter((m) => m !== event.model) : context.pending,
    }),
    ensureTarget: enqueueActions(({ context, enqueue, system, self }) => {
      if (context.target === null) return;
      const ref = processRef(system, context.target);
      if (ref) enqueue.sendTo(ref, { type: 'ENSURE_READY', replyTo: self });
      else enqueue.assign({ error: `no process for model ${context.target}` });
    }),
    recordFailure: assign(({ context, event }) =>
      event.type === 'PROCESS.FAILED'
        ? { error: event.error, retryAfterMs: event.retryAfterMs ?? null }
        : { error: context.error },
    ),
    markRetried: assign({ retried: true, error: null, retryAfterMs: null }),
    recordAbort: assign({ error: ({ event }) => (event.type === 'ABORT' ? event.reason : 'aborted') }),
    /** Aborting a start: the target is stopping its launch (its FAILED reply is moot). */
    stopTarget: enqueueActions(({ context, enqueue, system }) => {
      if (context.target === null) return;
      const ref = processRef(system, context.target);
      if (ref) enqueue.sendTo(ref, { type: 'STOP', reason: context.swapId });
    }),
  },
  guards: {
    /** A real start failure (not a backoff refusal) right after evicting: worth one retry. */
    retryAfterEviction: ({ context, event }) =>
      event.type === 'PROCESS.FAILED' &&
      event.model === context.target &&
      event.retryAfterMs === undefined &&
      context.evict.length > 0 &&
      !context.retried,
    allStopped: ({ context }) => context.pending.length === 0,
    settled: ({ context }) => context.target === null || context.error !== null,
    fromTarget: ({ context, event }) => 'model' in event && event.model === context.target,
  },
  delays: {
    evictionRetryDelay: EVICTION_RETRY_DELAY_MS,
  },
}).createMachine({
  id: 'swap',
  context: ({ input }) => ({ ...input, pending: [...input.evict], error: null, retryAfterMs: null, retried: false }),
  initial: 'evicting',
  states: {
    evicting: {
      entry: 'stopEvictees',
      always: { guard: 'allStopped', target: 'ensuring' },
      on: {
        'PROCESS.STOPPED': { actions: 'markStopped' },
        ABORT: { target: 'done', actions: 'recordAbort' },
      },
    },
    ensuring: {
      entry: 'ensureTarget',
      always: { guard: 'settled', target: 'done' },
      on: {
        'PROCESS.READY': { guard: 'fromTarget', target: 'done' },
        'PROCESS.FAILED': [
          { guard: 'retryAfterEviction', target: 'retryWait' },
          { guard: 'fromTarget', target: 'done', actions: 'recordFailure' },
        ],
        ABORT: { target: 'done', actions: ['recordAbort', 'stopTarget'] },
      },
    },
    retryWait: {
      after: { evictionRetryDelay: { target: 'ensuring', actions: 'markRetried' } },
      on: { ABORT: { target: 'done', actions: 'recordAbort' } },
    },
    done: { type: 'final' },
  },
  output: ({ context }) => ({
    swapId: context.swapId,
    target: context.target,
    evict: context.evict,
    ...(context.error !== null ? { error: context.error } : {}),
    ...(context.retryAfterMs !== null ? { retryAfterMs: context.retryAfterMs } : {}),
    ...(context.retried && context.error !== null ? { retriedAfterEvicting: context.evict } : {}),
  }),
});

export type SwapMachine = typeof swapMachine;
