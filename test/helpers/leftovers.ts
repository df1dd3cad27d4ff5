/**
 * Finds processes started during this test run that are still alive, by an environment
 * marker every spawned process inherits. Linux only (/proc), which is where the suite runs.
 */
import { readdirSync, readFileSync } from 'node:fs';

export const RUN_MARKER_ENV = 'SWAPSTATE_TEST_RUN';

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
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && cmd.includes('vitest')) continue;
      out.push({ pid, cmd });
    } catch {
      /* gone meanwhile, or not ours to read */
    }
  }
  return out;
}
