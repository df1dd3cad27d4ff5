// @ts-nocheck: a bench tool in plain JS (a preload must not need tsx).
// Preload (`npx tsx test/bench/burst-path.ts -- --import $PWD/test/bench/loop-blocks.mjs`): records the windows in which
// the event loop was blocked > 12 ms after the first 1.5 s, as [start µs, end µs, process CPU µs] (monotonic, like a
// .cpuprofile) in $LAG_OUT. Read them against a --prof profile with loop-blocks-profile.mjs.
import { writeFileSync } from 'node:fs';
const out = process.env.LAG_OUT ?? `/tmp/loop-blocks-${process.pid}.json`;
const wins = [];
let last = process.hrtime.bigint(); const t0 = last; let lastCpu = process.cpuUsage();
const t = setInterval(() => {
  const now = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  // [start µs, end µs, process CPU µs in the window (all threads: GC helpers included)]
  if (now - t0 > 1_500_000_000n && now - last > 12_000_000n) wins.push([Number(last / 1000n), Number(now / 1000n), cpu.user + cpu.system - lastCpu.user - lastCpu.system]);
  last = now; lastCpu = cpu;
}, 2);
t.unref();
const save = () => writeFileSync(out, JSON.stringify(wins));
process.on('exit', save);
for (const s of ['SIGTERM', 'SIGINT']) process.prependListener(s, save);
setInterval(save, 1000).unref();
