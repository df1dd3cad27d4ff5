/**
 * vLLM sleep mode as process states (llmsnap's `sleepMode: enable`), added to the core process
 * machine through the extension API (docs/extending.md): the scheduler and the swaps are not
 * touched, they keep sending the protocol's events and reading its tags.
 *
 * ```
 * running.ready ──STOP from an eviction / TTL / SLEEP──▶ running.sleeping
 *                                                   ├─ fallingAsleep [resident]  invokes `sleep`
 *                                                   └─ asleep [asleep]           weights offloaded: not resident
 *                    ENSURE_READY ─▶ running.waking [resident]  invokes `wake` ─▶ running.ready
 *                    STOP (unload) ─▶ running.stopping; SHUTDOWN and a crash as anywhere in `running`
 * ```
 *
 * Only a model whose config has `sleepMode` sleeps (guard `sleepEnabled`); every other model
 * runs exactly the core machine's transitions, since an extension's are tried first and fall
 * through when their guard says no.
 *
 * Failures never strand a waiter: a sleep that fails or times out stops the process group
 * (the eviction's STOP is answered when it is gone); a wake that fails stops it and starts it
 * cold, and the requests waiting for the wake are served by that start.
 *
 * `sleep` and `wake` are placeholders: the runtime provides the actors that make the HTTP
 * calls (src/runtime/sleep-calls.ts).
 */
import { fromPromise } from 'xstate';
import { processExtension } from './process.extension.ts';
import { createProcessMachine } from './process.machine.ts';
import type { SleepCall } from './process.protocol.ts';

/** What the `sleep` and `wake` actors are given: the server, and the calls to make in order. */
export interface SleepCallsInput {
  model: string;
  proxy: string;
  calls: SleepCall[];
}

const sleepMode = processExtension({
  actors: {
    sleep: fromPromise<void, SleepCallsInput>(async () => {
      throw new Error('sleep mode: no `sleep` actor provided');
    }),
    wake: fromPromise<void, SleepCallsInput>(async () => {
      throw new Error('sleep mode: no `wake` actor provided');
    }),
  },
  guards: {
    sleepEnabled: ({ context }) => context.cfg.sleepMode !== undefined,
    /** A STOP from a swap that only needs the resources, to a model that can free them asleep. */
    evictionSleeps: ({ context, event }) => event.type === 'STOP' && event.evicting === true && context.cfg.sleepMode !== undefined,
    /** A STOP that only needs the resources (the model is asleep or falling asleep already). */
    evicting: ({ event }) => event.type === 'STOP' && event.evicting === true,
    ttlSleeps: ({ context }) => context.cfg.ttlMs > 0 && context.cfg.sleepMode !== undefined,
    hasEnsureWaiters: ({ context }) => context.ensureWaiters.length > 0,
  },
  actions: {
    /** Notifications for the log; no-ops here, provided by the runtime. */
    ttlSleep: (_, _params: { model: string; ttlMs: number }) => {},
    sleepFailed: (_, _params: { model: string; error: string }) => {},
    wakeFailed: (_, _params: { model: string; error: string }) => {},
  },
  // `asleep` for display: the scheduler reads only the protocol's tags.
  types: { tags: {} as 'asleep', events: {} as { type: 'SLEEP' } },
});

const callsOf =
  (which: 'sleep' | 'wake') =>
  ({ context }: { context: { cfg: { model: string; proxy: string; sleepMode?: { sleep: SleepCall[]; wake: SleepCall[] } | undefined } } }): SleepCallsInput => ({
    model: context.cfg.model,
    proxy: context.cfg.proxy,
    calls: context.cfg.sleepMode?.[which] ?? [],
  });

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

const sleeping = sleepMode.createStateConfig({
  initial: 'fallingAsleep',
  states: {
    // The weights are on the GPU until the server says they are not.
    fallingAsleep: {
      tags: ['resident'],
      invoke: {
        id: 'sleep',
        src: 'sleep',
        input: callsOf('sleep'),
        onDone: 'asleep',
        // Falls back to a stop: the eviction's STOP (queued) is answered when it is gone.
        onError: {
          target: '#process.running.stopping',
          actions: [
            { type: 'recordError', params: ({ event }) => ({ error: `sleep failed: ${errorText(event.error)}` }) },
            { type: 'sleepFailed', params: ({ context, event }) => ({ model: context.cfg.model, error: errorText(event.error) }) },
            'useUnloadGrace',
          ],
        },
      },
      on: {
        // Answered once awake again: asleep goes straight on to waking.
        ENSURE_READY: { actions: 'addEnsureWaiter' },
        STOP: [
          { guard: 'evicting', actions: 'addStopWaiter' },
          { target: '#process.running.stopping', actions: ['addStopWaiter', 'takeGrace'] },
        ],
      },
    },
    // VRAM freed, the server still up: not resident, so a swap loads another model beside it.
    asleep: {
      tags: ['asleep', 'live'],
      entry: 'answerStopped',
      always: { guard: 'hasEnsureWaiters', target: '#process.running.waking' },
      on: {
        ENSURE_READY: { target: '#process.running.waking', actions: 'addEnsureWaiter' },
        STOP: [
          { guard: 'evicting', actions: 'replyStopped' },
          { target: '#process.running.stopping', actions: ['addStopWaiter', 'takeGrace'] },
        ],
      },
    },
  },
});

const waking = sleepMode.createStateConfig({
  tags: ['resident'],
  invoke: {
    id: 'wake',
    src: 'wake',
    input: callsOf('wake'),
    onDone: 'ready',
    // Falls back to a stop and a cold start; the waiters stay and are served by that start.
    onError: {
      target: 'stopping',
      actions: [
        { type: 'recordError', params: ({ event }) => ({ error: `wake failed: ${errorText(event.error)}` }) },
        { type: 'wakeFailed', params: ({ context, event }) => ({ model: context.cfg.model, error: errorText(event.error) }) },
        'markPendingStart',
        'useStartFailureGrace',
      ],
    },
  },
  on: {
    ENSURE_READY: { actions: 'addEnsureWaiter' },
    STOP: {
      target: 'stopping',
      actions: [{ type: 'failStart', params: { error: 'aborted: model stopped while waking' } }, 'addStopWaiter', 'takeGrace'],
    },
  },
});

export const sleepModeExtension = sleepMode.define({
  'process.running': { states: { sleeping, waking } },
  // An eviction sleeps the model instead of stopping it (only `ready` is ever evicted: a swap
  // waits for a busy model to go idle, and for a start to finish).
  'process.running.ready': {
    on: { STOP: { guard: 'evictionSleeps', target: '#process.running.sleeping', actions: 'addStopWaiter' } },
  },
  'process.running.ready.idle': {
    after: {
      ttl: {
        guard: 'ttlSleeps',
        target: '#process.running.sleeping',
        actions: { type: 'ttlSleep', params: ({ context }) => ({ model: context.cfg.model, ttlMs: context.cfg.ttlMs }) },
      },
    },
    // `POST /api/models/sleep/<model>`: on demand, only when nothing is in flight.
    on: { SLEEP: { guard: 'sleepEnabled', target: '#process.running.sleeping' } },
  },
});

/** The process machine swapstate runs: the core one, with sleep mode for the models that enable it. */
export const sleepModeProcessMachine = createProcessMachine(sleepModeExtension);
