/**
 * A short soak (test/soak/soak.ts) inside the suite: 60 s of seeded random load from 8
 * clients against the real CLI, with the same invariants as `npm run soak`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { killAllSoakRuns, runSoak } from './soak.ts';

// Whatever happens in the test (a failed expectation, a timeout), nothing it started survives.
afterAll(() => killAllSoakRuns());

describe('soak', () => {
  it('60 s, 8 clients: nothing hangs or gets lost, the swap group never overlaps, SIGTERM exits 0 leaving no process behind', async () => {
    const lines: string[] = [];
    const { summary: s, failures, unexpectedExamples, violationExamples, dir } = await runSoak({
      durationMs: 60_000,
      clients: 8,
      seed: 20_240_601,
      // Leaves room within the test's timeout for a run whose requests all hit the deadline.
      deadlineMs: 30_000,
      log: (l) => lines.push(l),
    });
    const context = [JSON.stringify(s), ...failures, ...unexpectedExamples, ...violationExamples, `run directory: ${dir}`].join('\n');
    expect(s.requests, context).toBeGreaterThan(50);
    expect(s.ok, context).toBeGreaterThan(0);
    expect(s.hung, context).toBe(0);
    expect(s.lost, context).toBe(0);
    expect(s.unexpected, context).toBe(0);
    expect(s.groupViolations, context).toBe(0);
    expect(s.samples, context).toBeGreaterThan(100);
    expect({ code: s.exitCode, signal: s.exitSignal }, context).toEqual({ code: 0, signal: null });
    expect(s.orphans, context).toBe(0);
    expect(s.probeFailures, context).toBe(0);
    expect(failures, context).toEqual([]);
  }, 150_000);
});
