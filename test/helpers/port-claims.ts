/**
 * Machine-wide claims on test ports, so that two suites run at once (two checkouts, two Node
 * lines) never hand out the same port.
 *
 * Within one run, each vitest worker picks from its own slice of the port range
 * (real-upstreams.ts). Two runs share those slices, though. A port is "free right now" when it
 * is picked, but its server binds it seconds later (a CLI starting, then a model's upstream).
 * In that window the other run could pick it too, and whichever bound second failed, or, worse,
 * was answered by the other run's server.
 *
 * A claim is a file named after the port in one directory under the system's temporary
 * directory, created exclusively, holding the claimant's pid. It is kept until that process
 * exits: each test file runs in a process of its own, so that is when the file's servers are
 * gone. Vitest ends its workers with a signal, so their exit handlers mostly do not run: a
 * claim whose process is dead is taken over, and the suite's global setup removes those before
 * a run and after it (the last workers may outlive the teardown by a moment: the next run's
 * setup takes theirs).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive } from './leftovers.ts';

// Per user: another user's directory in a shared /tmp could not be written to.
const DIR = join(tmpdir(), `swapstate-test-ports-${process.getuid?.() ?? 'user'}`);
const mine = new Set<string>();
let cleanupArmed = false;

/** Claims one port; false when a live process holds it. */
function claimOne(port: number, retakeStale = true): boolean {
  const file = join(DIR, String(port));
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' });
    mine.add(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  let owner = NaN;
  try {
    owner = Number(readFileSync(file, 'utf8'));
  } catch {
    return false; // released or being written this instant: try another port
  }
  // An empty file is a claim being written this instant: leave it to its owner.
  if (!retakeStale || !Number.isInteger(owner) || owner <= 0 || alive(owner)) return false;
  rmSync(file, { force: true });
  return claimOne(port, false);
}

/** Gives up claims (a block that turned out not to be free after all). */
export function releasePorts(from: number, count: number): void {
  for (let p = from; p < from + count; p++) {
    const file = join(DIR, String(p));
    if (mine.delete(file)) rmSync(file, { force: true });
  }
}

/** Claims `count` ports from `from` for this process, all or none. */
export function claimPorts(from: number, count: number): boolean {
  mkdirSync(DIR, { recursive: true });
  if (!cleanupArmed) {
    cleanupArmed = true;
    process.on('exit', () => {
      for (const file of mine) rmSync(file, { force: true });
    });
  }
  for (let p = from; p < from + count; p++) {
    if (claimOne(p)) continue;
    releasePorts(from, p - from);
    return false;
  }
  return true;
}

/** Removes every claim whose process is gone (global-setup.ts, before and after a run). */
export function removeStaleClaims(): void {
  let names: string[];
  try {
    names = readdirSync(DIR);
  } catch {
    return; // no claims yet
  }
  for (const name of names) {
    const file = join(DIR, name);
    try {
      const owner = Number(readFileSync(file, 'utf8'));
      const valid = Number.isInteger(owner) && owner > 0;
      // No pid in it: a claim being written this instant, or one whose writer died mid-write.
      if (valid ? !alive(owner) : Date.now() - statSync(file).mtimeMs > 10_000) rmSync(file, { force: true });
    } catch {
      /* removed meanwhile */
    }
  }
}
