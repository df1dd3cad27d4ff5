/**
 * Runs once around the whole suite: afterwards, no process that a test started may still be
 * alive. Every real process the suite starts carries SWAPSTATE_TEST_RUN in its environment
 * (see test/helpers/processes.ts), which lets us find leftovers without guessing by name.
 */
import { leftoverProcesses, RUN_MARKER_ENV, staleRunProcesses } from './leftovers.ts';
import { removeStaleClaims } from './port-claims.ts';

export default function setup(): () => void {
  // What an earlier, killed run left behind would hold this run's ports and CPU.
  const stale = staleRunProcesses();
  for (const p of stale) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  if (stale.length > 0) console.warn(`killed ${stale.length} process(es) an earlier, killed test run left: ${stale.map((p) => `${p.pid} ${p.cmd}`).join('; ')}`);
  removeStaleClaims();
  const marker = `run-${process.pid}-${Date.now()}`;
  process.env[RUN_MARKER_ENV] = marker;
  return () => {
    // The workers are gone by now: their port claims with them (port-claims.ts).
    removeStaleClaims();
    const left = leftoverProcesses(marker);
    if (left.length > 0) {
      for (const p of left) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      // Vitest reports a teardown error but still exits 0, so fail the run explicitly.
      console.error(`processes left running after the suite: ${left.map((p) => `${p.pid} ${p.cmd}`).join('; ')}`);
      process.exitCode = 1;
    }
  };
}
