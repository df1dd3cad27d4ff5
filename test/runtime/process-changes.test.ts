/**
 * The runtime's process-change stream and what reads it, over a scheduler with fake
 * processes: it follows a process actor the scheduler respawned (`childError`), so the state
 * view's times and the upstream a grant carries belong to the live actor, never the dead one.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, type AnyActorRef } from 'xstate';
import { processMachine } from '../../machines/process.machine.ts';
import { schedulerMachine } from '../../machines/scheduler.machine.ts';
import { ProcessChanges } from '../../src/runtime/process-changes.ts';
import { StateView } from '../../src/runtime/state-view.ts';
import { Upstreams } from '../../src/runtime/upstreams.ts';
import { FakeCluster, processConfig } from '../helpers/fake-process-world.ts';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function scheduler(models: string[]) {
  const cluster = new FakeCluster();
  const machine = schedulerMachine.provide({ actors: { process: processMachine.provide({ actors: cluster.actors() }) } });
  const actor = createActor(machine, {
    input: { models: Object.fromEntries(models.map((m) => [m, { process: processConfig({ model: m }) }])), evictGraceMs: 1_000 },
  });
  const failures: unknown[] = [];
  actor.subscribe({ error: (e) => failures.push(e) });
  actor.start();
  return { actor, cluster, failures };
}

/** Starts `model` by a request, and lets its fake server come up. */
async function serve(t: ReturnType<typeof scheduler>, reqId: string, model: string): Promise<void> {
  t.actor.send({ type: 'REQUEST', reqId, model });
  t.cluster.world(model).spawned();
  t.cluster.world(model).healthOk();
  await vi.advanceTimersByTimeAsync(0);
}

/** What XState sends the scheduler when a process actor throws (as scheduler.machine.test.ts does). */
function respawn(t: ReturnType<typeof scheduler>, model: string): void {
  t.actor.send({ type: `xstate.error.actor.process:${model}`, error: new Error('boom') } as never);
}

const leaf = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));

describe('ProcessChanges', () => {
  it('hears every model, and moves to the actor that replaced a failed one', async () => {
    const t = scheduler(['a', 'b']);
    const changes = new ProcessChanges(t.actor);
    expect([...changes.models()].sort()).toEqual(['a', 'b']);
    const heard: string[] = [];
    changes.subscribe((model, snap) => heard.push(`${model} ${leaf(snap.value)}`));

    await serve(t, 'r1', 'a');
    expect(heard.at(-1)).toBe('a {"running":{"ready":"busy"}}');
    const dead = changes.actor('a')!;
    expect(dead).toBe(t.actor.getSnapshot().children['process:a']);

    respawn(t, 'a');
    const fresh = changes.actor('a')!;
    expect(fresh).not.toBe(dead);
    expect(fresh).toBe(t.actor.getSnapshot().children['process:a']);
    // The replacement is a change of its own: it starts stopped.
    expect(heard.at(-1)).toBe('a stopped');
    expect(changes.snapshot('a')?.value).toBe('stopped');

    // What the fresh actor does is heard; the dead one is not listened to any more.
    t.actor.send({ type: 'SERVE_DONE', reqId: 'r1', model: 'a' });
    await vi.advanceTimersByTimeAsync(1_000);
    const from = heard.length;
    await serve(t, 'r2', 'a');
    expect(heard.slice(from).filter((h) => h.startsWith('a '))).toContain('a {"running":{"ready":"busy"}}');
    expect(changes.snapshot('a')?.context.starts).toBe(1);
    expect(t.failures).toEqual([]);
  });

  it('stops telling a listener once it unsubscribed, and keeps a failing listener to itself', async () => {
    const t = scheduler(['a']);
    const changes = new ProcessChanges(t.actor);
    const heard: string[] = [];
    changes.subscribe(() => {
      throw new Error('a broken watcher');
    });
    const off = changes.subscribe((model) => heard.push(model));
    await serve(t, 'r1', 'a');
    const n = heard.length;
    expect(n).toBeGreaterThan(0);
    off();
    respawn(t, 'a');
    expect(heard).toHaveLength(n);
    expect(t.failures).toEqual([]);
  });
});

describe('StateView over a respawn', () => {
  it("times the fresh actor's states, not the dead one's", async () => {
    const t = scheduler(['a']);
    let now = 1_000_000;
    const changes = new ProcessChanges(t.actor);
    const view = new StateView(t.actor, changes, () => now);
    const a = () => view.snapshot().processes.find((p) => p.model === 'a')!;

    now += 1_000;
    await serve(t, 'r1', 'a');
    expect(a()).toMatchObject({ state: 'ready', since: new Date(now).toISOString() });

    now += 1_000;
    respawn(t, 'a');
    expect(a()).toMatchObject({ state: 'stopped', since: new Date(now).toISOString(), value: 'stopped' });

    t.actor.send({ type: 'SERVE_DONE', reqId: 'r1', model: 'a' });
    await vi.advanceTimersByTimeAsync(1_000);
    now += 1_000;
    await serve(t, 'r2', 'a');
    expect(a()).toMatchObject({ state: 'ready', since: new Date(now).toISOString(), starts: 1 });
  });
});

describe('Upstreams', () => {
  it('one upstream per start of a process actor: shared by its grants, replaced (agent destroyed) by the next start', () => {
    const upstreams = new Upstreams();
    const first: AnyActorRef = createActor(processMachine, { input: processConfig() });
    const second: AnyActorRef = createActor(processMachine, { input: processConfig() });
    const base = 'http://127.0.0.1:5800';

    const u1 = upstreams.at('a', first, 1, base);
    expect(u1).toMatchObject({ base, generation: 1 });
    expect(upstreams.at('a', first, 1, base)).toBe(u1);

    const destroyed = vi.spyOn(u1.agent, 'destroy');
    const u2 = upstreams.at('a', first, 2, base);
    expect(u2).not.toBe(u1);
    expect(u2.agent).not.toBe(u1.agent);
    // Its idle sockets lead to the server of the start before: gone.
    expect(destroyed).toHaveBeenCalledOnce();

    // A respawned actor counts its starts from zero again: its first start is a new server.
    const u3 = upstreams.at('a', second, 1, base);
    expect(u3).not.toBe(u1);
    expect(u3.agent).not.toBe(u2.agent);

    // Other models keep theirs.
    const b = upstreams.at('b', first, 1, 'http://127.0.0.1:5801');
    expect(upstreams.at('a', second, 1, base)).toBe(u3);
    expect(upstreams.at('b', first, 1, 'http://127.0.0.1:5801')).toBe(b);
    expect(upstreams.busy()).toBe(0);
    upstreams.destroyAll();
    expect(upstreams.at('b', first, 1, 'http://127.0.0.1:5801')).not.toBe(b);
    upstreams.destroyAll();
  });
});
