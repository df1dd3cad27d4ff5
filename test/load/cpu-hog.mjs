#!/usr/bin/env node
// @ts-check
// A CPU hog, for running the suite on a loaded machine (issue 11: "5 runs in a row while
// another CPU hog runs beside it"): like `stress --cpu N`, N worker threads that spin,
// until the process gets SIGINT or SIGTERM (or --seconds S runs out).
//   node test/load/cpu-hog.mjs [--workers N (default: the machine's cores)] [--seconds S]
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** @param {string} name */
const arg = (name) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : Number(process.argv[i + 1]);
};
const workers = arg('workers') ?? availableParallelism();
const seconds = arg('seconds');

const spin = `let x = 0; for (;;) { for (let i = 0; i < 1e7; i++) x = (x * 31 + i) | 0; }`;
const threads = Array.from({ length: workers }, () => new Worker(spin, { eval: true }));
process.stdout.write(`cpu-hog: ${workers} spinning thread(s), pid ${process.pid}\n`);

const stop = () => {
  for (const t of threads) void t.terminate();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
if (seconds !== undefined) setTimeout(stop, seconds * 1000);
