/**
 * The example of docs/extending.md ("Adding a process state"): vLLM-style sleep mode as new
 * process states. The tutorial quotes this file, and test/docs/extending.test.ts runs it, so
 * what the tutorial says about it stays true.
 *
 * The tutorial's version: nothing starts this machine, and its `sleep` and `wake` actors are
 * placeholders. swapstate's real sleep mode is machines/process.sleep.ts (docs/extending.md,
 * last step, says what it took).
 *
 * ```
 * running.ready.idle ──after sleepAfter──▶ running.sleeping
 *                                            ├─ offloading [resident]  invokes `sleep`
 *                                            └─ asleep [asleep]        weights offloaded: not resident
 *                    ENSURE_READY ─▶ running.waking [resident]  invokes `wake` ─▶ running.ready
 *                    STOP ─▶ running.stopping
 * ```
 */
// #region setup
import { fromPromise } from 'xstate';
import { processExtension } from '../../machines/process.extension.ts';
import { createProcessMachine } from '../../machines/process.machine.ts';

/** What the `sleep` and `wake` actors are given: which server to call. */
export interface SleepModeInput {
  model: string;
  proxy: string;
}

/** How long a ready model sits idle before it is put to sleep. */
export const SLEEP_AFTER_MS = 30_000;

const sleepMode = processExtension({
  actors: {
    // POST /sleep: the server offloads the weights and frees the VRAM, and stays up.
    sleep: fromPromise<void, SleepModeInput>(async () => {
      throw new Error('sleep mode: no `sleep` actor provided');
    }),
    // POST /wake_up: the weights come back, far faster than a cold start.
    wake: fromPromise<void, SleepModeInput>(async () => {
      throw new Error('sleep mode: no `wake` actor provided');
    }),
  },
  delays: { sleepAfter: SLEEP_AFTER_MS },
  // A tag of its own, for display; the scheduler reads only the protocol's tags.
  types: { tags: {} as 'asleep' },
});
// #endregion setup

// #region states
const serverOf = ({ context }: { context: { cfg: SleepModeInput } }): SleepModeInput => ({
  model: context.cfg.model,
  proxy: context.cfg.proxy,
});

const sleeping = sleepMode.createStateConfig({
  initial: 'offloading',
  on: {
    ENSURE_READY: { target: 'waking', actions: 'addEnsureWaiter' },
    STOP: { target: 'stopping', actions: ['addStopWaiter', 'takeGrace'] },
  },
  states: {
    // The weights are on the GPU until the server says they are not.
    offloading: {
      tags: ['resident'],
      invoke: {
        id: 'sleep',
        src: 'sleep',
        input: serverOf,
        onDone: 'asleep',
        onError: {
          target: '#process.running.stopping',
          actions: [{ type: 'recordError', params: { error: 'sleep failed' } }, 'useUnloadGrace'],
        },
      },
    },
    // VRAM freed: not resident, so a swap loads another model without stopping this one.
    asleep: { tags: ['asleep'] },
  },
});

const waking = sleepMode.createStateConfig({
  tags: ['resident'],
  invoke: {
    id: 'wake',
    src: 'wake',
    input: serverOf,
    onDone: 'ready',
    onError: {
      target: 'stopping',
      actions: [{ type: 'failStart', params: { error: 'wake up failed', counts: true } }, 'useStartFailureGrace'],
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
// #endregion states

// #region define
export const sleepModeExtension = sleepMode.define({
  'process.running': { states: { sleeping, waking } },
  'process.running.ready.idle': { after: { sleepAfter: { target: '#process.running.sleeping' } } },
});

/** The process machine with sleep mode. */
export const sleepyProcessMachine = createProcessMachine(sleepModeExtension);
// #endregion define
