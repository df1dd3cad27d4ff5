/**
 * A process actor that throws is replaced by a fresh one under the same id (the scheduler's
 * `childError`). `/api/state` and `/api/events` follow the replacement: the states it goes
 * through after the respawn show up in both, as those of the actor it replaced did.
 *
 * The actor throws for real, from inside: the runtime provides its log actions, and here the
 * logger fails while the actor handles its server's unexpected exit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ModelStatusRecord } from '../../src/http/model-status.ts';
import type { StateSnapshot } from '../../src/runtime/state-view.ts';
import { until } from '../helpers/real-upstreams.ts';
import { chat, demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';
import { SseReader, type SseFrame } from '../helpers/sse.ts';

let srv: RunningServer | null = null;
let events: SseReader | null = null;
afterEach(async () => {
  events?.close();
  events = null;
  await srv?.stop();
  srv = null;
});

const stateOf = (f: SseFrame, id: string) => (f.data as ModelStatusRecord[]).find((m) => m.id === id)?.state;
const processOf = (f: SseFrame, model: string) =>
  f.type === 'state' ? (f.data as StateSnapshot).processes.find((p) => p.model === model) : undefined;
const apiState = async (url: string, model: string) =>
  ((await (await fetch(`${url}/api/state`)).json()) as StateSnapshot).processes.find((p) => p.model === model)!;

describe('a respawned process actor', () => {
  it('is followed by /api/state and /api/events', async () => {
    srv = await startServer(`models:\n${demoModel('a')}`);
    const { url, logs } = srv;
    events = await SseReader.open(url);
    await events.waitFor('the initial state', (f) => f.type === 'state');
    expect((await chat(url, 'a')).status).toBe(200);
    await events.waitFor('a ready', (f) => f.type === 'modelStatus' && stateOf(f, 'a') === 'ready');
    const runtime = srv.server.state().runtime;
    const dead = runtime.actor.getSnapshot().children['process:a'];
    const first = await apiState(url, 'a');
    expect(first).toMatchObject({ state: 'ready', starts: 1 });

    // The process actor's `exitedUnexpectedly` action throws: the actor fails, the scheduler
    // replaces it with a fresh (stopped) one.
    const warn = logs.logger.warn.bind(logs.logger);
    let thrown = false;
    logs.logger.warn = ((message: string) => {
      if (!thrown && message.includes('exited unexpectedly')) {
        thrown = true;
        throw new Error('the logger broke');
      }
      return warn(message);
    }) as typeof logs.logger.warn;
    const from = events.frames.length;
    process.kill(first.pid!, 'SIGKILL');
    await until(() => runtime.actor.getSnapshot().children['process:a'] !== dead, 'the process actor to be respawned');
    expect(thrown).toBe(true);
    expect((dead!.getSnapshot() as { status: string }).status).toBe('error');
    expect(logs.proxy.history()).toContain('actor process:a failed: the logger broke');
    expect(runtime.actor.getSnapshot().status).toBe('active');

    // The fresh actor is what both follow from now on: stopped, then a start.
    await events.waitFor('a stopped', (f) => f.type === 'modelStatus' && stateOf(f, 'a') === 'stopped', from);
    expect(await apiState(url, 'a')).toMatchObject({ state: 'stopped', pid: null, starts: 0 });
    const restartAt = Date.now();
    expect((await chat(url, 'a')).status).toBe(200);
    await events.waitFor('a ready again', (f) => f.type === 'modelStatus' && stateOf(f, 'a') === 'ready', from);
    expect(events.ofType('modelStatus', from).map((f) => stateOf(f, 'a'))).toEqual(['stopped', 'starting', 'ready']);

    const again = await apiState(url, 'a');
    expect(again).toMatchObject({ state: 'ready', starts: 1 });
    expect(again.pid).toBeGreaterThan(0);
    expect(again.pid).not.toBe(first.pid);
    // Since when: the new actor's ready, not the dead one's.
    expect(Date.parse(again.since)).toBeGreaterThanOrEqual(restartAt);
    await events.waitFor('state: a ready on its new pid', (f) => processOf(f, 'a')?.pid === again.pid && processOf(f, 'a')?.state === 'ready', from);
  });
});
