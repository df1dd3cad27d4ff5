/**
 * Sleep mode (machines/process.sleep.ts) with a fake OS, fake timers and controllable `sleep`
 * / `wake` actors: an eviction or a TTL sleeps a sleep-enabled model, a request wakes it, and
 * every failure falls back to a stop (sleep) or a stop and a cold start (wake) with every
 * waiter answered. Its protocol conformance runs in process.protocol.test.ts; the real
 * processes and HTTP calls in test/integration/sleep-mode.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import type { ProcessConfig, SleepCall } from '../../machines/process.protocol.ts';
import { sleepModeProcessMachine, type SleepCallsInput } from '../../machines/process.sleep.ts';
import { FakeWorld, processConfig, replyRecorder } from '../helpers/fake-process-world.ts';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const call = (endpoint: string): SleepCall => ({ endpoint, method: 'POST', body: '', timeoutMs: 10_000 });
const SLEEPY: Partial<ProcessConfig> = { sleepMode: { sleep: [call('/sleep?level=1')], wake: [call('/wake_up')] } };

/** Controllable `sleep` and `wake` actors: each run is recorded and settled by the test. */
function sleepWake() {
  const runs: Array<{ actor: 'sleep' | 'wake'; input: SleepCallsInput; aborted: boolean; resolve(): void; reject(e: Error): void }> = [];
  const fake = (actor: 'sleep' | 'wake') =>
    fromPromise<void, SleepCallsInput>(
      ({ input, signal }) =>
        new Promise<void>((resolve, reject) => {
          const run = { actor, input, aborted: false, resolve, reject };
          signal.addEventListener('abort', () => (run.aborted = true));
          runs.push(run);
        }),
    );
  return { runs, actors: { sleep: fake('sleep'), wake: fake('wake') } };
}

/** A process of `cfg`, started and ready (idle). */
async function ready(cfg: Partial<ProcessConfig> = SLEEPY) {
  const world = new FakeWorld();
  const sw = sleepWake();
  const actor = createActor(sleepModeProcessMachine.provide({ actors: { ...world.actors(), ...sw.actors } }), {
    input: processConfig({ model: 'a', ...cfg }),
  });
  actor.subscribe({ error: (err) => { throw err; } });
  actor.start();
  actor.send({ type: 'ENSURE_READY', replyTo: replyRecorder().ref });
  world.spawned();
  world.healthOk();
  await vi.advanceTimersByTimeAsync(0);
  expect(actor.getSnapshot().value).toEqual({ running: { ready: 'idle' } });
  return { world, actor, ...sw };
}

const evict = (actor: { send(e: unknown): void }) => {
  const w = replyRecorder();
  actor.send({ type: 'STOP', replyTo: w.ref, evicting: true, graceMs: 15_000 });
  return w;
};

