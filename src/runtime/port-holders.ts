/**
 * Which local ports our model servers were given, process-wide.
 *
 * A model's port must be free before its command is spawned: otherwise the health check and
 * the proxy reach whoever already listens there (an old server of ours that outlives a reload,
 * or a stranger) while the new server dies with EADDRINUSE. When the holder is ours, we know
 * when it will be gone (its stop has a grace, then SIGKILL) and can wait for it; this registry
 * is how one `os` actor learns about another's process, across actor trees: a reload builds a
 * new tree while the old one is still stopping, so, like {@link ProcessGroups}, one instance is
 * shared by every tree of a swapstate.
 */

/** A port claimed by one `os` actor, from just before its spawn until its leader has exited. */
export interface PortHolder {
  readonly model: string;
  /** The leader's pid (its process group), or null while it is being spawned. */
  readonly pid: number | null;
  /**
   * When (`Date.now()`) the holder will have been sent SIGKILL: set once its stop began, null
   * while it runs (it will not give the port up by itself).
   */
  readonly stopDeadline: number | null;
  /** Resolves once the claim is released (the leader exited, or it never spawned). */
  readonly gone: Promise<void>;
}

/** The owner's handle on its claim. */
export interface PortClaim {
  /** The command was spawned as `pid`. */
  spawned(pid: number): void;
  /** Its stop began with this grace: SIGKILL follows at the latest after it. */
  stopping(graceMs: number): void;
  /** SIGKILL was sent. */
  killed(): void;
  /** The leader exited, or nothing was spawned: the port is ours no more. Idempotent. */
  release(): void;
}

interface Entry extends PortHolder {
  pid: number | null;
  stopDeadline: number | null;
  resolve: () => void;
}

/**
 * How long a released claim's process group is remembered. Its leader has exited, but the
 * rest of its group (a server run by a wrapper script, say) may hold the port until the
 * SIGKILL that follows has done its work.
 */
const EXITED_MEMORY_MS = 10_000;

/** The claims of every `os` actor of this swapstate, by port key (see `loopbackEndpoint`). */
export class PortHolders {
  private readonly byKey = new Map<string, Set<Entry>>();
  private readonly exited = new Map<string, Array<{ pgid: number; at: number }>>();

  /** The current claims on `key`. */
  of(key: string): readonly PortHolder[] {
    return [...(this.byKey.get(key) ?? [])];
  }

  /** Process groups whose claim on `key` was released lately (their leader exited). */
  exitedGroups(key: string): number[] {
    const since = Date.now() - EXITED_MEMORY_MS;
    const recent = (this.exited.get(key) ?? []).filter((g) => g.at >= since);
    if (recent.length > 0) this.exited.set(key, recent);
    else this.exited.delete(key);
    return recent.map((g) => g.pgid);
  }

  /** Records a claim by `model` on `key`, before its command is spawned. */
  claim(key: string, model: string): PortClaim {
    let resolve!: () => void;
    const gone = new Promise<void>((r) => (resolve = r));
    const entry: Entry = { model, pid: null, stopDeadline: null, gone, resolve };
    let set = this.byKey.get(key);
    if (!set) this.byKey.set(key, (set = new Set()));
    set.add(entry);
    return {
      spawned: (pid) => {
        entry.pid = pid;
      },
      stopping: (graceMs) => {
        const at = Date.now() + Math.max(0, graceMs);
        entry.stopDeadline = entry.stopDeadline === null ? at : Math.min(entry.stopDeadline, at);
      },
      killed: () => {
        entry.stopDeadline = Math.min(entry.stopDeadline ?? Infinity, Date.now());
      },
      release: () => {
        const current = this.byKey.get(key);
        if (!current?.delete(entry)) return;
        if (current.size === 0) this.byKey.delete(key);
        if (entry.pid !== null) {
          const list = this.exited.get(key) ?? [];
          list.push({ pgid: entry.pid, at: Date.now() });
          this.exited.set(key, list);
        }
        entry.resolve();
      },
    };
  }
}

/** The registry the runtime uses unless told otherwise (shared across reloads). */
export const portHolders = new PortHolders();
