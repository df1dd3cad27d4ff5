/**
 * The machine-wide port claims of the test helpers (port-claims.ts): two runs at once must
 * not get the same port, and a dead run's claims must not hold ports for ever.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { claimPorts, releasePorts, removeStaleClaims } from './port-claims.ts';

const DIR = join(tmpdir(), `swapstate-test-ports-${process.getuid?.() ?? 'user'}`);
// Above the range the helpers hand out (20000-32000), so no test of this run meets them.
const BASE = 64_000 + (process.pid % 500) * 2;

/** A pid that was ours a moment ago and is dead now. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(String(r.stdout));
}

describe('port claims', () => {
  it('a claimed port is not claimed again until released; a block is claimed whole or not at all', () => {
    expect(claimPorts(BASE, 1)).toBe(true);
    expect(readFileSync(join(DIR, String(BASE)), 'utf8')).toBe(String(process.pid));
    expect(claimPorts(BASE, 1)).toBe(false);
    // A block overlapping the claim fails, and leaves none of its other ports claimed.
    expect(claimPorts(BASE - 1, 2)).toBe(false);
    expect(existsSync(join(DIR, String(BASE - 1)))).toBe(false);
    releasePorts(BASE, 1);
    expect(existsSync(join(DIR, String(BASE)))).toBe(false);
    expect(claimPorts(BASE - 1, 2)).toBe(true);
    releasePorts(BASE - 1, 2);
  });

  it("a dead process's claim is taken over, and removed by the global setup's sweep", () => {
    mkdirSync(DIR, { recursive: true });
    const dead = String(deadPid());
    writeFileSync(join(DIR, String(BASE + 1)), dead);
    expect(claimPorts(BASE + 1, 1)).toBe(true);
    releasePorts(BASE + 1, 1);
    writeFileSync(join(DIR, String(BASE + 1)), dead);
    writeFileSync(join(DIR, String(BASE + 2)), String(process.pid));
    removeStaleClaims();
    expect(existsSync(join(DIR, String(BASE + 1)))).toBe(false);
    // A live claim stays.
    expect(readFileSync(join(DIR, String(BASE + 2)), 'utf8')).toBe(String(process.pid));
    rmSync(join(DIR, String(BASE + 2)), { force: true });
  });
});
