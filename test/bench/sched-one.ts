/**
 * The scheduler of sched-micro.ts and sched-alloc.ts: one ready model `m` (its demo upstream
 * started by the first request), and one request's round trip: ticket, admission, grant, done.
 */
import { loadConfigText } from '../../src/config/load.ts';
import { schedulerInputFor } from '../../src/runtime/scheduler-input.ts';
import { startScheduler, type SchedulerRuntime } from '../../src/runtime/scheduler-runtime.ts';
import { freePort, UPSTREAM } from '../helpers/real-upstreams.ts';

export async function readyScheduler(): Promise<{ rt: SchedulerRuntime; one: () => Promise<void> }> {
  const port = await freePort();
  const cfg = loadConfigText(`models:\n  m:\n    cmd: ${process.execPath} ${UPSTREAM} --port ${port}\n    proxy: http://127.0.0.1:${port}\n`, 'micro.yaml');
  const rt = startScheduler({ input: schedulerInputFor(cfg) });
  const one = async (): Promise<void> => {
    const t = rt.request('m');
    await t.admission;
    await t.grant;
    t.done();
  };
  await one();
  return { rt, one };
}
