/**
 * The on-disk ledger of process groups: what it records, and what the next start reaps.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GroupLedger } from '../../src/runtime/group-ledger.ts';
import { ProcessGroups } from '../../src/runtime/process-groups.ts';
import { isAlive, until } from '../helpers/real-upstreams.ts';

const dirs: string[] = [];
const pgids: number[] = [];
afterEach(() => {
  for (const g of pgids.splice(0)) {
    try {
      process.kill(-g, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'swapstate-ledger-'));
  dirs.push(d);
  return d;
}

/** A live process in its own group, standing in for a model server. */
function sleeper(): number {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' });
  child.unref();
  pgids.push(child.pid!);
  return child.pid!;
}

/** A pid that certainly belongs to nobody any more. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" }).stdout.trim());
}

const cmdlineOf = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'latin1');

describe('group ledger', () => {
  it('follows tracked groups in <dir>/<pid>.json and removes the file when none is left', () => {
    const d = dir();
    const groups = new ProcessGroups();
    new GroupLedger(d).follow(groups);
    const pid = sleeper();
    groups.track(pid);
    const file = join(d, `${process.pid}.json`);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ owner: process.pid, groups: [{ pgid: pid, cmdline: cmdlineOf(pid) }] });
    groups.untrack(pid);
    expect(existsSync(file)).toBe(false);
  });

  it("reaps a dead owner's groups that still run the recorded command, and removes its file", async () => {
    const d = dir();
    const pid = sleeper();
    const owner = deadPid();
    writeFileSync(join(d, `${owner}.json`), JSON.stringify({ owner, groups: [{ pgid: pid, cmdline: cmdlineOf(pid) }] }));
    expect(new GroupLedger(d).reapOrphans()).toEqual([pid]);
    await until(() => !isAlive(pid), 'the orphan to die');
    expect(existsSync(join(d, `${owner}.json`))).toBe(false);
  });

  it('leaves a recorded pid alone when it now runs another command (pid reuse)', () => {
    const d = dir();
    const pid = sleeper();
    const owner = deadPid();
    writeFileSync(join(d, `${owner}.json`), JSON.stringify({ owner, groups: [{ pgid: pid, cmdline: 'llama-server\0--port\x005800\0' }] }));
    expect(new GroupLedger(d).reapOrphans()).toEqual([]);
    expect(isAlive(pid)).toBe(true);
  });

  it('leaves the groups of a swapstate that is still alive alone', () => {
    const d = dir();
    const pid = sleeper();
    const owner = process.ppid; // alive: the test runner
    writeFileSync(join(d, `${owner}.json`), JSON.stringify({ owner, groups: [{ pgid: pid, cmdline: cmdlineOf(pid) }] }));
    expect(new GroupLedger(d, 1).reapOrphans()).toEqual([]);
    expect(isAlive(pid)).toBe(true);
    expect(existsSync(join(d, `${owner}.json`))).toBe(true);
  });
});
