/**
 * The extension API (machines/process.extension.ts): what it refuses at compile time (the
 * `@ts-expect-error` lines below are checked by `npm run typecheck`: each must be an error),
 * what createProcessMachine refuses when the machine is built, and what an extension can add:
 * states at the top level and inside `running`, timers on `ready.idle`, its own tags and events.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import { CORE_STATE_IDS, processExtension, type ProcessStateConfig } from '../../machines/process.extension.ts';
import { createProcessMachine, processMachine } from '../../machines/process.machine.ts';
import { FakeWorld, processConfig, replyRecorder } from '../helpers/fake-process-world.ts';
import { machineChart } from '../../src/observability/statechart.ts';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A small extension used below: a `napping` state after 5 s idle, left by any request. */
const nap = processExtension({
  actors: { rest: fromPromise<void, { model: string }>(async () => {}) },
  guards: { mayNap: ({ context }) => context.cfg.model !== 'never-naps' },
  actions: { noteNap: (_, _params: { minutes: number }) => {} },
  delays: { napAfter: 5_000 },
  types: { tags: {} as 'napping', events: {} as { type: 'NAP' } },
});

const napping = nap.createStateConfig({
  tags: ['napping'],
  entry: { type: 'noteNap', params: { minutes: 1 } },
  on: {
    ENSURE_READY: { target: 'ready', actions: 'addEnsureWaiter' },
    STOP: { target: 'stopping', actions: ['addStopWaiter', 'takeGrace'] },
  },
});

const napMode = nap.define({
  'process.running': { states: { napping } },
  'process.running.ready.idle': {
    after: { napAfter: { guard: 'mayNap', target: '#process.running.napping' } },
    on: { NAP: { target: '#process.running.napping' } },
  },
});

describe('the extension API refuses misspelt names at compile time', () => {
  it('an unknown action, guard, delay, actor, tag, state id or wrong action params is a type error', () => {
    const configs: unknown[] = [
      // @ts-expect-error: a misspelt action name does not compile
      nap.createStateConfig({ entry: 'addEnsureWaiterr' }),
      // @ts-expect-error: a misspelt guard
      nap.createStateConfig({ always: { guard: 'mayNapp', target: 'ready' } }),
      // @ts-expect-error: a misspelt delay (XState's own generic createStateConfig lets this one through)
      nap.createStateConfig({ after: { napAfterr: { target: 'ready' } } }),
      // @ts-expect-error: a misspelt actor
      nap.createStateConfig({ invoke: { src: 'restt' } }),
      // @ts-expect-error: a tag nobody declared
      nap.createStateConfig({ tags: ['naping'] }),
      // @ts-expect-error: an action's params are typed
      nap.createStateConfig({ entry: { type: 'noteNap', params: { minutes: 'one' } } }),
      // @ts-expect-error: an event nobody declared
      nap.createStateConfig({ on: { SNOOZE: { target: 'ready' } } }),
    ];
    // @ts-expect-error: a core state that does not exist
    const badId = () => nap.define({ 'process.running.ready.idel': {} });
    // @ts-expect-error: a core action misspelt inside an addition
    const badAction = () => nap.define({ 'process.stopped': { entry: 'answerStoped' } });
    // @ts-expect-error: the machine's implementations are typed too: no actor `restt` to provide
    const badProvide = () => createProcessMachine(napMode).provide({ actors: { restt: fromPromise(async () => {}) } });
    // Each of these still runs (createStateConfig is the identity); the machine refuses them.
    expect(configs).toHaveLength(7);
    expect(badId).toBeTypeOf('function');
    expect(badAction).toBeTypeOf('function');
    expect(badProvide).toBeTypeOf('function');
  });

  it('every name the core and the extension declare is accepted', () => {
    const ok: ProcessStateConfig<NonNullable<typeof napMode.types>> = nap.createStateConfig({
      tags: ['napping', 'resident'],
      entry: ['addEnsureWaiter', { type: 'noteNap', params: { minutes: 2 } }],
      after: { napAfter: 'ready', ttl: 'stopping' },
      always: { guard: 'mayNap', target: 'ready' },
      invoke: { src: 'rest', input: ({ context }) => ({ model: context.cfg.model }) },
      on: { NAP: 'ready', 'OS.EXITED': '#process.stopped' },
    });
    expect(ok.tags).toEqual(['napping', 'resident']);
  });
});

