/**
 * describeProcess (src/runtime/process-view.ts): what `/running`, `/api/state` and the UI show
 * of a process, read from any process machine's snapshot.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import { processMachine } from '../../machines/process.machine.ts';
import { SLEEP_AFTER_MS, sleepyProcessMachine, type SleepModeInput } from '../../docs/examples/sleep-mode.ts';
import { describeProcess } from '../../src/runtime/process-view.ts';
import { FakeWorld, processConfig, replyRecorder } from '../helpers/fake-process-world.ts';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('describeProcess', () => {
  it('names the top-level state, and inside running the running sub-state; loaded is the resident tag', async () => {
    const world = new FakeWorld();
    const actor = createActor(processMachine.provide({ actors: world.actors() }), { input: processConfig() }).start();
    expect(describeProcess(actor.getSnapshot())).toEqual({
      state: 'stopped',
      pid: null,
      starts: 0,
      crashes: 0,
      inFlight: 0,
      lastError: null,
      loaded: false,
      backoff: null,
    });
    actor.send({ type: 'ENSURE_READY', replyTo: replyRecorder().ref });
    expect(describeProcess(actor.getSnapshot())).toMatchObject({ state: 'starting', loaded: true, starts: 1 });
    world.spawned();
    world.healthOk();
    await vi.advanceTimersByTimeAsync(0);
    expect(describeProcess(actor.getSnapshot())).toMatchObject({ state: 'ready', loaded: true, pid: 1000 });
    actor.send({ type: 'STOP' });
    expect(describeProcess(actor.getSnapshot())).toMatchObject({ state: 'stopping', loaded: true });
    world.exited(0);
    expect(describeProcess(actor.getSnapshot())).toMatchObject({ state: 'stopped', loaded: false, pid: null });
  });

  it('a backoff carries its error and how long starts are refused', () => {
    const world = new FakeWorld();
    const actor = createActor(processMachine.provide({ actors: world.actors() }), { input: processConfig() }).start();
    for (let i = 0; i < 3; i++) {
      actor.send({ type: 'ENSURE_READY', replyTo: replyRecorder().ref });
      world.exited(1);
    }
    expect(describeProcess(actor.getSnapshot())).toMatchObject({
      state: 'backoff',
      crashes: 3,
      backoff: { error: 'upstream command exited prematurely (exit code 1)', retryAfterMs: 1_000 },
    });
  });

  it("an extension's state shows by its name, loaded or not as its tags say", async () => {
    const world = new FakeWorld();
    let slept: () => void = () => {};
    const sleep = fromPromise<void, SleepModeInput>(() => new Promise<void>((resolve) => (slept = resolve)));
    const actor = createActor(sleepyProcessMachine.provide({ actors: { ...world.actors(), sleep } }), {
      input: processConfig({ checkEndpoint: 'none' }),
    }).start();
    actor.send({ type: 'ENSURE_READY', replyTo: replyRecorder().ref });
    world.spawned();
    await vi.advanceTimersByTimeAsync(SLEEP_AFTER_MS);
    expect(describeProcess(actor.getSnapshot())).toMatchObject({ state: 'sleeping', loaded: true });
    slept();
    await vi.advanceTimersByTimeAsync(0);
    expect(describeProcess(actor.getSnapshot())).toMatchObject({ state: 'sleeping', loaded: false, pid: 1000 });
  });
});
