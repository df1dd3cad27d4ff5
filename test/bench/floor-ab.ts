/**
 * Two bare pass-through proxies side by side (interleaved, same upstream, same load
 * generator): CPU per request at 32 connections and the 1-connection p50 of each. For asking
 * "would another HTTP client (or another way to forward) lower the floor?" before building it
 * into the request path. `npx tsx test/bench/floor-ab.ts A.mjs B.mjs [-- node args]`; each
 * script is run as `node [args] <script> <listen port> <upstream port>` like floor.mjs.
 * docs/perf/issue16-phase7.md has the undici run.
 */
import { spawn } from 'node:child_process';
import { basename, resolve } from 'node:path';
import { freePort } from '../helpers/real-upstreams.ts';
import { binNodeFlags, cpuMs, httpPost, startLoadGen, until, UPSTREAM } from './procs.ts';

const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const scripts = (dd === -1 ? argv : argv.slice(0, dd)).map((s) => resolve(s));
const nodeArgs = dd === -1 ? binNodeFlags() : argv.slice(dd + 1);
if (scripts.length !== 2) throw new Error('usage: floor-ab.ts A.mjs B.mjs [-- node args]');
const upPort = await freePort();
const ports = [await freePort(), await freePort()];
const procs = [
  spawn(process.execPath, [UPSTREAM, '--port', String(upPort)], { stdio: 'ignore' }),
  ...scripts.map((s, i) => spawn(process.execPath, [...nodeArgs, s, String(ports[i]), String(upPort)], { stdio: 'ignore' })),
];
const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
const url = (p: number) => `http://127.0.0.1:${p}/v1/chat/completions`;
try {
  console.log(`node ${process.version}, flags ${nodeArgs.join(' ') || '(none)'}`);
  for (const p of [upPort, ...ports]) {
    await until(async () => (await httpPost(url(p), body).catch(() => ({ status: 0 }))).status === 200, `port ${p} to answer`, 10_000);
  }
  const gen = await startLoadGen();
  for (const p of ports) await gen.conc(url(p), body, 32, 1000, 1e9); // warm-up
  for (let round = 0; round < 4; round++) {
    for (const i of round % 2 ? [1, 0] : [0, 1]) {
      const pid = procs[i + 1]!.pid!;
      const c0 = cpuMs(pid);
      const r = await gen.conc(url(ports[i]!), body, 32, 4000, 1e9);
      const cpu = cpuMs(pid) - c0;
      const s = await gen.seq(url(ports[i]!), body, 2000);
      const sorted = [...s.latenciesUs].sort((a, b) => a - b);
      const p50 = sorted[sorted.length >> 1]!;
      console.log(
        `${basename(scripts[i]!)}: ${((cpu * 1000) / r.requests).toFixed(1)} µs CPU/request at 32 conn (${r.requests} requests), ` +
          `1-conn p50 ${p50.toFixed(0)} µs; statuses ${JSON.stringify(r.statuses)} / ${JSON.stringify(s.statuses)}`,
      );
    }
  }
  gen.close();
} finally {
  for (const p of procs) p.kill('SIGKILL');
}
