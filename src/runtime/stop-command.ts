/**
 * Running a model's `cmdStop` (llama-swap semantics: `${PID}` substituted, no shell, the
 * upstream's environment, output into the model log), under the stop's grace.
 *
 * llama-swap runs `cmdStop` and only logs its failure; a hung one lives until swapstate
 * exits. Here a `cmdStop` that cannot do its job hands over to the signal stop:
 *
 * - it fails (cannot be parsed or started, exits non-zero or on a signal): the caller's
 *   `fallBack` runs at once (the upstream's process group gets SIGTERM);
 * - it is still running after its budget (half the stop's grace, chosen by the caller): it
 *   is SIGKILLed, its own process group with it, and `fallBack` runs;
 * - it exits 0: it did its job; nothing more happens here (the machine's SIGKILL at the end of
 *   the grace still follows if the upstream does not exit).
 *
 * The stopper never outlives the stop: {@link StopCommand.kill} (called on OS.KILL and when the
 * `os` actor is cleaned up) SIGKILLs its group if it still runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { RingLog } from '../observability/ring-log.ts';
import { parseCommand, substitutePid } from './command-line.ts';
import type { ProcessGroups } from './process-groups.ts';

/** The longest delay `setTimeout` takes; longer ones fire after 1 ms. */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

export interface StopCommandOptions {
  cmdStop: string;
  /** The upstream's pid, for `${PID}`. */
  pid: number;
  env: NodeJS.ProcessEnv;
  /** The model log: the stopper's output and swapstate's notes about it. */
  log: RingLog;
  /** The stopper's group is tracked here while it runs (SIGKILLed if swapstate exits). */
  groups: ProcessGroups;
  /** How long the stopper may run before it is killed and `fallBack` runs. */
  budgetMs: number;
  /** Called at most once, when the stopper failed or ran out of time: signal the upstream. */
  fallBack: (why: string) => void;
}

/** A running (or finished) `cmdStop`. */
export interface StopCommand {
  /** SIGKILLs the stopper's group if it still runs and cancels its budget. Idempotent. */
  kill(): void;
}

/** Starts `cmdStop`; see the module comment for what happens when it fails or hangs. */
export function runStopCommand(opts: StopCommandOptions): StopCommand {
  const { log } = opts;
  let fellBack = false;
  // Set by kill(): the stop is over, whatever the stopper does now changes nothing.
  let over = false;
  const fallBack = (why: string): void => {
    if (fellBack || over) return;
    fellBack = true;
    note(log, `${why}; sending SIGTERM to the process group ${opts.pid}`);
    opts.fallBack(why);
  };

  let argv: string[];
  try {
    argv = parseCommand(substitutePid(opts.cmdStop, opts.pid));
  } catch (err) {
    fallBack(`cmdStop failed: cannot parse ${JSON.stringify(opts.cmdStop)}: ${messageOf(err)}`);
    return { kill: () => {} };
  }
  const shown = argv.join(' ');
  let stopper: ChildProcess;
  try {
    stopper = spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: opts.env });
  } catch (err) {
    fallBack(`cmdStop failed to start '${shown}': ${messageOf(err)}`);
    return { kill: () => {} };
  }

  const stopperPid = stopper.pid;
  let running = stopperPid !== undefined;
  if (stopperPid !== undefined) opts.groups.track(stopperPid);
  for (const pipe of [stopper.stdout, stopper.stderr]) {
    pipe?.on('data', (chunk: Buffer) => log.write(chunk));
    pipe?.on('error', () => {});
  }

  const killGroup = (): void => {
    if (!running || stopperPid === undefined) return;
    try {
      process.kill(-stopperPid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };

  const budget = setTimeout(() => {
    if (!running) return;
    killGroup();
    fallBack(`cmdStop '${shown}' did not finish within ${seconds(opts.budgetMs)} (half the stop's grace); killed it`);
  }, Math.min(LONGEST_TIMER_MS, Math.max(0, opts.budgetMs)));

  stopper.on('error', (err) => {
    if (stopperPid !== undefined) return; // started, then failed otherwise: its exit tells
    clearTimeout(budget);
    fallBack(`cmdStop failed to start '${shown}': ${err.message}`);
  });
  stopper.on('exit', (code, signal) => {
    running = false;
    clearTimeout(budget);
    if (stopperPid !== undefined) opts.groups.untrack(stopperPid);
    // Helpers it forked must not outlive it either.
    if (stopperPid !== undefined) {
      try {
        process.kill(-stopperPid, 'SIGKILL');
      } catch {
        /* the group is empty */
      }
    }
    if (code === 0 || fellBack) return;
    fallBack(`cmdStop '${shown}' failed: ${signal !== null ? `killed by ${signal}` : `exit code ${code}`}`);
  });

  return {
    kill: () => {
      over = true;
      clearTimeout(budget);
      killGroup();
    },
  };
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10}s`;
}

/** A line of swapstate's own in the model log. */
function note(log: RingLog, message: string): void {
  log.write(`[swapstate] ${message}\n`);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
