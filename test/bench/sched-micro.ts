/**
 * The scheduler's own cost per request, without HTTP: open a ticket, await its grant, call
 * done, on a ready model. `npx tsx test/bench/sched-micro.ts [N] [in parallel, default 8]`.
 */
import { startScheduler } from '../../src/runtime/scheduler-runtime.ts';
import { freePort, UPSTREAM } from '../helpers/real-upstreams.ts';
import { loadConfigText } from '../../src/config/load.ts';
import { schedulerInputFor } from '../../src/runtime/scheduler-input.ts';

const n = Number(process.argv[2] ?? 20000);
const parallel = Number(process.argv[3] ?? 8);
const port = await freePort();
const cfg = loadConfigText(`models:\n  m:\n    cmd: ${process.execPath} ${UPSTREAM} --port ${port}\n    proxy: http://127.0.0.1:${port}\n`, 'micro.yaml');
const rt = startScheduler({ input: schedulerInputFor(cfg) });
async function one() {
  const t = rt.request('m');
  await t.admission;
  await t.grant;
  t.done();
}
await one();
for (let round = 0; round < 3; round++) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  // `parallel` requests in flight at once (8: like a loaded server)
  await Promise.all(Array.from({ length: parallel }, async () => { for (let i = 0; i < n / parallel; i++) await one(); }));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  console.log(`round ${round}: ${((cpu.user + cpu.system) / n).toFixed(1)} µs CPU per request, ${((ms * 1000) / n).toFixed(1)} µs wall`);
}
await rt.shutdown(5000);
