/**
 * The process groups swapstate started and has not yet reaped.
 *
 * Upstreams are spawned detached, each in its own process group, so that one signal to the
 * group reaches the server and whatever it forked. The price: they no longer share our
 * fate, and a swapstate that exits (crash, `process.exit`, end of tests) would leave them
 * running, holding ports and VRAM (llama-swap #804). This registry lets exit kill them.
 */

/** A set of live process-group ids, with a way to signal them all. */
export class ProcessGroups {
  private readonly pgids = new Set<number>();
  private readonly listeners: Array<(pgid: number, tracked: boolean) => void> = [];

  /** Remembers a group (its leader's pid, since groups are created with `detached`). */
  track(pgid: number): void {
    if (Number.isInteger(pgid) && pgid > 0 && !this.pgids.has(pgid)) {
      this.pgids.add(pgid);
      this.notify(pgid, true);
    }
  }

  /** Forgets a group, once it has been killed for good. */
  untrack(pgid: number): void {
    if (this.pgids.delete(pgid)) this.notify(pgid, false);
  }

  /** Called on every track / untrack (the on-disk ledger follows it). */
  onChange(listener: (pgid: number, tracked: boolean) => void): void {
    this.listeners.push(listener);
  }

  private notify(pgid: number, tracked: boolean): void {
    for (const l of this.listeners) {
      try {
        l(pgid, tracked);
      } catch {
        /* a listener's failure must not affect process handling */
      }
    }
  }

  /** Whether a group is tracked. */
  has(pgid: number): boolean {
    return this.pgids.has(pgid);
  }

  /** The tracked group ids. */
  list(): number[] {
    return [...this.pgids];
  }

  /**
   * Sends `signal` to every tracked group, synchronously (usable from an `exit` handler).
   * Groups that are already gone (ESRCH) and any other error are ignored: this runs as a
   * last resort and must reach every group. Groups stay tracked.
   */
  killAll(signal: NodeJS.Signals = 'SIGKILL'): void {
    for (const pgid of this.pgids) {
      try {
        process.kill(-pgid, signal);
      } catch {
        /* already gone, or not ours any more: nothing more we can do */
      }
    }
  }
}

/** The registry the runtime uses unless told otherwise. */
export const processGroups = new ProcessGroups();

const reaped = new WeakSet<ProcessGroups>();

/**
 * On `process.on('exit')`, SIGKILLs every group tracked in `groups` (by default the shared
 * {@link processGroups}). Installing twice for the same registry does nothing.
 *
 * `exit` handlers run synchronously and only on a normal exit (`process.exit`, empty event
 * loop, uncaught exception); the application must turn SIGINT/SIGTERM into `process.exit`
 * for this to run on those signals too.
 */
export function installExitReaper(groups: ProcessGroups = processGroups): void {
  if (reaped.has(groups)) return;
  reaped.add(groups);
  process.on('exit', () => groups.killAll('SIGKILL'));
}