describe('createProcessMachine refuses what TypeScript cannot see (or plain JavaScript)', () => {
  it('a state id the core does not have', () => {
    const ext = nap.define({ ['process.running.ready.idel' as 'process']: { states: {} } });
    expect(() => createProcessMachine(ext)).toThrow("process extension: no core state 'process.running.ready.idel'");
  });

  it('an action, guard, delay or actor nobody implements', () => {
    const missing = (addition: object) => () => createProcessMachine(nap.define({ 'process.stopped': addition as never }));
    expect(missing({ entry: 'answerStoped' })).toThrow("not implemented: action 'answerStoped' (in process.stopped)");
    expect(missing({ always: { guard: 'mayNapp', target: 'running' } })).toThrow("guard 'mayNapp'");
    expect(missing({ after: { napAfterr: 'running' } })).toThrow("delay 'napAfterr'");
    expect(missing({ invoke: { src: 'restt' } })).toThrow("actor 'restt'");
  });

  it('a misspelt target (XState checks targets when the machine is built)', () => {
    const ext = nap.define({ 'process.stopped': { on: { NAP: '#process.runing' } } });
    expect(() => createProcessMachine(ext)).toThrow("Child state 'runing' does not exist on 'process'");
  });

  it('a state that is already there, or an implementation the core already has', () => {
    expect(() => createProcessMachine(nap.define({ 'process.running': { states: { ready: {} } } }))).toThrow(
      "process extension: 'process.running' already has a state 'ready'",
    );
    expect(() => processExtension({ actions: { term: () => {} } })).toThrow("the core machine already has a action named 'term'");
    expect(() => processExtension({ actors: { os: fromPromise(async () => {}) } })).toThrow("already has a actor named 'os'");
  });
});

describe('what an extension adds', () => {
  function start(machine: ReturnType<typeof createProcessMachine<NonNullable<typeof napMode.types>>>, model = 'a') {
    const world = new FakeWorld();
    const actor = createActor(machine.provide({ actors: world.actors() }), { input: processConfig({ model, checkEndpoint: 'none' }) });
    actor.subscribe({ error: (err) => { throw err; } });
    actor.start();
    const w = replyRecorder();
    actor.send({ type: 'ENSURE_READY', replyTo: w.ref });
    world.spawned();
    return { world, actor, first: w };
  }

  it('a timer on ready.idle: idle for napAfter, the model naps; a request wakes it; busy, it never naps', async () => {
    const { actor } = start(createProcessMachine(napMode));
    expect(actor.getSnapshot().value).toEqual({ running: { ready: 'idle' } });
    await vi.advanceTimersByTimeAsync(4_999);
    expect(actor.getSnapshot().value).toEqual({ running: { ready: 'idle' } });
    await vi.advanceTimersByTimeAsync(1);
    expect(actor.getSnapshot().value).toEqual({ running: 'napping' });
    expect(actor.getSnapshot().hasTag('napping')).toBe(true);
    // It decided its tags: napping is not resident, so a swap would not stop it to make room.
    expect(actor.getSnapshot().hasTag('resident')).toBe(false);
    const w = replyRecorder();
    actor.send({ type: 'ENSURE_READY', replyTo: w.ref });
    expect(w.replies).toEqual([{ type: 'PROCESS.READY', model: 'a' }]);
    actor.send({ type: 'ACQUIRE' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(actor.getSnapshot().value).toEqual({ running: { ready: 'busy' } });
  });

  it("the extension's transitions are tried first, the core's still apply: the guard refuses, the TTL still unloads", async () => {
    const world = new FakeWorld();
    const actor = createActor(createProcessMachine(napMode).provide({ actors: world.actors() }), {
      input: processConfig({ model: 'never-naps', checkEndpoint: 'none', ttlMs: 8_000 }),
    }).start();
    actor.send({ type: 'ENSURE_READY', replyTo: replyRecorder().ref });
    world.spawned();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(actor.getSnapshot().value).toEqual({ running: { ready: 'idle' } });
    await vi.advanceTimersByTimeAsync(3_000);
    expect(actor.getSnapshot().value).toEqual({ running: 'stopping' });
  });

  it('its own events: NAP from ready.idle', () => {
    const { actor } = start(createProcessMachine(napMode));
    actor.send({ type: 'NAP' });
    expect(actor.getSnapshot().value).toEqual({ running: 'napping' });
  });

  it('a top-level state, beside stopped and running', () => {
    const parked = nap.define({
      process: {
        states: {
          parked: nap.createStateConfig({
            tags: ['napping'],
            on: {
              ENSURE_READY: { target: 'running', actions: 'addEnsureWaiter' },
              STOP: { actions: 'replyStopped' },
            },
          }),
        },
      },
      'process.stopped': { on: { NAP: 'parked' } },
    });
    const world = new FakeWorld();
    const actor = createActor(createProcessMachine(parked).provide({ actors: world.actors() }), { input: processConfig() }).start();
    actor.send({ type: 'NAP' });
    expect(actor.getSnapshot().value).toBe('parked');
    actor.send({ type: 'ENSURE_READY', replyTo: replyRecorder().ref });
    expect(actor.getSnapshot().value).toEqual({ running: { starting: 'launching' } });
  });

  it('the core machine is left as it was, and every core state id exists in it', () => {
    const before = JSON.stringify(machineChart(processMachine));
    createProcessMachine(napMode);
    expect(JSON.stringify(machineChart(createProcessMachine()))).toBe(before);
    const ids: string[] = [];
    const walk = (node: { id: string; states: Record<string, unknown> }) => {
      ids.push(node.id);
      for (const child of Object.values(node.states)) walk(child as typeof node);
    };
    walk(processMachine.root as never);
    expect(ids.sort()).toEqual([...CORE_STATE_IDS].sort());
  });
});
