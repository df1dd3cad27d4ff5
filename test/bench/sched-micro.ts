/**
 * The scheduler's own cost per request, without HTTP: open a ticket, await its grant, call
 * done, on a ready model. `npx tsx test/bench/sched-micro.ts [N] [in parallel, default 8]`.
 */
import { readyScheduler } from './sched-one.ts';

const n = Number(process.argv[2] ?? 20000);
const parallel = Number(process.argv[3] ?? 8);
const { rt, one } = await readyScheduler();
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
