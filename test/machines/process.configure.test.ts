/**
 * CONFIGURE: a reload's new settings for a running process (ttl, unloadTimeout, health-check
 * timing), applied without a restart. The TTL of a kept model keeps counting when its ttl is
 * unchanged; a changed ttl starts the idle countdown again, with the new ttl, from the reload.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor } from 'xstate';
import { processMachine, type ProcessConfig } from '../../machines/process.machine.ts';
import { FakeWorld, processConfig, replyRecorder } from '../helpers/fake-process-world.ts';

function startReady(over: Partial<ProcessConfig> = {}) {
  const world = new FakeWorld();
  const cfg = processConfig({ checkEndpoint: 'none', ...over });
  const actor = createActor(processMachine.provide({ actors: world.actors() }), { input: cfg });
  actor.subscribe({ error: (err) => { throw err; } });
  actor.start();
  actor.send({ type: 'ENSURE_READY', replyTo: replyRecorder().ref });
  world.spawned();
  return { world, actor, cfg };
}

const stateOf = (actor: ReturnType<typeof startReady>['actor']) => JSON.stringify(actor.getSnapshot().value);

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('process machine: CONFIGURE (reload)', () => {
  it('same ttl, other settings changed: the TTL keeps counting from the last request, the new grace applies', async () => {
    const { world, actor, cfg } = startReady({ ttlMs: 5_000, unloadGraceMs: 10_000 });
    await vi.advanceTimersByTimeAsync(3_000);
    actor.send({ type: 'CONFIGURE', cfg: { ...cfg, unloadGraceMs: 1_000 } });
    await vi.advanceTimersByTimeAsync(1_999);
    expect(stateOf(actor)).toBe('{"running":{"ready":"idle"}}');
    await vi.advanceTimersByTimeAsync(1);
    expect(stateOf(actor)).toBe('{"running":"stopping"}');
    expect(world.termGraces).toEqual([1_000]);
    expect(world.count('spawn')).toBe(1);
  });

  it('a changed ttl counts again from the reload, with the new ttl', async () => {
    const { actor, cfg } = startReady({ ttlMs: 5_000 });
    await vi.advanceTimersByTimeAsync(4_000);
    actor.send({ type: 'CONFIGURE', cfg: { ...cfg, ttlMs: 3_000 } });
    await vi.advanceTimersByTimeAsync(2_999);
    expect(stateOf(actor)).toBe('{"running":{"ready":"idle"}}');
    await vi.advanceTimersByTimeAsync(1);
    expect(stateOf(actor)).toBe('{"running":"stopping"}');
  });

  it('ttl set to 0 by a reload: the model is no longer unloaded', async () => {
    const { actor, cfg } = startReady({ ttlMs: 5_000 });
    await vi.advanceTimersByTimeAsync(4_000);
    actor.send({ type: 'CONFIGURE', cfg: { ...cfg, ttlMs: 0 } });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(stateOf(actor)).toBe('{"running":{"ready":"idle"}}');
  });

  it('while busy, the new ttl applies once the model is idle again', async () => {
    const { actor, cfg } = startReady({ ttlMs: 5_000 });
    actor.send({ type: 'ACQUIRE' });
    actor.send({ type: 'CONFIGURE', cfg: { ...cfg, ttlMs: 2_000 } });
    expect(stateOf(actor)).toBe('{"running":{"ready":"busy"}}');
    actor.send({ type: 'RELEASE' });
    await vi.advanceTimersByTimeAsync(1_999);
    expect(stateOf(actor)).toBe('{"running":{"ready":"idle"}}');
    await vi.advanceTimersByTimeAsync(1);
    expect(stateOf(actor)).toBe('{"running":"stopping"}');
  });

  it('stopped: the settings are taken for the next start', async () => {
    const world = new FakeWorld();
    const cfg = processConfig({ checkEndpoint: 'none', ttlMs: 0 });
    const actor = createActor(processMachine.provide({ actors: world.actors() }), { input: cfg });
    actor.start();
    actor.send({ type: 'CONFIGURE', cfg: { ...cfg, ttlMs: 1_000 } });
    expect(actor.getSnapshot().context.cfg.ttlMs).toBe(1_000);
    expect(world.count('spawn')).toBe(0);
    actor.stop();
  });
});
