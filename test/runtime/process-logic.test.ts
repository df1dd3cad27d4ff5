/**
 * One process logic, chosen once: `startScheduler({ processLogic })` is the only place a
 * process machine is picked. The scheduler spawns it for every model, the state view describes
 * its snapshots, and `/api/machines/process` draws it, all read from the runtime.
 */
import { afterEach, describe, expect, it } from 'vitest';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { processMachine } from '../../machines/process.machine.ts';
import { sleepModeProcessMachine } from '../../machines/process.sleep.ts';
import { sleepyProcessMachine } from '../../docs/examples/sleep-mode.ts';
import { mountRoutes } from '../../src/http/route-list.ts';
import { uiRoutes } from '../../src/http/ui-routes.ts';
import { machineChart } from '../../src/observability/statechart.ts';
import { startScheduler, type SchedulerRuntime } from '../../src/runtime/scheduler-runtime.ts';
import { processConfig } from '../helpers/fake-process-world.ts';

const input = {
  models: { a: { process: processConfig({ model: 'a' }) }, b: { process: processConfig({ model: 'b' }) } },
  evictGraceMs: 1_000,
};

let runtime: SchedulerRuntime | null = null;
afterEach(async () => {
  await runtime?.shutdown(0);
  runtime = null;
});

/** The chart `/api/machines/process` serves for this runtime, through the real route. */
async function servedChart(rt: SchedulerRuntime): Promise<unknown> {
  const app = express();
  mountRoutes(app, uiRoutes({ current: () => ({ runtime: rt }) } as never).routes, (_req, _res, next) => next());
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/machines/process`);
    expect(res.status).toBe(200);
    return await res.json();
  } finally {
    server.close();
  }
}

/** The state node keys of the machine a spawned process actor runs. */
function runningStatesOf(rt: SchedulerRuntime, model: string): string[] {
  const child = rt.actor.getSnapshot().children[`process:${model}`] as { getSnapshot(): { machine: typeof processMachine } };
  return Object.keys(child.getSnapshot().machine.root.states['running']!.states);
}

describe('the process logic is chosen once, by startScheduler', () => {
  it('by default the machine with sleep mode: spawned for every model, drawn by /api/machines/process', async () => {
    runtime = startScheduler({ input });
    expect(runningStatesOf(runtime, 'a')).toEqual(['starting', 'ready', 'stopping', 'sleeping', 'waking']);
    expect(runtime.processChart()).toEqual(machineChart(sleepModeProcessMachine));
    expect(await servedChart(runtime)).toEqual(JSON.parse(JSON.stringify(machineChart(sleepModeProcessMachine))));
    expect(runtime.state().processes.map((p) => [p.model, p.state])).toEqual([['a', 'stopped'], ['b', 'stopped']]);
  });

  it("given an extended machine, the scheduler spawns it, the chart draws it, the state view reads it", async () => {
    runtime = startScheduler({ input, processLogic: sleepyProcessMachine });
    for (const model of ['a', 'b']) expect(runningStatesOf(runtime, model)).toEqual(['starting', 'ready', 'stopping', 'sleeping', 'waking']);
    const chart = runtime.processChart();
    expect(chart).toEqual(machineChart(sleepyProcessMachine));
    expect(await servedChart(runtime)).toEqual(JSON.parse(JSON.stringify(chart)));
    expect(runtime.state().processes.map((p) => [p.model, p.state, p.value])).toEqual([['a', 'stopped', 'stopped'], ['b', 'stopped', 'stopped']]);
  });
});
