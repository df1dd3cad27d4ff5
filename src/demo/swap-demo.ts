/**
 * A console demo of the actor core, until the HTTP server exists: two demo models in one
 * swap group, requests A, A, B, and the timeline of what the scheduler did.
 *
 * Run: `npm run demo:core`.
 */
import { fileURLToPath } from 'node:url';
import type { SchedulerInput } from '../../machines/scheduler.machine.ts';
import { startScheduler } from '../runtime/scheduler-runtime.ts';

const upstream = fileURLToPath(new URL('./upstream.mjs', import.meta.url));
const t0 = Date.now();
const say = (msg: string) => console.log(`${String(Date.now() - t0).padStart(5)} ms  ${msg}`);

function model(id: string, port: number, loadDelayMs: number): SchedulerInput['models'][string] {
  return {
    process: {
      model: id,
      cmd: `${process.execPath} ${upstream} --port ${port} --id ${id} --load-delay ${loadDelayMs}`,
      env: {},
      proxy: `http://127.0.0.1:${port}`,
      checkEndpoint: '/health',
      healthCheckTimeoutMs: 15_000,
      healthCheckIntervalMs: 100,
      ttlMs: 0,
      unloadGraceMs: 5_000,
    },
  };
}

const swapstate = startScheduler({
  input: { models: { a: model('a', 18081, 300), b: model('b', 18082, 600) }, evictGraceMs: 5_000 },
  log: { info: say, warn: say },
});

const requests = ['a', 'a', 'b'].map((m, i) => {
  const ticket = swapstate.request(m);
  say(`request ${i + 1} for ${m}`);
  return ticket.grant.then(async (g) => {
    say(`request ${i + 1} for ${m}: ${g.ok ? 'granted' : `${g.error.code}${g.error.message ? `: ${g.error.message}` : ''}`}`);
    await new Promise((r) => setTimeout(r, 200)); // "serving"
    ticket.done();
  });
});
await Promise.all(requests);
await swapstate.shutdown(5_000);
say('shut down; every upstream stopped');
