/**
 * `POST /api/models/sleep/<model>`: puts a sleep-enabled model to sleep now, by sending its
 * process the sleep-mode extension's SLEEP (machines/process.sleep.ts), and waits until it
 * settles: asleep, or stopped when the sleep failed and it was stopped instead.
 *
 * Only an idle model sleeps. A model whose last request has just ended is still `busy` for
 * its process until the scheduler's idle settle passes (IDLE_SETTLE_MS): that is waited out
 * (briefly, bounded), so a Sleep pressed right after a chat is not refused.
 */
import { IDLE_SETTLE_MS } from '../../machines/scheduler.machine.ts';
import type { ProcessChanges, ProcessSnapshot } from './process-changes.ts';
import { describeProcess } from './process-view.ts';

/** What a sleep on demand came to. */
export type SleepOutcome =
  | { done: true; state: string }
  | { done: false; why: 'unknown' | 'not-enabled' }
  | { done: false; why: 'not-idle'; state: string };

const SLEEP = { type: 'SLEEP' } as const;
/** How long a model with nothing in flight may take to turn idle for its process. */
const SETTLE_WAIT_MS = 10 * IDLE_SETTLE_MS;

/** The next snapshot of `model` that `done` accepts, or (given `ms`) the current one after `ms`. */
function nextSnapshot(changes: ProcessChanges, model: string, done: (s: ProcessSnapshot) => boolean, ms?: number): Promise<ProcessSnapshot | undefined> {
  return new Promise((resolve) => {
    const finish = (s: ProcessSnapshot | undefined) => {
      clearTimeout(timer);
      off();
      resolve(s);
    };
    const off = changes.subscribe((m, s) => {
      if (m === model && done(s)) finish(s);
    });
    const timer = ms === undefined ? undefined : setTimeout(() => finish(changes.snapshot(model)), ms);
  });
}

/**
 * Puts `model` to sleep. `inFlight` is the scheduler's count of its requests in flight.
 */
export async function sleepOnDemand(changes: ProcessChanges, model: string, inFlight: number): Promise<SleepOutcome> {
  const actor = changes.actor(model);
  let snapshot = changes.snapshot(model);
  if (!actor || !snapshot) return { done: false, why: 'unknown' };
  if (snapshot.context.cfg.sleepMode === undefined) return { done: false, why: 'not-enabled' };
  const now = describeProcess(snapshot);
  if (now.state === 'sleeping' && !now.loaded) return { done: true, state: 'sleeping' };
  if (!snapshot.can(SLEEP) && now.state === 'ready' && inFlight === 0) {
    snapshot = await nextSnapshot(changes, model, (s) => s.can(SLEEP) || describeProcess(s).state !== 'ready', SETTLE_WAIT_MS);
    if (!snapshot) return { done: false, why: 'unknown' };
  }
  if (!snapshot.can(SLEEP)) {
    const state = describeProcess(snapshot).state;
    return { done: false, why: 'not-idle', state: state === 'ready' ? 'busy' : state };
  }
  // Settled: asleep, or anything past the sleep (stopped after a failed one, woken again).
  // No timer of its own: the sleep calls are bounded by their timeouts, a stop by its grace.
  const settled = nextSnapshot(changes, model, (s) => {
    const v = describeProcess(s);
    return !((v.state === 'sleeping' && v.loaded) || v.state === 'stopping');
  });
  actor.send(SLEEP);
  const last = await settled;
  return { done: true, state: last ? describeProcess(last).state : 'stopped' };
}
