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
 *   because the leader exiting says nothing about the rest of its group;
 * - before the spawn, the model's port must be free (port-guard.ts): a server of ours that is
 *   still stopping there is waited for, a stranger fails the start at once;
 * - a `cmdStop` runs under the stop's grace and hands over to SIGTERM when it fails or hangs
 *   (stop-command.ts);
 * - an exit nobody asked for is reported with the last lines of stderr, so a failed start
 *   can say why.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fromCallback, type CallbackActorLogic } from 'xstate';
import type { OsCommand, OsExitedEvent, OsProcessInput, OsSpawnedEvent } from '../../machines/os.protocol.ts';
import type { LogHub, RingLog } from '../observability/ring-log.ts';
import { parseCommand } from './command-line.ts';
import { OutputTail } from './output-tail.ts';
import { clearPort, loopbackEndpoint, type PortGuardTiming } from './port-guard.ts';
import { portHolders as defaultPorts, type PortClaim, type PortHolders } from './port-holders.ts';
import { processGroups as defaultGroups, type ProcessGroups } from './process-groups.ts';
import { runStopCommand, type StopCommand } from './stop-command.ts';

/** What the `os` actor needs from the rest of swapstate. */
export interface OsProcessDeps {
  /** Where each model's stdout/stderr (and `cmdStop`'s output and failures) go. */
  logs: LogHub;
  /** Registry of live groups, SIGKILLed on exit; defaults to the shared one. */
  groups?: ProcessGroups;
  /** Which local ports our servers hold; defaults to the shared one (it must outlive reloads). */
  ports?: PortHolders;
  /** Timing of the port check before a spawn (tests shorten it). */
  portTiming?: PortGuardTiming;
  /**
   * After cleanup, how long the pipes may keep draining before they are destroyed. The
   * `exit` event can arrive before the last output (often the crash message) has been read;
   * destroying the pipes at once would lose it. A process outside the group that still
   * holds the pipes cannot keep them open longer than this. Default 1000 ms.
   */
  pipeDrainMs?: number;
  /**
   * After an exit nobody asked for, how long OS.EXITED may wait for stderr to be read to its
   * end, so that its tail holds the crash message. Only a process outside the group holding
   * the pipe makes it wait this long. Default 200 ms.
   */
  tailWaitMs?: number;
}

/** The logic to provide as the process machine's `os` actor. */
export type OsProcessLogic = CallbackActorLogic<OsCommand, OsProcessInput>;

/**
 * Creates the `os` actor logic (see `machines/os.protocol.ts`).
 *
 * On start it checks that the model's port is free (waiting for a server of ours still
 * stopping there), spawns `input.cmd` and reports `OS.SPAWNED`, then `OS.EXITED` exactly once
 * (also when the command cannot be parsed or started, or the port is taken, with `error` set).
 * It accepts `OS.TERM` (run `cmdStop`, or SIGTERM the group) and `OS.KILL` (SIGKILL the
 * group and any `cmdStop` still running); either one before the spawn abandons the start.
 * Its cleanup SIGKILLs the group and reports nothing more.
 */
