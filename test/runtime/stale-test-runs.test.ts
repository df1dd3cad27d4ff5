/**
 * The suite's global setup kills what a killed earlier run left (test/helpers/leftovers.ts):
 * a process whose run marker names a runner that is gone is found; one whose runner is alive
 * (another suite on this machine) is not.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { RUN_MARKER_ENV, staleRunProcesses } from '../helpers/leftovers.ts';
import { until } from '../helpers/real-upstreams.ts';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

function sleeper(marker: string): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
    env: { ...process.env, [RUN_MARKER_ENV]: marker },
    stdio: 'ignore',
  });
  children.push(child);
  return child;
}

/** A pid nobody has: one of a process that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

describe('processes of killed test runs', () => {
  it('are those whose runner is gone; a live runner keeps its processes', async () => {
    const orphan = sleeper(`run-${await deadPid()}-1`);
    const owned = sleeper(`run-${process.pid}-1`);
    // Until a child has exec'd, /proc shows its parent's environment: poll for the orphan.
    let pids: number[] = [];
    await until(() => (pids = staleRunProcesses().map((p) => p.pid)).includes(orphan.pid!), 'the orphan found');
    await until(() => readFileSync(`/proc/${owned.pid}/environ`, 'latin1').includes(`run-${process.pid}-1`), 'the owned child exec\'d');
    expect(staleRunProcesses().map((p) => p.pid)).not.toContain(owned.pid);
  });
});
