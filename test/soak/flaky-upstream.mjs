#!/usr/bin/env node
// @ts-check
/**
 * The soak run's flaky model: the demo upstream (src/demo/upstream.mjs) with a crash timer
 * drawn afresh for every start, so the same `cmd` sometimes dies while it starts and
 * otherwise dies a few seconds after it became ready.
 *
 *   flaky-upstream.mjs [--p-start-crash 0.25] <upstream.mjs options>
 *
 * `--p-start-crash` is the probability that a start crashes before the model is ready
 * (`--crash-after` below `--load-delay`); the other starts crash 1.5 to 6 s after loading.
 * The draw is seeded from `SOAK_SEED` and the pid. No extra process: the upstream is imported
 * into this one, so swapstate's process group and signals reach it unchanged.
 */

const UPSTREAM = new URL('../../src/demo/upstream.mjs', import.meta.url);

/** @param {number} a */
function mulberry32(a) {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rest = [];
let pStartCrash = 0.25;
let loadDelay = 0;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i] ?? '';
  if (arg === '--p-start-crash') {
    pStartCrash = Number(argv[++i]);
    continue;
  }
  if (arg === '--load-delay') loadDelay = Number(argv[i + 1]);
  rest.push(arg);
}

const seed = Number(process.env['SOAK_SEED'] ?? '0') || 0;
const rng = mulberry32((seed * 2654435761) ^ process.pid);
const crashAfter =
  rng() < pStartCrash
    ? Math.floor(rng() * (loadDelay + 50)) // before the load delay is over: dies while starting
    : loadDelay + 1_500 + Math.floor(rng() * 4_500); // dies while ready, maybe mid-request

const [node = process.execPath] = process.argv;
process.argv = [node, UPSTREAM.pathname, ...rest, '--crash-after', String(crashAfter)];
await import(UPSTREAM.href);
