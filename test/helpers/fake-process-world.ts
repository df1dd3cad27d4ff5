/**
 * Fakes for the process machine's I/O actors, driven by the test: the "OS" records what the
 * machine asked of it and lets the test decide when a process spawns or exits; "health"
 * resolves when the test says so. With vitest fake timers this makes every transition of
 * the machine deterministic.
 */
import { createActor, fromCallback, fromPromise, type AnyActorLogic, type AnyActorRef } from 'xstate';
import type { HealthCheckInput, OsCommand, OsEvent, OsProcessInput } from '../../machines/os.protocol.ts';
import type { ProcessReply } from '../../machines/process.protocol.ts';
import type { ProcessConfig } from '../../machines/process.machine.ts';

export class FakeWorld {
  /** What happened, in order: spawn, TERM, KILL, cleanup, probe. */
  readonly log: string[] = [];
  private sendBack: ((e: OsEvent) => void) | null = null;
  private healthy: (() => void) | null = null;
  private unhealthy: ((error: Error) => void) | null = null;
  /** The current `os` actor: attached, spawned, asked to stop. */
  private os_ = { live: false, spawned: false, stopAsked: false };
  private nextPid = 1000;
  /** The grace each OS.TERM carried, in order. */
  readonly termGraces: number[] = [];

  readonly os = fromCallback<OsCommand, OsProcessInput>(({ sendBack, receive }) => this.attachOs(sendBack, receive));

  readonly health = fromPromise<void, HealthCheckInput>(({ signal }) => this.attachHealth(signal));

  /** Called when the machine starts its `os` actor; returns the actor's cleanup. */
  attachOs(sendBack: (e: OsEvent) => void, receive: (fn: (cmd: OsCommand) => void) => void): () => void {
    this.log.push('spawn');
    const os = { live: true, spawned: false, stopAsked: false };
    this.os_ = os;
    this.sendBack = (e) => {
      if (!os.live) return;
      if (e.type === 'OS.SPAWNED') os.spawned = true;
      sendBack(e);
    };
    receive((cmd) => {
      os.stopAsked = true;
      this.log.push(cmd.type === 'OS.TERM' ? 'TERM' : 'KILL');
      if (cmd.type === 'OS.TERM') this.termGraces.push(cmd.graceMs);
    });
    return () => {
      os.live = false;
      this.log.push('cleanup');
    };
  }

  attachHealth(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.log.push('probe');
      this.healthy = resolve;
      this.unhealthy = reject;
      signal.addEventListener('abort', () => reject(new Error('aborted')));
    });
  }

  /** The process has spawned (the `os` actor's 'spawn' event). */
  spawned(): void {
    this.mustHaveOs()({ type: 'OS.SPAWNED', pid: this.nextPid++ });
  }

  /** The process exited (with the last lines of its stderr, when given). */
  exited(code: number | null = 0, signal: string | null = null, error?: string, stderrTail?: string[]): void {
    this.mustHaveOs()({ type: 'OS.EXITED', code, signal, ...(error ? { error } : {}), ...(stderrTail ? { stderrTail } : {}) });
  }

  /** The health endpoint answered 200. */
  healthOk(): void {
    if (!this.healthy) throw new Error('no health probe running');
    this.healthy();
    this.healthy = null;
    this.unhealthy = null;
  }

  /** The health check gave up with an error (the `health` actor rejected). */
  healthFailed(error = new Error('health check failed')): void {
    if (!this.unhealthy) throw new Error('no health probe running');
    this.unhealthy(error);
    this.healthy = null;
    this.unhealthy = null;
  }

  /**
   * Moves the fake world one step the way a well-behaved upstream would: a started process
   * spawns, a probed one turns healthy, one asked to stop exits. False when nothing was due.
   */
  progress(): boolean {
    if (this.os_.live && !this.os_.spawned) this.spawned();
    else if (this.healthy) this.healthOk();
    else if (this.os_.live && this.os_.stopAsked) this.exited(0);
    else return false;
    return true;
  }

  count(entry: string): number {
    return this.log.filter((e) => e === entry).length;
  }

  actors(): Record<string, AnyActorLogic> {
    return { os: this.os, health: this.health };
  }

  private mustHaveOs(): (e: OsEvent) => void {
    if (!this.sendBack) throw new Error('no os actor running');
    return this.sendBack;
  }
}

/** An actor that records the replies a process sends it. */
export function replyRecorder(): { ref: AnyActorRef; replies: ProcessReply[] } {
  const replies: ProcessReply[] = [];
  const ref = createActor(
    fromCallback<ProcessReply>(({ receive }) => {
      receive((e) => replies.push(e));
    }),
  ).start();
  return { ref, replies };
}

export function processConfig(over: Partial<ProcessConfig> = {}): ProcessConfig {
  return {
    model: 'a',
    cmd: 'upstream --port 5800',
    env: {},
    proxy: 'http://127.0.0.1:5800',
    checkEndpoint: '/health',
    healthCheckTimeoutMs: 15_000,
    healthCheckIntervalMs: 100,
    ttlMs: 0,
    unloadGraceMs: 10_000,
    ...over,
  };
}

/** One FakeWorld per model, for machines that run several processes (the scheduler). */
export class FakeCluster {
  private readonly worlds = new Map<string, FakeWorld>();

  world(model: string): FakeWorld {
    let w = this.worlds.get(model);
    if (!w) {
      w = new FakeWorld();
      this.worlds.set(model, w);
    }
    return w;
  }

  readonly os = fromCallback<OsCommand, OsProcessInput>(({ input, sendBack, receive }) =>
    this.world(input.model).attachOs(sendBack, receive),
  );

  readonly health = fromPromise<void, HealthCheckInput>(({ input, signal }) =>
    this.world(input.model).attachHealth(signal),
  );

  actors(): Record<string, AnyActorLogic> {
    return { os: this.os, health: this.health };
  }
}
