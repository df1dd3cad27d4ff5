/**
 * The liveness checks behind `/health`: it says 503 with a reason when the actor tree has
 * stopped or the event loop stalled, instead of "OK" while nothing can be served.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LoopMonitor } from '../../src/observability/loop-monitor.ts';
import { until } from '../helpers/real-upstreams.ts';
import { demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';

let srv: RunningServer | null = null;
afterEach(async () => {
  await srv?.stop();
  srv = null;
});

describe('/health liveness', () => {
  it('is OK while the scheduler runs, 503 with the reason once it has stopped', async () => {
    srv = await startServer(`models:\n${demoModel('a')}`);
    expect(await (await fetch(`${srv.url}/health`)).text()).toBe('OK');
    srv.server.state().runtime.actor.stop();
    const res = await fetch(`${srv.url}/health`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe('scheduler is not running (stopped)');
    // A request now is refused at once rather than left waiting on a stopped actor.
    const chat = await fetch(`${srv.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'a' }),
    });
    expect(chat.status).toBe(503);
  });

  it('is 503 after the event loop stalled', async () => {
    srv = await startServer(`models:\n${demoModel('a')}`);
    const until2500 = Date.now() + 2_500;
    while (Date.now() < until2500) {
      /* block the event loop, as a runaway synchronous task would */
    }
    let last = 0;
    let body = '';
    await until(async () => {
      const res = await fetch(`${srv!.url}/health`);
      last = res.status;
      body = await res.text();
      return last === 503;
    }, '/health to report the stall', 3_000);
    expect(body).toContain('event loop stalled for');
  });
});

describe('LoopMonitor', () => {
  it('reports a stall over the threshold for the window, then forgets it', () => {
    let now = 0;
    const m = new LoopMonitor(500, 2_000, 10_000, () => now);
    m.start();
    m.stop();
    now = 500;
    m.tick();
    expect(m.recentStall()).toBeNull();
    now = 3_500; // 2.5 s late
    m.tick();
    expect(m.recentStall()).toEqual({ ms: 2_500, at: 3_500 });
    now = 13_501;
    expect(m.recentStall()).toBeNull();
  });
});
