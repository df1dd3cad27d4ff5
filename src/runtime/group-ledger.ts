/**
 * The on-disk ledger of process groups swapstate started, so that a swapstate killed with
 * SIGKILL (no exit handler runs) does not leave its model servers holding the GPU forever
 * (llama-swap #804, #100). The next swapstate to start reaps them.
 *
 * One file per swapstate process, `<dir>/<pid>.json`, rewritten whenever a group is tracked
 * or forgotten. At start, every file whose owner is dead is read; each recorded group that
 * is still alive AND still runs the recorded command is SIGKILLed (a pid reused by an
 * unrelated program since then is left alone); then the file is removed.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ProcessGroups } from './process-groups.ts';

export interface LedgerEntry {
  pgid: number;
  /** The leader's /proc cmdline (NUL-separated) when it was recorded. */
  cmdline: string;
}

interface LedgerFile {
  owner: number;
  groups: LedgerEntry[];
}

/** `$SWAPSTATE_STATE_DIR`, else `$XDG_STATE_HOME/swapstate`, else `~/.local/state/swapstate`. */
export function defaultLedgerDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['SWAPSTATE_STATE_DIR']) return env['SWAPSTATE_STATE_DIR'];
  const base = env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state');
  return join(base, 'swapstate');
}

function readCmdline(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether any process of group `pgid` still runs `cmdline` (the leader, or a child that kept it). */
function groupStillRuns(pgid: number, cmdline: string): boolean {
  const leader = readCmdline(pgid);
  if (leader !== null) return leader === cmdline;
  // The leader is gone but members may remain: look for any process of that group.
  for (const name of safeReaddir('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') return true;
    } catch {
      /* gone meanwhile */
    }
  }
  return false;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export class GroupLedger {
  private readonly file: string;
  private readonly entries = new Map<number, LedgerEntry>();

  constructor(
    readonly dir: string = defaultLedgerDir(),
    private readonly owner: number = process.pid,
  ) {
    this.file = join(dir, `${owner}.json`);
  }

  /**
   * SIGKILLs the recorded groups of swapstates that are no longer alive, when they still run
   * the recorded command, and removes their files. Returns the groups it killed.
   */
  reapOrphans(): number[] {
    const killed: number[] = [];
    for (const name of safeReaddir(this.dir)) {
      const owner = Number(name.replace(/\.json$/, ''));
      if (!name.endsWith('.json') || !Number.isInteger(owner) || owner === this.owner || isAlive(owner)) continue;
      const path = join(this.dir, name);
      let ledger: LedgerFile;
      try {
        ledger = JSON.parse(readFileSync(path, 'utf8')) as LedgerFile;
      } catch {
        rmSync(path, { force: true });
        continue;
      }
      for (const g of ledger.groups ?? []) {
        if (!groupStillRuns(g.pgid, g.cmdline)) continue;
        try {
          process.kill(-g.pgid, 'SIGKILL');
          killed.push(g.pgid);
        } catch {
          /* already gone */
        }
      }
      rmSync(path, { force: true });
    }
    return killed;
  }

  /** Keeps the ledger file in step with `groups` from now on. */
  follow(groups: ProcessGroups): void {
    groups.onChange((pgid, tracked) => {
      if (tracked) this.entries.set(pgid, { pgid, cmdline: readCmdline(pgid) ?? '' });
      else this.entries.delete(pgid);
      this.write();
    });
  }

  /** Removes this process's file (a clean exit leaves nothing to reap). */
  remove(): void {
    rmSync(this.file, { force: true });
  }

  private write(): void {
    try {
      mkdirSync(this.dir, { recursive: true });
      if (this.entries.size === 0) {
        rmSync(this.file, { force: true });
        return;
      }
      const body: LedgerFile = { owner: this.owner, groups: [...this.entries.values()] };
      // Write then rename: a SIGKILL mid-write must not leave a torn file.
      const tmp = `${this.file}.tmp`;
      writeFileSync(tmp, JSON.stringify(body));
      renameSync(tmp, this.file);
    } catch {
      /* the ledger is a safety net; failing to write it must not fail a model start */
    }
  }
}
