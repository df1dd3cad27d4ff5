/**
 * Example extension: vLLM sleep mode as two new process states, `sleeping` and `waking`.
 *
 * vLLM can put a loaded model to sleep (`POST /sleep`: weights offloaded, VRAM freed, the
 * server stays up) and wake it again (`POST /wake_up`) far faster than a cold start. Here a
 * ready model goes to sleep on `SLEEP`; an `ENSURE_READY` wakes it; a `STOP` stops it.
 *
 * This file is the whole change: the scheduler and the swap actors are untouched, because
 * they only send protocol events (ENSURE_READY, STOP, ...) and read tags. Both states live
 * inside `running`, so they carry its `resident` tag (the server process is alive); neither
 * is `serving`, so the scheduler sends requests through a swap, whose ENSURE_READY wakes
 * the model. Every waiter is answered on the way out, as the protocol demands.
 */
import { fromPromise } from 'xstate';
import { createProcessMachine, type ProcessConfig } from './process.machine.ts';

/** Input of the `wake` actor: resolves once the server has woken up. */
export interface WakeInput {
  model: string;
  proxy: string;
}

/** Placeholder: the runtime (or a test) provides the real `POST /wake_up`. */
const wakePlaceholder = fromPromise<void, WakeInput>(() => {
  throw new Error('sleep extension: no `wake` actor provided');
});

export const sleepExtension = {
  readyOn: {
    SLEEP: { target: '#process.running.sleeping' },
  },
  runningStates: {
    sleeping: {
      on: {
        ENSURE_READY: { target: 'waking', actions: 'addEnsureWaiter' },
        STOP: { target: 'stopping', actions: ['addStopWaiter', 'takeGrace'] },
      },
    },
    waking: {
      invoke: {
        id: 'wake',
        src: 'wake',
        input: ({ context }: { context: { cfg: ProcessConfig } }) => ({
          model: context.cfg.model,
          proxy: context.cfg.proxy,
        }),
        onDone: { target: 'ready' },
        onError: {
          target: 'stopping',
          actions: [{ type: 'failStart', params: { error: 'wake up failed' } }, 'useStartFailureGrace'],
        },
      },
      on: {
        ENSURE_READY: { actions: 'addEnsureWaiter' },
        STOP: {
          target: 'stopping',
          actions: [{ type: 'failStart', params: { error: 'aborted: model stopped while waking' } }, 'addStopWaiter', 'takeGrace'],
        },
      },
    },
  },
  actors: { wake: wakePlaceholder },
};

/** The process machine with sleep mode. */
export const sleepyProcessMachine = createProcessMachine(sleepExtension);
