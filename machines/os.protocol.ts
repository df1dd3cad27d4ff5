/**
 * The contract between the process machine and the actors that do its I/O.
 *
 * The machine only declares these actors by name (`os`, `health`); the real ones live in
 * `src/runtime/` and are supplied with `machine.provide({ actors })`, fakes in tests.
 * Nothing here does I/O.
 */

/** Input of the `os` actor: one upstream server process, started when the actor starts. */
export interface OsProcessInput {
  model: string;
  /** llama-swap `cmd`: comment lines dropped, POSIX-shell words, no shell. */
  cmd: string;
  /** llama-swap `cmdStop`, run instead of SIGTERM; `${PID}` is the upstream's pid. */
  cmdStop?: string | undefined;
  /** Appended to swapstate's own environment (later entries win). */
  env: Record<string, string>;
  /**
   * llama-swap `proxy`: where the server will be reached. Its port must be free before the
   * command is spawned (when the host is a loopback address).
   */
  proxy: string;
}

/** Sent by the `os` actor when the process has been spawned. */
export interface OsSpawnedEvent {
  type: 'OS.SPAWNED';
  pid: number;
}

/**
 * Sent by the `os` actor when the process is gone: it exited, was killed, or never started
 * (`error` set, e.g. command not found). Sent exactly once per actor.
 */
export interface OsExitedEvent {
  type: 'OS.EXITED';
  code: number | null;
  signal: string | null;
  /** Why the command never ran (not found, port taken...); the process did not exist. */
  error?: string;
  /**
   * The last lines the process wrote to stderr, oldest first, each already made safe to show
   * (control characters escaped, length capped). Set when it exited without being asked to
   * stop, so a failed start can say why.
   */
  stderrTail?: string[];
}

export type OsEvent = OsSpawnedEvent | OsExitedEvent;

/** Commands the process machine sends to its `os` actor. */
export interface OsTermCommand {
  /** Ask politely: run `cmdStop` if configured, else SIGTERM the process group. */
  type: 'OS.TERM';
  /**
   * The grace of this stop: OS.KILL follows after it. A `cmdStop` gets half of it (then it is
   * killed and the group gets SIGTERM); a port wait of another start is bounded by it.
   */
  graceMs: number;
}
export interface OsKillCommand {
  /** The grace is over: SIGKILL the whole process group. */
  type: 'OS.KILL';
}
export type OsCommand = OsTermCommand | OsKillCommand;

/** Input of the `health` actor: resolves once `url` answers HTTP 200. */
export interface HealthCheckInput {
  model: string;
  url: string;
  /** Delay between probes; the first probe goes out at once. */
  intervalMs: number;
}
