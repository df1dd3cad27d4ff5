/**
 * The process machine, every transition of reference/llama-swap.md section 4.2, with a fake
 * OS and fake timers (the machine itself is pure; its I/O is in the provided actors).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, type Actor, type AnyStateNode } from 'xstate';
import { processMachine, type ProcessConfig } from '../../machines/process.machine.ts';
import { FakeWorld, processConfig, replyRecorder } from '../helpers/fake-process-world.ts';

type ProcessActor = Actor<typeof processMachine>;

function stateOf(actor: ProcessActor): string {
  const flatten = (v: unknown): string =>
    typeof v === 'string'
      ? v
      : Object.entries(v as Record<string, unknown>)
          .map(([k, child]) => `${k}.${flatten(child)}`)
          .join(',');
  return flatten(actor.getSnapshot().value);
}

function start(over: Partial<ProcessConfig> = {}) {
  const world = new FakeWorld();
  const actor = createActor(processMachine.provide({ actors: world.actors() }), { input: processConfig(over) });
  actor.subscribe({ error: (err) => { throw err; } });
  actor.start();
  return { world, actor };
}

/** Brings a process to ready with one satisfied waiter. */
function startReady(over: Partial<ProcessConfig> = {}) {
  const s = start(over);
  const w = replyRecorder();
  s.actor.send({ type: 'ENSURE_READY', replyTo: w.ref });
  s.world.spawned();
  return { ...s, first: w };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('process machine', () => {
  it('starts stopped, not resident', () => {
    const { actor } = start();
    expect(stateOf(actor)).toBe('stopped');
    expect(actor.getSnapshot().hasTag('resident')).toBe(false);
  });

  it('stopped + ENSURE_READY: spawns, probes at once after spawn, ready on health 200, answers every waiter', async () => {
    const { world, actor } = start();
    const w1 = replyRecorder();
    const w2 = replyRecorder();
    actor.send({ type: 'ENSURE_READY', replyTo: w1.ref });
    actor.send({ type: 'ENSURE_READY', replyTo: w2.ref });
    expect(stateOf(actor)).toBe('running.starting.launching');
    expect(actor.getSnapshot().hasTag('resident')).toBe(true);
    expect(world.count('probe')).toBe(0);
    world.spawned();
    expect(stateOf(actor)).toBe('running.starting.probing');
    expect(world.count('probe')).toBe(1); // no initial wait (llama-swap waits 250 ms)
    world.healthOk();
    await vi.advanceTimersByTimeAsync(0);
    expect(stateOf(actor)).toBe('running.ready.idle');
    expect(actor.getSnapshot().hasTag('serving')).toBe(true);
    expect(w1.replies).toEqual([{ type: 'PROCESS.READY', model: 'a' }]);
    expect(w2.replies).toEqual([{ type: 'PROCESS.READY', model: 'a' }]);
    expect(world.count('spawn')).toBe(1);
  });

  it('checkEndpoint none: ready as soon as the process has spawned, no probe', () => {
    const { world, actor, first } = startReady({ checkEndpoint: 'none' });
    expect(stateOf(actor)).toBe('running.ready.idle');
    expect(world.count('probe')).toBe(0);
    expect(first.replies).toEqual([{ type: 'PROCESS.READY', model: 'a' }]);
  });

  it('starting + health timeout: waiters FAILED, process stopped with the 5 s start-failure grace', async () => {
    const { world, actor, first } = startReady({ healthCheckTimeoutMs: 15_000 });
    await vi.advanceTimersByTimeAsync(14_999);
    expect(first.replies).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(first.replies).toEqual([{ type: 'PROCESS.FAILED', model: 'a', error: 'health check timed out after 15s' }]);
    expect(stateOf(actor)).toBe('running.stopping');
    expect(world.log).toContain('TERM');
    await vi.advanceTimersByTimeAsync(4_999);
    expect(world.count('KILL')).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(world.count('KILL')).toBe(1);
    world.exited(null, 'SIGKILL');
    expect(stateOf(actor)).toBe('stopped');
    expect(actor.getSnapshot().context.lastError).toBe('health check timed out after 15s');
  });

  it('starting + process exit: stopped, waiters FAILED "exited prematurely" with the exit code and the stderr tail', () => {
    const { world, actor, first } = startReady();
    world.exited(1, null, undefined, ['loading model.gguf', 'error: failed to open model.gguf: No such file']);
    expect(stateOf(actor)).toBe('stopped');
    const error = 'upstream command exited prematurely (exit code 1): loading model.gguf | error: failed to open model.gguf: No such file';
    expect(first.replies).toEqual([{ type: 'PROCESS.FAILED', model: 'a', error }]);
    expect(actor.getSnapshot().context.lastError).toBe(error);
    expect(world.log.at(-1)).toBe('cleanup');
  });

  it('starting + process killed by a signal, nothing on stderr: the signal is named', () => {
    const { world, first } = startReady();
    world.exited(null, 'SIGSEGV');
    expect(first.replies).toEqual([
      { type: 'PROCESS.FAILED', model: 'a', error: 'upstream command exited prematurely (signal SIGSEGV)' },
    ]);
  });

  it('every failed start is reported through the startFailed action (the runtime logs it at warn)', async () => {
    const world = new FakeWorld();
    const failed: Array<{ model: string; error: string }> = [];
    const machine = processMachine.provide({ actors: world.actors(), actions: { startFailed: (_, p) => void failed.push(p) } });
    const actor = createActor(machine, { input: processConfig({ healthCheckTimeoutMs: 15_000 }) }).start();
    actor.send({ type: 'ENSURE_READY', replyTo: replyRecorder().ref });
    world.exited(2, null, undefined, ['bad flag']);
    actor.send({ type: 'ENSURE_READY', replyTo: replyRecorder().ref });
    world.exited(null, null, 'port 5800 (from proxy http://127.0.0.1:5800) is already in use by another process');
    expect(failed).toEqual([
      { model: 'a', error: 'upstream command exited prematurely (exit code 2): bad flag' },
      { model: 'a', error: 'port 5800 (from proxy http://127.0.0.1:5800) is already in use by another process' },
    ]);
    // An aborted start is no failure of the command: not reported.
    actor.send({ type: 'ENSURE_READY', replyTo: replyRecorder().ref });
    actor.send({ type: 'STOP', graceMs: 1_000 });
    world.exited(0);
    expect(failed).toHaveLength(2);
    actor.stop();
  });

  it('the health deadline starts at the spawn: a launch that waits (for the port) is not timed out', async () => {
    const { world, actor } = start({ healthCheckTimeoutMs: 15_000 });
    const w = replyRecorder();
    actor.send({ type: 'ENSURE_READY', replyTo: w.ref });
    await vi.advanceTimersByTimeAsync(40_000); // the os actor waits for an old server's grace
    expect(stateOf(actor)).toBe('running.starting.launching');
    expect(w.replies).toEqual([]);
    world.spawned();
    await vi.advanceTimersByTimeAsync(14_999);
    expect(w.replies).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(w.replies).toEqual([{ type: 'PROCESS.FAILED', model: 'a', error: 'health check timed out after 15s' }]);
  });

  it('OS.TERM carries the grace of the stop', () => {
    const { world, actor } = startReady({ checkEndpoint: 'none' });
    actor.send({ type: 'STOP', graceMs: 3_000 });
    expect(world.termGraces).toEqual([3_000]);
  });

  it('starting + spawn error (command not found): waiters get the spawn error', () => {
    const { world, actor } = start();
    const w = replyRecorder();
    actor.send({ type: 'ENSURE_READY', replyTo: w.ref });
    world.exited(null, null, "failed to start command 'nope': spawn nope ENOENT");
    expect(stateOf(actor)).toBe('stopped');
    expect(w.replies).toEqual([
      { type: 'PROCESS.FAILED', model: 'a', error: "failed to start command 'nope': spawn nope ENOENT" },
    ]);
  });

  it('STOP during starting aborts the start, errors the waiters, and answers the stopper once stopped', () => {
    const { world, actor, first } = startReady();
    const stopper = replyRecorder();
    actor.send({ type: 'STOP', replyTo: stopper.ref, graceMs: 2_000 });
    expect(stateOf(actor)).toBe('running.stopping');
    expect(first.replies[0]).toMatchObject({ type: 'PROCESS.FAILED', error: expect.stringContaining('aborted') });
    expect(world.log).toEqual(['spawn', 'probe', 'TERM']);
    expect(stopper.replies).toEqual([]);
    world.exited(0);
    expect(stopper.replies).toEqual([{ type: 'PROCESS.STOPPED', model: 'a' }]);
    expect(stateOf(actor)).toBe('stopped');
  });

  it('ready + ENSURE_READY answers READY at once', async () => {
    const { world, actor } = startReady();
    world.healthOk();
    await vi.advanceTimersByTimeAsync(0);
    const w = replyRecorder();
    actor.send({ type: 'ENSURE_READY', replyTo: w.ref });
    expect(w.replies).toEqual([{ type: 'PROCESS.READY', model: 'a' }]);
    expect(world.count('spawn')).toBe(1);
  });

  it('crash while ready -> stopped (no auto-restart); the next ENSURE_READY starts it again', async () => {
    const { world, actor } = startReady({ checkEndpoint: 'none' });
    world.exited(139, null);
    expect(stateOf(actor)).toBe('stopped');
    expect(actor.getSnapshot().context.lastError).toBe('upstream process exited unexpectedly');
    expect(world.count('spawn')).toBe(1);
    const w = replyRecorder();
    actor.send({ type: 'ENSURE_READY', replyTo: w.ref });
    world.spawned();
    expect(world.count('spawn')).toBe(2);
    expect(w.replies).toEqual([{ type: 'PROCESS.READY', model: 'a' }]);
    expect(actor.getSnapshot().context.starts).toBe(2);
  });

  it('ready + STOP: TERM, SIGKILL exactly at the grace and not before, STOPPED once exited', async () => {
    const { world, actor } = startReady({ checkEndpoint: 'none' });
    const stopper = replyRecorder();
    actor.send({ type: 'STOP', replyTo: stopper.ref, graceMs: 3_000 });
    expect(world.log.at(-1)).toBe('TERM');
    await vi.advanceTimersByTimeAsync(2_999);
    expect(world.count('KILL')).toBe(0); // an upstream ignoring SIGTERM keeps running until the grace
    await vi.advanceTimersByTimeAsync(1);
    expect(world.count('KILL')).toBe(1);
    expect(stopper.replies).toEqual([]);
    world.exited(null, 'SIGKILL');
    expect(stopper.replies).toEqual([{ type: 'PROCESS.STOPPED', model: 'a' }]);
    expect(world.log.slice(-3)).toEqual(['TERM', 'KILL', 'cleanup']);
  });

  it('STOP without a grace uses unloadTimeout', async () => {
    const { world, actor } = startReady({ checkEndpoint: 'none', unloadGraceMs: 7_000 });
    actor.send({ type: 'STOP' });
    await vi.advanceTimersByTimeAsync(6_999);
    expect(world.count('KILL')).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(world.count('KILL')).toBe(1);
  });

  it('stopped + STOP is answered at once and starts nothing', () => {
    const { world, actor } = start();
    const stopper = replyRecorder();
    actor.send({ type: 'STOP', replyTo: stopper.ref });
    expect(stopper.replies).toEqual([{ type: 'PROCESS.STOPPED', model: 'a' }]);
    expect(world.log).toEqual([]);
  });

  it('#946: ENSURE_READY during a TTL-initiated stop restarts once stopped and answers READY', async () => {
    const { world, actor } = startReady({ checkEndpoint: 'none', ttlMs: 60_000 });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(stateOf(actor)).toBe('running.stopping'); // the TTL fired
    const w = replyRecorder();
    actor.send({ type: 'ENSURE_READY', replyTo: w.ref });
    expect(w.replies).toEqual([]);
    world.exited(0);
    // Stopped, then at once starting again: a second spawn for the waiting request.
    expect(world.log).toEqual(['spawn', 'TERM', 'cleanup', 'spawn']);
    world.spawned();
    expect(w.replies).toEqual([{ type: 'PROCESS.READY', model: 'a' }]);
    expect(stateOf(actor)).toBe('running.ready.idle');
  });

  it('a STOP after a restart request in stopping cancels the restart and fails its waiter', () => {
    const { world, actor } = startReady({ checkEndpoint: 'none' });
    actor.send({ type: 'STOP' });
    const w = replyRecorder();
    actor.send({ type: 'ENSURE_READY', replyTo: w.ref });
    const stopper = replyRecorder();
    actor.send({ type: 'STOP', replyTo: stopper.ref });
    expect(w.replies[0]).toMatchObject({ type: 'PROCESS.FAILED' });
    world.exited(0);
    expect(stateOf(actor)).toBe('stopped');
    expect(stopper.replies).toEqual([{ type: 'PROCESS.STOPPED', model: 'a' }]);
    expect(world.count('spawn')).toBe(1);
  });

  it('TTL unloads after the idle time with unloadTimeout as grace', async () => {
    const { world, actor } = startReady({ checkEndpoint: 'none', ttlMs: 5_000, unloadGraceMs: 1_000 });
    await vi.advanceTimersByTimeAsync(4_999);
    expect(stateOf(actor)).toBe('running.ready.idle');
    await vi.advanceTimersByTimeAsync(1);
    expect(stateOf(actor)).toBe('running.stopping');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(world.count('KILL')).toBe(1);
  });

  it('TTL never fires while busy, and counts again from the last RELEASE', async () => {
    const { actor } = startReady({ checkEndpoint: 'none', ttlMs: 5_000 });
    await vi.advanceTimersByTimeAsync(4_000);
    actor.send({ type: 'ACQUIRE' });
    actor.send({ type: 'ACQUIRE' });
    expect(stateOf(actor)).toBe('running.ready.busy');
    await vi.advanceTimersByTimeAsync(50_000);
    expect(stateOf(actor)).toBe('running.ready.busy');
    actor.send({ type: 'RELEASE' });
    await vi.advanceTimersByTimeAsync(50_000);
    expect(stateOf(actor)).toBe('running.ready.busy');
    actor.send({ type: 'RELEASE' });
    expect(stateOf(actor)).toBe('running.ready.idle');
    await vi.advanceTimersByTimeAsync(4_999);
    expect(stateOf(actor)).toBe('running.ready.idle');
    await vi.advanceTimersByTimeAsync(1);
    expect(stateOf(actor)).toBe('running.stopping');
  });

  it('a request granted before a crash releases safely later; a restart with no requests is idle', () => {
    const { world, actor } = startReady({ checkEndpoint: 'none' });
    actor.send({ type: 'ACQUIRE' });
    world.exited(1);
    actor.send({ type: 'RELEASE' });
    expect(actor.getSnapshot().context.inFlight).toBe(0);
    const w = replyRecorder();
    actor.send({ type: 'ENSURE_READY', replyTo: w.ref });
    world.spawned();
    expect(stateOf(actor)).toBe('running.ready.idle');
  });

  it('SHUTDOWN while stopped: halted; later starts are refused, stops answered', () => {
    const { world, actor } = start();
    actor.send({ type: 'SHUTDOWN' });
    expect(stateOf(actor)).toBe('shutdown');
    expect(actor.getSnapshot().hasTag('halted')).toBe(true);
    const w = replyRecorder();
    actor.send({ type: 'ENSURE_READY', replyTo: w.ref });
    expect(w.replies).toEqual([{ type: 'PROCESS.FAILED', model: 'a', error: 'swapstate is shutting down' }]);
    const s = replyRecorder();
    actor.send({ type: 'STOP', replyTo: s.ref });
    expect(s.replies).toEqual([{ type: 'PROCESS.STOPPED', model: 'a' }]);
    expect(world.log).toEqual([]);
  });

  it('SHUTDOWN while starting: waiters FAILED, process stopped with the given grace, then halted', async () => {
    const { world, actor, first } = startReady();
    actor.send({ type: 'SHUTDOWN', graceMs: 500 });
    expect(first.replies).toEqual([{ type: 'PROCESS.FAILED', model: 'a', error: 'swapstate is shutting down' }]);
    expect(stateOf(actor)).toBe('running.stopping');
    const w = replyRecorder();
    actor.send({ type: 'ENSURE_READY', replyTo: w.ref });
    expect(w.replies[0]).toMatchObject({ type: 'PROCESS.FAILED' });
    await vi.advanceTimersByTimeAsync(500);
    expect(world.count('KILL')).toBe(1);
    world.exited(null, 'SIGKILL');
    expect(stateOf(actor)).toBe('shutdown');
    expect(world.count('spawn')).toBe(1);
  });

  it('SHUTDOWN while ready: stopping, then halted', () => {
    const { world, actor } = startReady({ checkEndpoint: 'none' });
    actor.send({ type: 'SHUTDOWN', graceMs: 1_000 });
    expect(stateOf(actor)).toBe('running.stopping');
    world.exited(0);
    expect(stateOf(actor)).toBe('shutdown');
    expect(actor.getSnapshot().hasTag('resident')).toBe(false);
  });

  it('crash-loop protection: after 3 failed starts in a row starts are refused, backing off 1 s, 2 s, ...', async () => {
    const { world, actor } = start();
    const fail = () => {
      const w = replyRecorder();
      actor.send({ type: 'ENSURE_READY', replyTo: w.ref });
      world.exited(1);
      return w.replies;
    };
    expect(fail()[0]).toMatchObject({ type: 'PROCESS.FAILED', error: 'upstream command exited prematurely (exit code 1)' });
    expect(fail()[0]).not.toHaveProperty('retryAfterMs');
    expect(stateOf(actor)).toBe('stopped');
    fail();
    expect(stateOf(actor)).toBe('backoff');
    expect(actor.getSnapshot().hasTag('backoff')).toBe(true);
    expect(actor.getSnapshot().hasTag('resident')).toBe(false);
    // Refused at once, with the last error and how long to wait; nothing is spawned.
    const refused = replyRecorder();
    actor.send({ type: 'ENSURE_READY', replyTo: refused.ref });
    expect(refused.replies).toEqual([
      { type: 'PROCESS.FAILED', model: 'a', error: 'upstream command exited prematurely (exit code 1)', retryAfterMs: 1_000 },
    ]);
    expect(world.count('spawn')).toBe(3);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(stateOf(actor)).toBe('stopped');
    fail(); // the 4th failure doubles the backoff
    expect(stateOf(actor)).toBe('backoff');
    expect(actor.getSnapshot().context.backoffMs).toBe(2_000);
    await vi.advanceTimersByTimeAsync(2_000);
    // A start that works resets the count.
    const ok = replyRecorder();
    actor.send({ type: 'ENSURE_READY', replyTo: ok.ref });
    world.spawned();
    world.healthOk();
    await vi.advanceTimersByTimeAsync(0);
    expect(ok.replies).toEqual([{ type: 'PROCESS.READY', model: 'a' }]);
    expect(actor.getSnapshot().context.consecutiveFailures).toBe(0);
  });

  it('backoff grows to 60 s at most; an aborted start does not count as a failure', async () => {
    const { backoffFor } = await import('../../machines/process.machine.ts');
    expect([3, 4, 5, 8, 9, 20].map(backoffFor)).toEqual([1_000, 2_000, 4_000, 32_000, 60_000, 60_000]);
    const { world, actor } = start();
    for (let i = 0; i < 5; i++) {
      const w = replyRecorder();
      actor.send({ type: 'ENSURE_READY', replyTo: w.ref });
      actor.send({ type: 'STOP' });
      world.exited(0);
    }
    expect(actor.getSnapshot().context.consecutiveFailures).toBe(0);
    expect(stateOf(actor)).toBe('stopped');
  });
  it('counts crashes apart from starts: swaps, unloads and aborted starts are not crashes', async () => {
    const { world, actor } = startReady({ checkEndpoint: 'none' });
    const ctx = () => actor.getSnapshot().context;
    const ensure = () => actor.send({ type: 'ENSURE_READY', replyTo: replyRecorder().ref });
    // Two ordinary stops and starts (what a swap does), and a start stopped before it was ready.
    for (let i = 0; i < 2; i++) {
      actor.send({ type: 'STOP' });
      world.exited(0);
      ensure();
      world.spawned();
    }
    actor.send({ type: 'STOP' });
    world.exited(0);
    ensure();
    actor.send({ type: 'STOP' });
    world.exited(0);
    expect(ctx()).toMatchObject({ starts: 4, crashes: 0 });
    // An exit nobody asked for is one; so is a start that fails (exit, health check timeout).
    ensure();
    world.spawned();
    world.exited(139, null);
    expect(ctx()).toMatchObject({ starts: 5, crashes: 1 });
    ensure();
    world.exited(1, null);
    expect(ctx()).toMatchObject({ starts: 6, crashes: 2 });
    const slow = start({ healthCheckTimeoutMs: 1_000 });
    slow.actor.send({ type: 'ENSURE_READY', replyTo: replyRecorder().ref });
    slow.world.spawned();
    await vi.advanceTimersByTimeAsync(1_000);
    slow.world.exited(0);
    expect(slow.actor.getSnapshot().context).toMatchObject({ starts: 1, crashes: 1 });
  });

  it('the pid is known while the process exists and null once it has exited, however it ended', () => {
    const { world, actor } = startReady({ checkEndpoint: 'none' });
    const pid = () => actor.getSnapshot().context.pid;
    expect(pid()).toBeGreaterThan(0);
    actor.send({ type: 'STOP' });
    expect(pid()).toBeGreaterThan(0); // stopping: the process is still there
    world.exited(0);
    expect(stateOf(actor)).toBe('stopped');
    expect(pid()).toBeNull();
    actor.send({ type: 'ENSURE_READY', replyTo: replyRecorder().ref });
    expect(pid()).toBeNull(); // launching: not spawned yet
    world.spawned();
    expect(pid()).toBeGreaterThan(0);
    world.exited(139, null); // a crash
    expect(pid()).toBeNull();
  });

  it('resident exactly while running: the tag sits on starting, ready and stopping, so eviction sees what it always saw', () => {
    // Every atomic state, with the tags of itself and its ancestors (what hasTag answers there).
    const leaves: Array<{ path: string[]; tags: Set<string> }> = [];
    const walk = (node: AnyStateNode, tags: string[]) => {
      const here = [...tags, ...node.tags];
      const children = Object.values(node.states);
      if (children.length === 0) leaves.push({ path: node.path, tags: new Set(here) });
      for (const child of children) walk(child, here);
    };
    walk(processMachine.root, []);
    expect(leaves.map((l) => l.path.join('.')).sort()).toEqual(
      ['backoff', 'running.ready.busy', 'running.ready.idle', 'running.starting.launching', 'running.starting.probing', 'running.stopping', 'shutdown', 'stopped'],
    );
    for (const leaf of leaves) expect(leaf.tags.has('resident'), leaf.path.join('.')).toBe(leaf.path[0] === 'running');
    expect(processMachine.root.states['running']!.tags).toEqual([]);
  });
});
