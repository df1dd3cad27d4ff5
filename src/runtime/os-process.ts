/**
 * The real `os` actor: one upstream server process, from spawn to its group's death.
 *
 * Design points (each one a llama-swap lesson):
 * - no shell: `cmd` is split by {@link parseCommand} and exec'd directly, so signals reach
 *   the server itself;
 * - the server gets its own process group (`detached`), and every signal goes to the whole
 *   group, so helpers it forked go down with it (llama-swap #804);
 * - "gone" means the leader's `exit` event, not `close`: a grandchild that inherited the
 *   pipes must not make a dead server look alive;
 * - when the invoking state is left, the group is SIGKILLed whatever happened before,
 *   because the leader exiting says nothing about the rest of its group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fromCallback, type CallbackActorLogic } from 'xstate';
import type { OsCommand, OsExitedEvent, OsProcessInput, OsSpawnedEvent } from '../../machines/os.protocol.ts';
import { parseCommand, substitutePid } from './command-line.ts';
import { processGroups as defaultGroups, type ProcessGroups } from './process-groups.ts';
import type { LogHub, RingLog } from './ring-log.ts';

/** What the `os` actor needs from the rest of swapstate. */
export interface OsProcessDeps {
  /** Where each model's stdout/stderr (and `cmdStop`'s output and failures) go. */
  logs: LogHub;
  /** Registry of live groups, SIGKILLed on exit; defaults to the shared one. */
  groups?: ProcessGroups;
  /**
   * After cleanup, how long the pipes may keep draining before they are destroyed. The
   * `exit` event can arrive before the last output (often the crash message) has been read;
   * destroying the pipes at once would lose it. A process outside the group that still
   * holds the pipes cannot keep them open longer than this. Default 1000 ms.
   */
  pipeDrainMs?: number;
}

/** The logic to provide as the process machine's `os` actor. */
export type OsProcessLogic = CallbackActorLogic<OsCommand, OsProcessInput>;

/**
 * Creates the `os` actor logic (see `machines/os.protocol.ts`).
 *
 * On start it spawns `input.cmd` and reports `OS.SPAWNED`, then `OS.EXITED` exactly once
 * (also when the command cannot be parsed or started, with `error` set). It accepts
 * `OS.TERM` (run `cmdStop`, or SIGTERM the group) and `OS.KILL` (SIGKILL the group). Its
 * cleanup SIGKILLs the group and reports nothing more.
 */
export function createOsProcessActor(deps: OsProcessDeps): OsProcessLogic {
  const groups = deps.groups ?? defaultGroups;
  const pipeDrainMs = deps.pipeDrainMs ?? 1000;

  return fromCallback<OsCommand, OsProcessInput>(({ input, sendBack, receive }) => {
    const log = deps.logs.forModel(input.model);
    const env = { ...process.env, ...input.env };
    // Set once cleanup ran: from then on nothing is sent to the machine.
    let disposed = false;
    // OS.EXITED is sent exactly once, whichever of error/exit comes first.
    let exitReported = false;

    const reportExit = (event: Omit<OsExitedEvent, 'type'>): void => {
      if (exitReported || disposed) return;
      exitReported = true;
      sendBack({ type: 'OS.EXITED', ...event } satisfies OsExitedEvent);
    };

    let argv: string[];
    try {
      argv = parseCommand(input.cmd);
    } catch (err) {
      const error = `failed to start command ${JSON.stringify(input.cmd)}: ${messageOf(err)}`;
      note(log, error);
      reportExit({ code: null, signal: null, error });
      return () => {
        disposed = true;
      };
    }
    const shown = argv.join(' ');

    let child: ChildProcess;
    try {
      child = spawn(argv[0] as string, argv.slice(1), {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env,
      });
    } catch (err) {
      // Most start failures arrive as an 'error' event; a few (bad arguments) throw.
      const error = `failed to start command '${shown}': ${messageOf(err)}`;
      note(log, error);
      reportExit({ code: null, signal: null, error });
      return () => {
        disposed = true;
      };
    }

    // child.pid is set synchronously when the spawn succeeded, undefined when it failed.
    const pid = child.pid;
    if (pid !== undefined) groups.track(pid);

    const pipes = [child.stdout, child.stderr].filter((p): p is Readable => p !== null);
    for (const pipe of pipes) {
      pipe.on('data', (chunk: Buffer) => log.write(chunk));
      pipe.on('error', () => {
        /* a broken pipe only ends the output; the exit event tells the rest */
      });
    }

    child.on('spawn', () => {
      if (disposed || pid === undefined) return;
      sendBack({ type: 'OS.SPAWNED', pid } satisfies OsSpawnedEvent);
    });

    child.on('error', (err) => {
      if (pid === undefined) {
        // Never started (ENOENT, EACCES...): no 'exit' will follow.
        const error = `failed to start command '${shown}': ${err.message}`;
        note(log, error);
        reportExit({ code: null, signal: null, error });
      } else {
        note(log, `process error: ${err.message}`);
      }
    });

    child.on('exit', (code, signal) => {
      reportExit({ code, signal });
    });

    const signalGroup = (sig: NodeJS.Signals): void => {
      if (pid === undefined) return;
      try {
        process.kill(-pid, sig);
      } catch (err) {
        if (codeOf(err) !== 'ESRCH') note(log, `failed to send ${sig} to process group ${pid}: ${messageOf(err)}`);
      }
    };

    receive((command) => {
      if (disposed) return;
      try {
        if (command.type === 'OS.TERM') {
          if (input.cmdStop !== undefined && input.cmdStop.trim() !== '' && pid !== undefined) {
            runStopCommand(input.cmdStop, pid, env, log, groups);
          } else {
            signalGroup('SIGTERM');
          }
        } else if (command.type === 'OS.KILL') {
          signalGroup('SIGKILL');
        }
      } catch (err) {
        note(log, `failed to handle ${command.type}: ${messageOf(err)}`);
      }
    });

    return () => {
      if (disposed) return;
      disposed = true;
      // Even when the leader already exited: its group may still hold forked children.
      signalGroup('SIGKILL');
      if (pid !== undefined) groups.untrack(pid);
      drainThenDestroy(pipes, pipeDrainMs);
    };
  });
}

