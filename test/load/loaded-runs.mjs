#!/usr/bin/env node
// @ts-check
// The suite on a loaded machine: runs `npm test` N times in a row while cpu-hog.mjs keeps
// every core busy beside it, and prints how long each run took and whether it passed.
// Exits 1 if any run failed.
//   node test/load/loaded-runs.mjs [--runs 5] [--hog-workers N (default: the machine's cores)]
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

const arg = (/** @type {string} */ name, /** @type {number} */ fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const runs = arg('runs', 5);
const hogWorkers = arg('hog-workers', availableParallelism());
const root = fileURLToPath(new URL('../..', import.meta.url));

const hog = spawn(process.execPath, [fileURLToPath(new URL('./cpu-hog.mjs', import.meta.url)), '--workers', String(hogWorkers)], { stdio: 'ignore' });
const results = [];
try {
  for (let i = 1; i <= runs; i++) {
    const started = Date.now();
    const r = spawnSync('npm', ['test'], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    const summary = /(\d+) passed, (\d+) failed/.exec(r.stdout ?? '')?.[0] ?? 'no summary';
    const ok = r.status === 0;
    results.push({ run: i, ok, seconds, summary });
    process.stdout.write(`run ${i}: ${ok ? 'passed' : 'FAILED'} in ${seconds} s (${summary})\n`);
    if (!ok) process.stdout.write(`${(r.stdout ?? '').split('\n').filter((l) => /FAIL|×|Error/.test(l)).slice(0, 20).join('\n')}\n`);
  }
} finally {
  hog.kill('SIGTERM');
}
process.stdout.write(`${JSON.stringify({ hogWorkers, results })}\n`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