describe('sleep mode: an eviction sleeps the model', () => {
  it('falls asleep through `sleep` (resident meanwhile), then answers the eviction: not resident, its process alive', async () => {
    const { world, actor, runs } = await ready();
    const w = evict(actor);
    expect(actor.getSnapshot().value).toEqual({ running: { sleeping: 'fallingAsleep' } });
    expect(actor.getSnapshot().hasTag('resident')).toBe(true);
    expect(runs.map((r) => [r.actor, r.input])).toEqual([
      ['sleep', { model: 'a', proxy: 'http://127.0.0.1:5800', calls: [call('/sleep?level=1')] }],
    ]);
    expect(w.replies).toEqual([]);
    runs[0]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    const s = actor.getSnapshot();
    expect(s.value).toEqual({ running: { sleeping: 'asleep' } });
    expect(w.replies).toEqual([{ type: 'PROCESS.STOPPED', model: 'a' }]);
    expect([s.hasTag('resident'), s.hasTag('serving'), s.hasTag('live')]).toEqual([false, false, true]);
    expect(s.context.pid).toBe(1000);
    expect(world.count('TERM')).toBe(0);
  });

  it('a request wakes it through `wake`: READY, no new start, same pid', async () => {
    const { world, actor, runs } = await ready();
    evict(actor);
    runs[0]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    const w = replyRecorder();
    actor.send({ type: 'ENSURE_READY', replyTo: w.ref });
    expect(actor.getSnapshot().value).toEqual({ running: 'waking' });
    expect(actor.getSnapshot().hasTag('resident')).toBe(true);
    runs[1]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(actor.getSnapshot().value).toEqual({ running: { ready: 'idle' } });
    expect(w.replies).toEqual([{ type: 'PROCESS.READY', model: 'a' }]);
    expect(actor.getSnapshot().context.starts).toBe(1);
    expect(world.count('spawn')).toBe(1);
  });

  it('a request while it falls asleep is answered by the wake that follows', async () => {
    const { actor, runs } = await ready();
    const stop = evict(actor);
    const w = replyRecorder();
    actor.send({ type: 'ENSURE_READY', replyTo: w.ref });
    runs[0]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(stop.replies).toEqual([{ type: 'PROCESS.STOPPED', model: 'a' }]);
    expect(actor.getSnapshot().value).toEqual({ running: 'waking' });
    runs[1]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(w.replies).toEqual([{ type: 'PROCESS.READY', model: 'a' }]);
  });

  it('a failed sleep stops the process group instead; the eviction is answered once it is gone', async () => {
    const { world, actor, runs } = await ready();
    const w = evict(actor);
    runs[0]!.reject(new Error('POST /sleep?level=1 answered 500'));
    await vi.advanceTimersByTimeAsync(0);
    expect(actor.getSnapshot().value).toEqual({ running: 'stopping' });
    expect(actor.getSnapshot().context.lastError).toBe('sleep failed: POST /sleep?level=1 answered 500');
    expect(world.count('TERM')).toBe(1);
    expect(w.replies).toEqual([]);
    world.exited(0);
    expect(actor.getSnapshot().value).toBe('stopped');
    expect(w.replies).toEqual([{ type: 'PROCESS.STOPPED', model: 'a' }]);
  });

  it('a failed wake stops the process and starts it cold; the waiting request is served by that start', async () => {
    const { world, actor, runs } = await ready();
    evict(actor);
    runs[0]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    const w = replyRecorder();
    actor.send({ type: 'ENSURE_READY', replyTo: w.ref });
    runs[1]!.reject(new Error('POST /wake_up answered 500'));
    await vi.advanceTimersByTimeAsync(0);
    expect(actor.getSnapshot().value).toEqual({ running: 'stopping' });
    expect(w.replies).toEqual([]);
    world.exited(0);
    expect(actor.getSnapshot().value).toEqual({ running: { starting: 'launching' } });
    world.spawned();
    world.healthOk();
    await vi.advanceTimersByTimeAsync(0);
    expect(w.replies).toEqual([{ type: 'PROCESS.READY', model: 'a' }]);
    expect(actor.getSnapshot().context.starts).toBe(2);
    expect(world.count('spawn')).toBe(2);
  });

  it('an unload (a STOP that is no eviction) stops it for real, asleep or falling asleep (the sleep call aborted)', async () => {
    const asleep = await ready();
    evict(asleep.actor);
    asleep.runs[0]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    const w1 = replyRecorder();
    asleep.actor.send({ type: 'STOP', replyTo: w1.ref });
    expect(asleep.actor.getSnapshot().value).toEqual({ running: 'stopping' });
    asleep.world.exited(0);
    expect(w1.replies).toEqual([{ type: 'PROCESS.STOPPED', model: 'a' }]);

    const falling = await ready();
    const e = evict(falling.actor);
    const w2 = replyRecorder();
    falling.actor.send({ type: 'STOP', replyTo: w2.ref });
    expect(falling.runs[0]!.aborted).toBe(true);
    falling.world.exited(0);
    expect(falling.actor.getSnapshot().value).toBe('stopped');
    expect(e.replies).toEqual([{ type: 'PROCESS.STOPPED', model: 'a' }]);
    expect(w2.replies).toEqual([{ type: 'PROCESS.STOPPED', model: 'a' }]);
  });

  it('a second eviction of a sleeping model is answered at once', async () => {
    const { actor, runs } = await ready();
    evict(actor);
    runs[0]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    const w = evict(actor);
    expect(w.replies).toEqual([{ type: 'PROCESS.STOPPED', model: 'a' }]);
    expect(actor.getSnapshot().value).toEqual({ running: { sleeping: 'asleep' } });
  });

  it('a crash while asleep is a crash like any other', async () => {
    const { world, actor, runs } = await ready();
    evict(actor);
    runs[0]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    world.exited(null, 'SIGKILL');
    expect(actor.getSnapshot().value).toBe('stopped');
    expect(actor.getSnapshot().context.crashes).toBe(1);
    expect(actor.getSnapshot().context.pid).toBeNull();
  });

  it('SHUTDOWN while asleep stops the process for good', async () => {
    const { world, actor, runs } = await ready();
    evict(actor);
    runs[0]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    actor.send({ type: 'SHUTDOWN', graceMs: 1_000 });
    expect(actor.getSnapshot().value).toEqual({ running: 'stopping' });
    world.exited(0);
    expect(actor.getSnapshot().value).toBe('shutdown');
  });
});

describe('sleep mode: TTL and on demand', () => {
  it('TTL sleeps a sleep-enabled model, and stops one without sleep mode', async () => {
    const sleepy = await ready({ ...SLEEPY, ttlMs: 60_000 });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sleepy.actor.getSnapshot().value).toEqual({ running: { sleeping: 'fallingAsleep' } });
    expect(sleepy.world.count('TERM')).toBe(0);

    const plain = await ready({ ttlMs: 60_000 });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(plain.actor.getSnapshot().value).toEqual({ running: 'stopping' });
    expect(plain.runs).toEqual([]);
  });

  it('SLEEP puts an idle sleep-enabled model to sleep; busy, or without sleep mode, it is not taken', async () => {
    const idle = await ready();
    expect(idle.actor.getSnapshot().can({ type: 'SLEEP' })).toBe(true);
    idle.actor.send({ type: 'SLEEP' });
    expect(idle.actor.getSnapshot().value).toEqual({ running: { sleeping: 'fallingAsleep' } });

    const busy = await ready();
    busy.actor.send({ type: 'ACQUIRE' });
    expect(busy.actor.getSnapshot().can({ type: 'SLEEP' })).toBe(false);

    const plain = await ready({});
    expect(plain.actor.getSnapshot().can({ type: 'SLEEP' })).toBe(false);
  });

  it('without sleep mode an eviction stops the model, as in the core machine', async () => {
    const { world, actor, runs } = await ready({});
    const w = evict(actor);
    expect(actor.getSnapshot().value).toEqual({ running: 'stopping' });
    world.exited(0);
    expect(w.replies).toEqual([{ type: 'PROCESS.STOPPED', model: 'a' }]);
    expect(runs).toEqual([]);
  });
});