/**
 * Runs `cmdStop` (llama-swap semantics): `${PID}` substituted, no shell, the upstream's
 * environment, output into the model log. A failure is only logged: the machine's grace
 * timer and OS.KILL are the fallback.
 *
 * It runs in its own tracked group and is not killed by the actor's cleanup: it is what
 * stops the server (think `docker stop`), and may legitimately outlive the leader.
 */
function runStopCommand(
  cmdStop: string,
  pid: number,
  env: NodeJS.ProcessEnv,
  log: RingLog,
  groups: ProcessGroups,
): void {
  let argv: string[];
  try {
    argv = parseCommand(substitutePid(cmdStop, pid));
  } catch (err) {
    note(log, `cmdStop failed: cannot parse ${JSON.stringify(cmdStop)}: ${messageOf(err)}`);
    return;
  }
  const shown = argv.join(' ');
  let stopper: ChildProcess;
  try {
    stopper = spawn(argv[0] as string, argv.slice(1), {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
  } catch (err) {
    note(log, `cmdStop failed to start '${shown}': ${messageOf(err)}`);
    return;
  }
  const stopperPid = stopper.pid;
  if (stopperPid !== undefined) groups.track(stopperPid);
  for (const pipe of [stopper.stdout, stopper.stderr]) {
    pipe?.on('data', (chunk: Buffer) => log.write(chunk));
    pipe?.on('error', () => {});
  }
  stopper.on('error', (err) => {
    note(log, `cmdStop failed to start '${shown}': ${err.message}`);
  });
  stopper.on('exit', (code, signal) => {
    if (stopperPid !== undefined) groups.untrack(stopperPid);
    if (code !== 0) {
      note(log, `cmdStop '${shown}' failed: ${signal !== null ? `killed by ${signal}` : `exit code ${code}`}`);
    }
  });
}

/**
 * Lets the pipes deliver what is still buffered, then destroys them. Once every member of
 * the group is dead the pipes reach EOF by themselves; the timer is only for a writer that
 * escaped the group.
 */
function drainThenDestroy(pipes: Readable[], drainMs: number): void {
  const open = pipes.filter((p) => !p.destroyed && !p.readableEnded);
  if (open.length === 0) return;
  const timer = setTimeout(() => {
    for (const p of open) p.destroy();
  }, drainMs);
  timer.unref();
  let remaining = open.length;
  for (const p of open) {
    p.once('close', () => {
      remaining--;
      if (remaining === 0) clearTimeout(timer);
    });
  }
}

/** A line of swapstate's own in the model log, so users see why a model failed. */
function note(log: RingLog, message: string): void {
  log.write(`[swapstate] ${message}\n`);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function codeOf(err: unknown): unknown {
  return typeof err === 'object' && err !== null && 'code' in err ? (err as { code: unknown }).code : undefined;
}
