/**
 * Model-based conformance test of the process protocol (machines/process.protocol.ts).
 *
 * `xstate/graph` enumerates every reachable state of a process machine. For each one we
 * replay its shortest path on a live actor (fake OS, fake timers), then send ENSURE_READY or
 * STOP with a fresh waiter and let a well-behaved fake world run until things settle. The
 * waiter must get exactly one answer of the right kind: that is the "no stranded waiter"
 * invariant llama-swap #946 broke. It runs on the plain machine and on the machine extended
 * with sleep mode, which the scheduler never hears of.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, fromPromise, type AnyActorRef, type AnyStateMachine, type AnyStateNode } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import { backoffFor, CRASH_LOOP_THRESHOLD, processMachine, type ProcessConfig } from '../../machines/process.machine.ts';
import { sleepyProcessMachine } from '../../machines/process.sleep.ts';
import { FakeWorld, processConfig, replyRecorder } from '../helpers/fake-process-world.ts';

const cfg: ProcessConfig = processConfig({ ttlMs: 60_000, healthCheckTimeoutMs: 15_000, unloadGraceMs: 10_000 });

/** ms per named delay, for replaying `xstate.after.*` steps with fake timers. */
const delayMs: Record<string, number> = {
  healthCheckTimeout: cfg.healthCheckTimeoutMs,
  ttl: cfg.ttlMs,
  stopGrace: cfg.unloadGraceMs,
  backoff: backoffFor(CRASH_LOOP_THRESHOLD),
};

type AnyEvent = { type: string; [k: string]: unknown };

/** Every event a machine can react to, with the delayed and done events its states define. */
function eventsOf(machine: AnyStateMachine, replyTo: AnyActorRef): AnyEvent[] {
  const events: AnyEvent[] = [
    { type: 'ENSURE_READY', replyTo },
    { type: 'STOP', replyTo },
    { type: 'SHUTDOWN' },
    { type: 'ACQUIRE' },
    { type: 'RELEASE' },
    { type: 'OS.SPAWNED', pid: 4242 },
    { type: 'OS.EXITED', code: 0, signal: null },
  ];
  const visit = (node: AnyStateNode) => {
    for (const t of node.after) events.push({ type: t.eventType });
    for (const inv of node.invoke) events.push({ type: `xstate.done.actor.${inv.id}` });
    for (const eventType of node.ownEvents) {
      if (!eventType.includes('.') && !events.some((e) => e.type === eventType)) events.push({ type: eventType });
    }
    for (const child of Object.values(node.states)) visit(child);
  };
  visit(machine.root);
  return events;
}

/** Every atomic state of a machine, as a state value (`{ running: { ready: 'idle' } }`). */
function leafStates(node: AnyStateNode): unknown[] {
  const out: unknown[] = [];
  for (const [key, child] of Object.entries(node.states)) {
    const inner = leafStates(child);
    if (inner.length === 0) out.push(key);
    else for (const v of inner) out.push({ [key]: v });
  }
  return out;
}

function serialize(snapshot: { value: unknown; context: Record<string, unknown> }): string {
  const c = snapshot.context as {
    pendingStart: boolean;
    shuttingDown: boolean;
    inFlight: number;
    consecutiveFailures: number;
    backoffDue: boolean;
  };
  // Failures count up to the crash-loop threshold, where the process backs off.
  const failures = Math.min(c.consecutiveFailures, CRASH_LOOP_THRESHOLD);
  return JSON.stringify([snapshot.value, c.pendingStart, c.shuttingDown, c.inFlight > 0, failures, c.backoffDue]);
}

/** A live actor of `machine` with a fake world, plus a resolver for the `wake` actor. */
function live(machine: AnyStateMachine) {
  const world = new FakeWorld();
  const wakes: Array<() => void> = [];
  const wake = fromPromise<void, unknown>(() => new Promise<void>((resolve) => wakes.push(resolve)));
  const actor = createActor(machine.provide({ actors: { ...world.actors(), wake } as never }), { input: cfg });
  const failures: unknown[] = [];
  actor.subscribe({ error: (e) => failures.push(e) });
  actor.start();
  return { world, wakes, actor, failures };
}

type Live = ReturnType<typeof live>;

/** Replays one traversal step on the live actor. */
async function replay(l: Live, event: AnyEvent, waiter: AnyActorRef): Promise<void> {
  if (event.type.startsWith('xstate.after.')) {
    const name = event.type.split('.')[2] ?? '';
    await vi.advanceTimersByTimeAsync(delayMs[name] ?? 0);
  } else if (event.type === 'xstate.done.actor.health') {
    l.world.healthOk();
  } else if (event.type === 'xstate.done.actor.wake') {
    l.wakes.shift()?.();
  } else if (event.type === 'xstate.init') {
    return;
  } else {
    l.actor.send({ ...event, ...('replyTo' in event ? { replyTo: waiter } : {}) } as never);
  }
  await vi.advanceTimersByTimeAsync(0);
}

/** Lets the fake world behave until the waiter is answered (bounded). */
async function settle(l: Live, replies: unknown[]): Promise<void> {
  for (let i = 0; i < 100 && replies.length === 0; i++) {
    if (!l.world.progress()) {
      const wake = l.wakes.shift();
      if (wake) wake();
      else await vi.advanceTimersByTimeAsync(1_000);
    }
    await vi.advanceTimersByTimeAsync(0);
  }
}

function conformance(name: string, machine: AnyStateMachine, minStates: number) {
  describe(`process protocol: ${name}`, () => {
    const dummy = createActor(fromPromise(async () => {})).start();
    const paths = getShortestPaths(machine, {
      input: cfg,
      events: eventsOf(machine, dummy) as never,
      serializeState: serialize as never,
    });

    it(`reaches every state of the machine (${minStates}+ distinct states)`, () => {
      expect(paths.length).toBeGreaterThanOrEqual(minStates);
      for (const leaf of leafStates(machine.root as AnyStateNode)) {
        expect(paths.some((p) => p.state.matches(leaf as never)), JSON.stringify(leaf)).toBe(true);
      }
    });

    for (const path of paths) {
      const label = `${serialize(path.state as never)} via ${path.steps.map((s) => s.event.type).join(' > ') || '(start)'}`;

      it(`handles ENSURE_READY and STOP in ${label}`, () => {
        expect(path.state.can({ type: 'ENSURE_READY', replyTo: dummy } as never)).toBe(true);
        expect(path.state.can({ type: 'STOP', replyTo: dummy } as never)).toBe(true);
      });

      for (const probe of ['ENSURE_READY', 'STOP'] as const) {
        it(`answers a ${probe} waiter exactly once from ${label}`, async () => {
          const l = live(machine);
          const past = replyRecorder();
          for (const step of path.steps) await replay(l, step.event as AnyEvent, past.ref);
          expect(serialize(l.actor.getSnapshot() as never)).toBe(serialize(path.state as never));
          const waiter = replyRecorder();
          l.actor.send({ type: probe, replyTo: waiter.ref } as never);
          await settle(l, waiter.replies);
          await vi.advanceTimersByTimeAsync(0);
          expect(waiter.replies).toHaveLength(1);
          const kinds = probe === 'STOP' ? ['PROCESS.STOPPED'] : ['PROCESS.READY', 'PROCESS.FAILED'];
          expect(kinds).toContain(waiter.replies[0]?.type);
          expect(l.failures).toEqual([]);
          l.actor.stop();
        });
      }
    }
  });
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

conformance('plain machine', processMachine, 8);
conformance('with the sleeping / waking extension', sleepyProcessMachine, 10);
