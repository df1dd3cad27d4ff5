/**
 * Finds processes started during this test run that are still alive, by an environment
 * marker every spawned process inherits. Linux only (/proc), which is where the suite runs.
 */
import { readdirSync, readFileSync } from 'node:fs';

export const RUN_MARKER_ENV = 'SWAPSTATE_TEST_RUN';

/** The parent pid in a `/proc/<pid>/stat` line (the field after the command's closing parenthesis and the state). */
function ppidOf(stat: string): number {
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** The parent pid of `pid`, or null once it is gone. */
export function parentPid(pid: number): number | null {
  try {
    return ppidOf(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return null;
  }
}

export function leftoverProcesses(marker: string): Array<{ pid: number; cmd: string }> {
  const out: Array<{ pid: number; cmd: string }> = [];
  const needle = `${RUN_MARKER_ENV}=${marker}`;
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'latin1');
      if (!env.split('\0').includes(needle)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      if (/\) Z /.test(stat)) continue; // a zombie is already dead, only not yet reaped
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim();
      // The test runner's own workers inherit the marker too; they are its business.
      if (ppidOf(stat) === process.pid && cmd.includes('vitest')) continue;
      out.push({ pid, cmd });
    } catch {
      /* gone meanwhile, or not ours to read */
    }
  }
  return out;
}

/**
 * Processes a killed test run left behind: their marker names a run (`run-<pid>-<ms>`) whose
 * runner is gone. A SIGKILLed vitest cannot tear down, and its demo upstreams and swapstate
 * CLIs, reparented to init, went on holding ports and CPU; one such set made a later CI run
 * fail. A run whose runner is alive (another checkout's suite on this machine) is left alone.
 */
export function staleRunProcesses(): Array<{ pid: number; cmd: string }> {
  const out: Array<{ pid: number; cmd: string }> = [];
  const prefix = `${RUN_MARKER_ENV}=run-`;
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const entry = readFileSync(`/proc/${pid}/environ`, 'latin1')
        .split('\0')
        .find((e) => e.startsWith(prefix));
      if (!entry) continue;
      const runner = Number(entry.slice(prefix.length).split('-')[0]);
      if (!Number.isInteger(runner) || runner <= 0 || alive(runner)) continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim();
      out.push({ pid, cmd });
    } catch {
      /* gone meanwhile, or not ours to read */
    }
  }
  return out;
}

/** Whether `pid` is a live process (EPERM: alive, another user's). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
