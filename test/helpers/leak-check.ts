/**
 * What a client may leave behind, checked after a test: a scheduler slot, a queue entry or a
 * swap; a client connection; an upstream request holding an agent socket; a timer; a model
 * process. Each check polls with a deadline: the server frees things as events arrive.
 */
import { expect } from 'vitest';
import { processGroups } from '../../src/runtime/process-groups.ts';
import { until } from './real-upstreams.ts';
import type { RunningServer } from './server-harness.ts';

/** Timers alive in this process right now (Node's active resources of type Timeout). */
export function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

function schedulerBook(srv: RunningServer) {
  const { reserved, inFlight, queue, active } = srv.server.state().runtime.actor.getSnapshot().context.fifo;
  return { reserved, inFlight, queue, active };
}

/** No slot, queue entry or swap is held, no client connection is open, no upstream request is left. */
export async function expectNothingHeld(srv: RunningServer): Promise<void> {
  const empty = { reserved: {}, inFlight: {}, queue: [], active: [] };
  await until(() => JSON.stringify(schedulerBook(srv)) === JSON.stringify(empty), 'no slot, queue entry or swap to be held', 15_000).catch(() => {
    expect(schedulerBook(srv)).toEqual(empty);
  });
  await until(async () => (await srv.server.openConnections()) === 0, 'every client connection to close', 15_000).catch(async () => {
    expect(await srv.server.openConnections(), 'client connections still open').toBe(0);
  });
  await until(() => srv.server.state().runtime.upstreams.busy() === 0, 'no upstream request to be left open', 15_000).catch(() => {
    expect(srv.server.state().runtime.upstreams.busy(), 'upstream requests still holding an agent socket').toBe(0);
  });
}

/**
 * Unloads every model, then checks that no process group of ours is alive and that the
 * timers are back to `baseline` (taken with no model running).
 */
export async function expectNoProcessOrTimerLeft(srv: RunningServer, baseline: number): Promise<void> {
  await srv.server.state().runtime.unload();
  await until(() => processGroups.list().length === 0, 'every process group to be reaped', 15_000).catch(() => {
    expect(processGroups.list(), 'process groups still tracked').toEqual([]);
  });
  await until(() => activeTimers() <= baseline, `timers back to ${baseline}`, 15_000).catch(() => {
    expect(activeTimers(), 'timers left').toBeLessThanOrEqual(baseline);
  });
}