export function createOsProcessActor(deps: OsProcessDeps): OsProcessLogic {
  const groups = deps.groups ?? defaultGroups;
  const ports = deps.ports ?? defaultPorts;
  const pipeDrainMs = deps.pipeDrainMs ?? 1000;
  const tailWaitMs = deps.tailWaitMs ?? 200;

  return fromCallback<OsCommand, OsProcessInput>(({ input, sendBack, receive }) => {
    const log = deps.logs.forModel(input.model);
    const env = { ...process.env, ...input.env };
    // Set once cleanup ran: from then on nothing is sent to the machine.
    let disposed = false;
    // OS.EXITED is sent exactly once, whichever of error/exit/abandon comes first.
    let exitReported = false;
    // The machine asked for a stop: the exit that follows is expected.
    let stopAsked = false;
    let child: ChildProcess | null = null;
    let pid: number | undefined;
    let exited = false;
    let claim: PortClaim | null = null;
    let stopper: StopCommand | null = null;
    let pipes: Readable[] = [];
    let tailTimer: NodeJS.Timeout | undefined;
    const stderrTail = new OutputTail();
    const portWait = new AbortController();

    const reportExit = (event: Omit<OsExitedEvent, 'type'>): void => {
      if (exitReported || disposed) return;
      exitReported = true;
      sendBack({ type: 'OS.EXITED', ...event } satisfies OsExitedEvent);
    };
    const failStart = (error: string): void => {
      note(log, error);
      reportExit({ code: null, signal: null, error });
    };

    const signalGroup = (sig: NodeJS.Signals): void => {
      if (pid === undefined) return;
      try {
        process.kill(-pid, sig);
      } catch (err) {
        if (codeOf(err) !== 'ESRCH') note(log, `failed to send ${sig} to process group ${pid}: ${messageOf(err)}`);
      }
    };

    /** The leader is gone: report it, with stderr's last lines when nobody asked it to stop. */
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      exited = true;
      claim?.release();
      const stderr = child?.stderr;
      const report = (): void => {
        clearTimeout(tailTimer);
        const tail = stopAsked ? [] : stderrTail.tail();
        reportExit({ code, signal, ...(tail.length > 0 ? { stderrTail: tail } : {}) });
      };
      if (stopAsked || !stderr || stderr.readableEnded || stderr.destroyed) return report();
      // 'exit' often comes before the last output has been read: wait for the pipe's end.
      stderr.once('end', report);
      stderr.once('close', report);
      tailTimer = setTimeout(report, tailWaitMs);
    };

    const launch = (argv: string[]): void => {
      const shown = argv.join(' ');
      try {
        child = spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
      } catch (err) {
        // Most start failures arrive as an 'error' event; a few (bad arguments) throw.
        claim?.release();
        failStart(`failed to start command '${shown}': ${messageOf(err)}`);
        return;
      }
      // child.pid is set synchronously when the spawn succeeded, undefined when it failed.
      pid = child.pid;
      if (pid !== undefined) {
        groups.track(pid);
        claim?.spawned(pid);
      } else {
        claim?.release();
      }

      pipes = [child.stdout, child.stderr].filter((p): p is Readable => p !== null);
      for (const pipe of pipes) {
        pipe.on('data', (chunk: Buffer) => log.write(chunk));
        pipe.on('error', () => {
          /* a broken pipe only ends the output; the exit event tells the rest */
        });
      }
      child.stderr?.on('data', (chunk: Buffer) => stderrTail.write(chunk));

      child.on('spawn', () => {
        if (disposed || pid === undefined) return;
        sendBack({ type: 'OS.SPAWNED', pid } satisfies OsSpawnedEvent);
      });
      child.on('error', (err) => {
        // Never started (ENOENT, EACCES...): no 'exit' will follow.
        if (pid === undefined) failStart(`failed to start command '${shown}': ${err.message}`);
        else note(log, `process error: ${err.message}`);
      });
      child.on('exit', onExit);
    };

    const term = (graceMs: number): void => {
      claim?.stopping(graceMs);
      const cmdStop = input.cmdStop?.trim() ? input.cmdStop : undefined;
      if (cmdStop === undefined || pid === undefined || exited) {
        signalGroup('SIGTERM');
        return;
      }
      // cmdStop gets the first half of the grace; if it fails or hangs, SIGTERM gets the
      // second half; the machine's OS.KILL at the full grace ends it all.
      stopper ??= runStopCommand({
        cmdStop,
        pid,
        env,
        log,
        groups,
        budgetMs: graceMs / 2,
        fallBack: () => signalGroup('SIGTERM'),
      });
    };

    receive((command) => {
      if (disposed || (exitReported && child === null)) return;
      try {
        if (child === null) {
          // Still waiting for the port: nothing runs yet, so the stop is immediate.
          stopAsked = true;
          portWait.abort();
          reportExit({ code: null, signal: null, error: 'stopped before the command was started' });
        } else if (command.type === 'OS.TERM') {
          stopAsked = true;
          term(command.graceMs);
        } else if (command.type === 'OS.KILL') {
          stopAsked = true;
          claim?.killed();
          signalGroup('SIGKILL');
          stopper?.kill();
        }
      } catch (err) {
        note(log, `failed to handle ${command.type}: ${messageOf(err)}`);
      }
    });

    let argv: string[] | null = null;
    try {
      argv = parseCommand(input.cmd);
    } catch (err) {
      failStart(`failed to start command ${JSON.stringify(input.cmd)}: ${messageOf(err)}`);
    }
    if (argv !== null) {
      const words = argv;
      const endpoint = loopbackEndpoint(input.proxy);
      if (endpoint === null) {
        launch(words);
      } else {
        clearPort(endpoint, input.model, ports, portWait.signal, deps.portTiming).then(
          (clearance) => {
            if (disposed || exitReported) return 'claim' in clearance ? clearance.claim.release() : undefined;
            if ('error' in clearance) return failStart(clearance.error);
            claim = clearance.claim;
            launch(words);
          },
          () => {
            /* abandoned: the stop that aborted the wait has reported the exit */
          },
        );
      }
    }

    return () => {
      if (disposed) return;
      disposed = true;
      portWait.abort();
      clearTimeout(tailTimer);
      stopper?.kill();
      // Even when the leader already exited: its group may still hold forked children.
      signalGroup('SIGKILL');
      // The claim is released by the leader's exit, which this SIGKILL brings.
      claim?.killed();
      if (pid !== undefined) groups.untrack(pid);
      drainThenDestroy(pipes, pipeDrainMs);
    };
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
  const drained = new Promise<void>((resolve) => {
    for (const p of open) {
      p.once('close', () => {
        remaining--;
        if (remaining > 0) return;
        clearTimeout(timer);
        draining.delete(drained);
        resolve();
      });
    }
  });
  draining.add(drained);
}

/** Pipes of stopped processes still delivering their last output (each bounded by its drain time). */
const draining = new Set<Promise<void>>();

/**
 * Resolves once every stopped process's pipes have delivered their last output (or were cut
 * after their drain time). Waited for before swapstate exits: a model's last lines ("shutting
 * down on SIGTERM") are read after its exit, and an exit right after the stop lost them.
 */
export function pipesDrained(): Promise<void> {
  return Promise.all([...draining]).then(() => undefined);
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
