// @ts-nocheck: a plain JS launcher (npm test runs it before anything is compiled).
/**
 * Runs the fault matrix (`vitest run ... test/fault-matrix`) alone on this machine: one
 * fault matrix at a time, whichever checkout or suite started it.
 *
 * Why: its cells measure stops and starts against grace periods and a 15 s health-check
 * timeout, with several real processes per cell. `npm test` already runs it after the rest of
 * the suite for that reason. But two suites started together on a 2-core machine (two
 * checkouts, two Node lines) ran their matrices together, and their starts were starved past
 * those bounds. Measured: 4 of 35 cells failed in each of two `npm test` run at once, while
 * the rest of each suite passed. So a second matrix waits for the first: the suites still run
 * at once, and only the matrix is serialized.
 *
 * The lock is a directory in the system's temporary directory holding the owner's pid. A lock
 * whose owner is gone (a run killed with SIGKILL) is taken over.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// Per user: another user's lock in a shared /tmp could not be taken over when stale.
const LOCK = process.env.SWAPSTATE_FAULT_MATRIX_LOCK ?? join(tmpdir(), `swapstate-fault-matrix-${process.getuid?.() ?? 'user'}.lock`);
const OWNER = join(LOCK, 'owner');
const POLL_MS = 250;

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
};

/** Takes the lock if it is free (or its owner is gone); returns the live owner's pid otherwise. */
function tryLock() {
  try {
    mkdirSync(LOCK);
    writeFileSync(OWNER, String(process.pid));
    return null;
  } catch (err) {
    if (err.code !== 'EEXIST') throw err;
  }
  let owner = NaN;
  try {
    owner = Number(readFileSync(OWNER, 'utf8'));
  } catch {
    // Made by an owner that has not written its pid yet: wait for it, unless it has had ages
    // (an owner killed between the two steps).
    let age = 0;
    try {
      age = Date.now() - statSync(LOCK).mtimeMs;
    } catch {
      return tryLock(); // gone meanwhile
    }
    if (age < 10_000) return -1;
  }
  if (Number.isInteger(owner) && owner > 0 && alive(owner)) return owner;
  // The owner is gone. (Two waiters finding that in the same instant could both take over;
  // for a test launcher that is not worth a lock of its own.)
  rmSync(LOCK, { recursive: true, force: true });
  return tryLock();
}

let held = false;
const release = () => {
  if (!held) return;
  held = false;
  try {
    if (Number(readFileSync(OWNER, 'utf8')) === process.pid) rmSync(LOCK, { recursive: true, force: true });
  } catch {
    // Already gone.
  }
};

let told = false;
for (;;) {
  const owner = tryLock();
  if (owner === null) break;
  if (!told && owner > 0) {
    console.log(`fault matrix: waiting for the one run by pid ${owner} on this machine (they run one at a time)`);
    told = true;
  }
  await new Promise((resolve) => setTimeout(resolve, POLL_MS));
}
held = true;
process.on('exit', release);

const vitest = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const child = spawn(process.execPath, [vitest, 'run', '--config', 'test/vitest.config.ts', 'test/fault-matrix', ...process.argv.slice(2)], {
  stdio: 'inherit',
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => {
  release();
  process.exit(code ?? (signal ? 1 : 0));
});
