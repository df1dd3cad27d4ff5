/**
 * The real `os` actor, driven through a tiny parent machine (a callback actor's `sendBack`
 * needs a parent), spawning real `node` processes. No fixed sleeps: every wait polls a
 * condition with a deadline. Every process started here is in a tracked group that
 * `afterEach` SIGKILLs, and grandchildren are killed by pid.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createActor, sendTo, setup } from 'xstate';
import type { OsCommand, OsEvent, OsExitedEvent, OsProcessInput } from '../../machines/os.protocol.ts';
import { createOsProcessActor } from '../../src/runtime/os-process.ts';
import type { PortGuardTiming } from '../../src/runtime/port-guard.ts';
import { PortHolders } from '../../src/runtime/port-holders.ts';
import { ProcessGroups } from '../../src/runtime/process-groups.ts';
import { LogHub } from '../../src/observability/ring-log.ts';
import { freePort, UPSTREAM } from '../helpers/real-upstreams.ts';

const NODE = process.execPath;
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Single-quotes a word for parseCommand (the usual `'\''` idiom for quotes inside). */
function q(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** True while `pid` exists and is not a zombie (PID 1 here may not reap orphans). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3, after the parenthesised command name (which may contain spaces).
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false; // /proc entry vanished: gone
  }
}

/** Polls `condition` every 10 ms until true; fails with `what` after `timeoutMs`. */
async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

let dir: string;
/** Writes a CommonJS script into the temp dir; returns its path. */
function script(name: string, source: string): string {
  const file = join(dir, `${name}.cjs`);
  writeFileSync(file, source);
  return file;
}

let groups: ProcessGroups;
let ports: PortHolders;
let hub: LogHub;
const extraPids: number[] = [];
const running: Array<{ stop(): unknown }> = [];

beforeEach(fresh);
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'swapstate-os-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  for (const actor of running.splice(0)) actor.stop();
  groups.killAll('SIGKILL');
  for (const pid of extraPids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

function fresh(): void {
  groups = new ProcessGroups();
  ports = new PortHolders();
  hub = new LogHub();
}

/**
 * Starts a parent machine invoking the real `os` actor; records what it sends back. With
 * `leaveOnExit`, the parent leaves the invoking state on OS.EXITED, as the process machine
 * does, so the actor's cleanup runs in the same tick as the exit event.
 */
function startOs(
  given: Omit<OsProcessInput, 'proxy'> & { proxy?: string },
  { leaveOnExit = false, portTiming = {} as PortGuardTiming } = {},
) {
  // A loopback port nobody listens on, unless the test says otherwise: the port check runs
  // (and finds it free) before every spawn, as it does for a real model.
  const input: OsProcessInput = { proxy: 'http://127.0.0.1:1', ...given };
  const events: OsEvent[] = [];
  /** performance.now() when each event arrived, by type. */
  const at: Partial<Record<OsEvent['type'], number>> = {};
  const machine = setup({
    types: {
      input: {} as OsProcessInput,
      context: {} as { input: OsProcessInput },
      events: {} as OsEvent | OsCommand,
    },
    actors: { os: createOsProcessActor({ logs: hub, groups, ports, portTiming }) },
  }).createMachine({
    context: ({ input }) => ({ input }),
    initial: 'running',
    states: {
      running: {
        invoke: { id: 'os', src: 'os', input: ({ context }) => context.input },
        on: {
          'OS.SPAWNED': { actions: ({ event }) => void record(event) },
          'OS.EXITED': [
            { guard: () => leaveOnExit, target: 'gone', actions: ({ event }) => void record(event) },
            { actions: ({ event }) => void record(event) },
          ],
          'OS.TERM': { actions: sendTo('os', ({ event }) => event) },
          'OS.KILL': { actions: sendTo('os', ({ event }) => event) },
        },
      },
      gone: {},
    },
  });
  function record(event: OsEvent): void {
    events.push(event);
    at[event.type] ??= performance.now();
  }
  const actor = createActor(machine, { input });
  running.push(actor);
  actor.start();
  const log = hub.forModel(input.model);

  return {
    actor,
    events,
    at,
    log,
    send: (command: OsCommand) => actor.send(command),
    async spawned(): Promise<number> {
      await until(() => events.some((e) => e.type === 'OS.SPAWNED'), 'OS.SPAWNED');
      const first = events[0];
      if (first?.type !== 'OS.SPAWNED') throw new Error(`first event is ${JSON.stringify(first)}`);
      return first.pid;
    },
    async exited(): Promise<OsExitedEvent> {
      await until(() => events.some((e) => e.type === 'OS.EXITED'), 'OS.EXITED');
      return events.find((e): e is OsExitedEvent => e.type === 'OS.EXITED') as OsExitedEvent;
    },
    logHas: (text: string) => until(() => log.history().includes(text), `log to contain ${JSON.stringify(text)}`),
  };
}

describe('os actor', () => {
  it('reports OS.SPAWNED, then OS.EXITED with the exit code, exactly once', async () => {
    const os = startOs({ model: 'm', cmd: `${q(NODE)} -e ${q('process.exit(3)')}`, env: {} });
    const pid = await os.spawned();
    expect(pid).toBeGreaterThan(0);
    expect(groups.has(pid)).toBe(true);
    const exited = await os.exited();
    expect(exited).toEqual({ type: 'OS.EXITED', code: 3, signal: null });
    os.actor.stop();
    expect(os.events.map((e) => e.type)).toEqual(['OS.SPAWNED', 'OS.EXITED']);
    expect(groups.has(pid)).toBe(false);
  });

  it('sends stdout and stderr into the model log, with the given env; the tail survives a stop at exit', async () => {
    const file = script(
      'chatty',
      // About 64 KiB (a pipe buffer's worth, under the 100 KiB log bound), then the lines
      // the test looks for, last.
      `for (let i = 0; i < 600; i++) console.log("line " + i + " " + "x".repeat(100));
       console.error("err line");
       console.log("out " + process.env.SWAPSTATE_TEST_VAR);
       console.log("last line");`,
    );
    // The parent leaves the invoking state on OS.EXITED, so cleanup runs at once: output
    // still in the pipes at that moment must not be lost.
    const os = startOs(
      { model: 'chatty', cmd: `${q(NODE)} ${q(file)}`, env: { SWAPSTATE_TEST_VAR: 'from-env' } },
      { leaveOnExit: true },
    );
    await os.exited();
    await os.logHas('last line');
    expect(os.log.history()).toContain('out from-env');
    expect(os.log.history()).toContain('err line');
    expect(hub.upstream.history()).toContain('last line');
  });

  it('reports a command that does not exist as OS.EXITED with "failed to start command"', async () => {
    const os = startOs({ model: 'm', cmd: '/nonexistent/swapstate-no-such-binary --flag "a b"', env: {} });
    const exited = await os.exited();
    expect(exited.code).toBeNull();
    expect(exited.signal).toBeNull();
    expect(exited.error).toMatch(/^failed to start command '\/nonexistent\/swapstate-no-such-binary --flag a b': .*ENOENT/);
    expect(os.events.map((e) => e.type)).toEqual(['OS.EXITED']);
    expect(os.log.history()).toContain('failed to start command');
    expect(groups.list()).toEqual([]);
  });

  it('reports an unparsable command as OS.EXITED with "failed to start command"', async () => {
    const os = startOs({ model: 'm', cmd: `${q(NODE)} -e "process.exit(0)`, env: {} });
    const exited = await os.exited();
    expect(exited.error).toMatch(/^failed to start command .*unterminated double quote/);
    expect(os.events).toHaveLength(1);
  });

  it('OS.TERM sends SIGTERM to the whole process group', async () => {
    const child = script(
      'term-child',
      `process.on("SIGTERM", () => { console.log("child got SIGTERM"); process.exit(0); });
       console.log("child ready");
       setInterval(() => {}, 1000);`,
    );
    const leader = script(
      'term-leader',
      `const c = require("node:child_process").spawn(process.execPath, [${JSON.stringify(child)}], { stdio: "inherit" });
       // Both get the signal at once: exit only once both the own SIGTERM and the child's exit
       // have been seen, or a loaded machine may run the child's exit first and lose the line.
       let termed = false, childGone = false;
       process.on("SIGTERM", () => { console.log("leader got SIGTERM"); termed = true; if (childGone) process.exit(0); });
       c.on("exit", () => { childGone = true; if (termed) process.exit(0); });`,
    );
    const os = startOs({ model: 'm', cmd: `${q(NODE)} ${q(leader)}`, env: {} });
    await os.spawned();
    await os.logHas('child ready');
    os.send({ type: 'OS.TERM', graceMs: 10_000 });
    const exited = await os.exited();
    expect(exited).toEqual({ type: 'OS.EXITED', code: 0, signal: null });
    await os.logHas('leader got SIGTERM');
    await os.logHas('child got SIGTERM');
  });

  it('a process ignoring SIGTERM survives OS.TERM and dies on OS.KILL', async () => {
    const file = script(
      'stubborn',
      `process.on("SIGTERM", () => console.log("ignoring SIGTERM"));
       console.log("ready");
       setInterval(() => {}, 1000);`,
    );
    const os = startOs({ model: 'm', cmd: `${q(NODE)} ${q(file)}`, env: {} });
    const pid = await os.spawned();
    await os.logHas('ready');
    os.send({ type: 'OS.TERM', graceMs: 10_000 });
    await os.logHas('ignoring SIGTERM');
    expect(isAlive(pid)).toBe(true);
    expect(os.events.some((e) => e.type === 'OS.EXITED')).toBe(false);
    os.send({ type: 'OS.KILL' });
    const exited = await os.exited();
    expect(exited).toEqual({ type: 'OS.EXITED', code: null, signal: 'SIGKILL' });
  });

  it('OS.TERM runs cmdStop with ${PID} substituted, the same env, output into the model log', async () => {
    const file = script(
      'stoppable',
      `process.on("SIGTERM", () => { console.log("stopped via cmdStop"); process.exit(0); });
       console.log("ready");
       setInterval(() => {}, 1000);`,
    );
    const stopper = `console.log("stopper for " + process.argv[1] + " env=" + process.env.SWAPSTATE_TEST_VAR); process.kill(Number(process.argv[1]), "SIGTERM")`;
    const os = startOs({
      model: 'm',
      cmd: `${q(NODE)} ${q(file)}`,
      cmdStop: `${q(NODE)} -e ${q(stopper)} \${PID}`,
      env: { SWAPSTATE_TEST_VAR: 'shared' },
    });
    const pid = await os.spawned();
    await os.logHas('ready');
    os.send({ type: 'OS.TERM', graceMs: 10_000 });
    const exited = await os.exited();
    expect(exited).toEqual({ type: 'OS.EXITED', code: 0, signal: null });
    await os.logHas(`stopper for ${pid} env=shared`);
    await os.logHas('stopped via cmdStop');
    // The stop command's own group is forgotten once it exited.
    await until(() => groups.list().every((g) => g === pid), 'cmdStop to be untracked');
  });

  describe('cmdStop under the grace', () => {
    /** The demo upstream on a free port: it logs how it takes SIGTERM. */
    async function upstream(extra: string[] = []): Promise<Omit<OsProcessInput, 'model' | 'cmdStop'>> {
      const port = await freePort();
      return {
        cmd: [NODE, UPSTREAM, '--port', String(port), '--id', 'up', ...extra].map(q).join(' '),
        env: {},
        proxy: `http://127.0.0.1:${port}`,
      };
    }
    /** A cmdStop that prints its pid and never exits (nor stops anything). */
    const HANGING = `${q(NODE)} -e ${q('console.log("stopper pid " + process.pid); setInterval(() => {}, 1000)')} \${PID}`;
    const stopperPid = (log: string): number => Number(/stopper pid (\d+)/.exec(log)?.[1]);

    it('a cmdStop that cannot start: the group gets SIGTERM at once', async () => {
      const os = startOs({ model: 'm', ...(await upstream()), cmdStop: '/nonexistent/swapstate-stopper ${PID}' });
      await os.spawned();
      await os.logHas('listening on');
      os.send({ type: 'OS.TERM', graceMs: 60_000 });
      // The grace is a minute: only the fallback SIGTERM can have stopped it.
      expect(await os.exited()).toEqual({ type: 'OS.EXITED', code: 0, signal: null });
      expect(os.log.history()).toMatch(/cmdStop failed to start '\/nonexistent\/swapstate-stopper \d+': .*ENOENT; sending SIGTERM/);
      expect(os.log.history()).toContain('up shutting down on SIGTERM');
    });

    it('a cmdStop that exits non-zero: the group gets SIGTERM at once', async () => {
      const os = startOs({ model: 'm', ...(await upstream()), cmdStop: `${q(NODE)} -e ${q('process.exit(3)')} \${PID}` });
      await os.spawned();
      await os.logHas('listening on');
      os.send({ type: 'OS.TERM', graceMs: 60_000 });
      expect(await os.exited()).toEqual({ type: 'OS.EXITED', code: 0, signal: null });
      expect(os.log.history()).toMatch(/cmdStop '.*' failed: exit code 3; sending SIGTERM to the process group/);
      expect(os.log.history()).toContain('up shutting down on SIGTERM');
    });

    it('a cmdStop that hangs is killed at half the grace, then SIGTERM; SIGKILL still follows; the stopper is gone', async () => {
      const os = startOs({ model: 'm', ...(await upstream(['--ignore-sigterm'])), cmdStop: HANGING });
      const pid = await os.spawned();
      await os.logHas('listening on');
      const graceMs = 1_000;
      const t = Date.now();
      os.send({ type: 'OS.TERM', graceMs });
      await os.logHas('stopper pid ');
      const stopper = stopperPid(os.log.history());
      expect(isAlive(stopper)).toBe(true);
      await os.logHas('up ignoring SIGTERM');
      // Not before the stopper's half of the grace (timers may fire a little early).
      expect(Date.now() - t).toBeGreaterThanOrEqual(graceMs / 2 - 20);
      expect(os.log.history()).toMatch(/cmdStop '.*' did not finish within 0\.5s \(half the stop's grace\); killed it; sending SIGTERM/);
      await until(() => !isAlive(stopper), `stopper ${stopper} to be killed`);
      expect(isAlive(pid)).toBe(true); // it ignores SIGTERM: only the grace's SIGKILL ends it
      os.send({ type: 'OS.KILL' }); // what the machine sends at the end of the grace
      expect(await os.exited()).toEqual({ type: 'OS.EXITED', code: null, signal: 'SIGKILL' });
      const log = os.log.history();
      expect(log.indexOf('did not finish')).toBeLessThan(log.indexOf('up ignoring SIGTERM'));
      // The stopper's group is forgotten; the upstream's only when the actor is cleaned up.
      await until(() => groups.list().every((g) => g === pid), 'the stopper to be untracked');
    });

    it('the stopper never outlives the stop: OS.KILL before its half of the grace kills it too', async () => {
      const os = startOs({ model: 'm', ...(await upstream(['--ignore-sigterm'])), cmdStop: HANGING });
      await os.spawned();
      await os.logHas('listening on');
      os.send({ type: 'OS.TERM', graceMs: 600_000 });
      await os.logHas('stopper pid ');
      const stopper = stopperPid(os.log.history());
      os.send({ type: 'OS.KILL' }); // a shutdown cut the stop short
      expect(await os.exited()).toEqual({ type: 'OS.EXITED', code: null, signal: 'SIGKILL' });
      await until(() => !isAlive(stopper), `stopper ${stopper} to be killed`);
      expect(os.log.history()).not.toContain('ignoring SIGTERM');
    });

    it('the stopper never outlives the stop: the actor\'s cleanup kills it', async () => {
      const os = startOs({ model: 'm', ...(await upstream()), cmdStop: HANGING });
      const pid = await os.spawned();
      await os.logHas('listening on');
      os.send({ type: 'OS.TERM', graceMs: 600_000 });
      await os.logHas('stopper pid ');
      const stopper = stopperPid(os.log.history());
      os.actor.stop();
      await until(() => !isAlive(stopper) && !isAlive(pid), 'the stopper and the upstream to be killed');
    });
  });

  it('stopping the parent kills a running process and sends nothing more', async () => {
    const file = script('forever', `process.on("SIGTERM", () => {}); console.log("ready"); setInterval(() => {}, 1000);`);
    const os = startOs({ model: 'm', cmd: `${q(NODE)} ${q(file)}`, env: {} });
    const pid = await os.spawned();
    await os.logHas('ready');
    os.actor.stop();
    await until(() => !isAlive(pid), `pid ${pid} to die`);
    expect(os.events.map((e) => e.type)).toEqual(['OS.SPAWNED']);
    expect(groups.has(pid)).toBe(false);
  });

  it('reports the leader exit although a grandchild holds the pipes; cleanup kills that grandchild', async () => {
    const grandchild = script(
      'grandchild',
      `process.on("SIGTERM", () => {}); console.log("grandchild ready"); setInterval(() => {}, 1000);`,
    );
    const leader = script(
      'forking-leader',
      `const c = require("node:child_process").spawn(process.execPath, [${JSON.stringify(grandchild)}], { stdio: "inherit" });
       console.log("grandchild pid " + c.pid);
       process.exit(0);`,
    );
    const os = startOs({ model: 'm', cmd: `${q(NODE)} ${q(leader)}`, env: {} });
    await os.spawned();
    expect(await os.exited()).toEqual({ type: 'OS.EXITED', code: 0, signal: null });
    await os.logHas('grandchild pid ');
    const match = /grandchild pid (\d+)/.exec(os.log.history());
    const gpid = Number(match?.[1]);
    extraPids.push(gpid);
    await os.logHas('grandchild ready');
    expect(isAlive(gpid)).toBe(true);
    os.actor.stop();
    await until(() => !isAlive(gpid), `grandchild ${gpid} to die`);
  });
});

describe('os actor: a failed start says why', () => {
  it('an exit nobody asked for carries the last 5 lines of stderr, made safe to show', async () => {
    const file = script(
      'dying',
      `console.log("stdout is not part of the tail");
       for (let i = 1; i <= 4; i++) console.error("early line " + i);
       console.error("\\x1b[31mred\\x1b[0m and a bell\\x07 and a C1\\x9b byte");
       console.error("");
       console.error("x".repeat(500));
       process.stderr.write("error: failed to load model\\r\\n");
       process.stderr.write("last words, no newline");
       process.exitCode = 1;`,
    );
    const os = startOs({ model: 'm', cmd: `${q(NODE)} ${q(file)}`, env: {} }, { leaveOnExit: true });
    const exited = await os.exited();
    expect(exited.code).toBe(1);
    expect(exited.stderrTail).toEqual([
      'early line 4',
      'red and a bell\\x07 and a C1\\x9b byte',
      `${'x'.repeat(199)}…`,
      'error: failed to load model',
      'last words, no newline',
    ]);
  });

  it('an exit after OS.TERM carries no tail (it was asked for)', async () => {
    const file = script('polite', `process.on("SIGTERM", () => { console.error("bye"); process.exit(0); }); console.error("ready"); setInterval(() => {}, 1000);`);
    const os = startOs({ model: 'm', cmd: `${q(NODE)} ${q(file)}`, env: {} });
    await os.spawned();
    await os.logHas('ready');
    os.send({ type: 'OS.TERM', graceMs: 10_000 });
    expect(await os.exited()).toEqual({ type: 'OS.EXITED', code: 0, signal: null });
  });
});

describe('os actor: the port must be free before the spawn', () => {
  /** A command that leaves a mark if it ever runs. */
  function marking(name: string): { cmd: string; ran: () => boolean } {
    const mark = join(dir, `${name}.ran`);
    const file = script(name, `require("node:fs").writeFileSync(${JSON.stringify(mark)}, "x"); setInterval(() => {}, 1000);`);
    return { cmd: `${q(NODE)} ${q(file)}`, ran: () => existsSync(mark) };
  }

  /** A stranger listening on a free loopback port; counts the bytes anyone sends it. */
  async function stranger(): Promise<{ port: number; bytes: () => number; close: () => Promise<void> }> {
    let bytes = 0;
    const sockets = new Set<Socket>();
    const srv = createServer((sock) => {
      sockets.add(sock);
      sock.on('data', (d) => (bytes += d.length));
      sock.on('error', () => {});
      sock.on('close', () => sockets.delete(sock));
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const port = (srv.address() as AddressInfo).port;
    return {
      port,
      bytes: () => bytes,
      close: () =>
        new Promise<void>((resolve) => {
          for (const sock of sockets) sock.destroy();
          srv.close(() => resolve());
        }),
    };
  }

  it('a stranger on the port: the start fails at once, naming the port; the command never runs', async () => {
    const s = await stranger();
    try {
      const { cmd, ran } = marking('never-runs');
      const proxy = `http://localhost:${s.port}`;
      const os = startOs({ model: 'm', cmd, env: {}, proxy });
      const exited = await os.exited();
      // The stranger is a server of this test process: the message names it.
      const prefix = `port ${s.port} (from proxy ${proxy}) is already in use by another process (pid ${process.pid}: `;
      expect(exited).toMatchObject({ type: 'OS.EXITED', code: null, signal: null });
      const error = (exited as { error: string }).error;
      expect(error.startsWith(prefix) && error.endsWith(')')).toBe(true);
      expect(os.events.map((e) => e.type)).toEqual(['OS.EXITED']);
      expect(os.log.history()).toContain(`[swapstate] ${error}`);
      expect(ran()).toBe(false);
      expect(s.bytes()).toBe(0); // probed by connecting only: nothing was sent to it
      expect(ports.of(`loopback:${s.port}`)).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('a proxy that is not on loopback is left alone (it may be a remote server that is up)', async () => {
    const { cmd, ran } = marking('remote');
    const os = startOs({ model: 'm', cmd, env: {}, proxy: 'http://192.0.2.1:8080' });
    await os.spawned();
    await until(ran, 'the command to run');
  });

  it('a server of ours running on the port (another model): fails at once, naming it', async () => {
    const port = await freePort();
    const proxy = `http://127.0.0.1:${port}`;
    const a = startOs({ model: 'a', cmd: [NODE, UPSTREAM, '--port', String(port), '--id', 'a'].map(q).join(' '), env: {}, proxy });
    const pid = await a.spawned();
    const { cmd, ran } = marking('second');
    const b = startOs({ model: 'b', cmd, env: {}, proxy });
    expect((await b.exited()).error).toBe(`port ${port} (from proxy ${proxy}) is already in use by model "a" (pid ${pid})`);
    expect(ran()).toBe(false);
  });

  it('a server of ours still stopping on the port: the start waits for it to be gone, then spawns', async () => {
    const port = await freePort();
    const proxy = `http://127.0.0.1:${port}`;
    const old = ports.claim(`loopback:${port}`, 'old'); // an old server, stopping with a minute of grace
    old.stopping(60_000);
    const b = startOs({ model: 'b', ...marking('waits'), env: {}, proxy });
    // A start without the wait would spawn about as fast as this one, on a port nobody claims.
    const control = startOs({ model: 'c', ...marking('control'), env: {} });
    await control.spawned();
    expect(b.events).toEqual([]);
    const released = performance.now();
    old.release(); // the old server exited
    await b.spawned();
    expect(b.at['OS.SPAWNED']!).toBeGreaterThanOrEqual(released);
    expect(ports.of(`loopback:${port}`)).toEqual([expect.objectContaining({ model: 'b', pid: b.events[0]!.type === 'OS.SPAWNED' ? b.events[0]!.pid : -1 })]);
  });

  it('a server of ours that outlives its grace: then the stranger rule applies (port held: fail; port free: spawn)', async () => {
    // Stands for an old server that survived its SIGKILL (a process stuck in the kernel).
    const held = await stranger();
    try {
      const proxy = `http://127.0.0.1:${held.port}`;
      const old = ports.claim(`loopback:${held.port}`, 'old');
      old.spawned(999_999_999);
      old.stopping(300);
      const t = performance.now();
      const b = startOs({ model: 'b', ...marking('outlived'), env: {}, proxy }, { portTiming: { killMarginMs: 200 } });
      const exited = await b.exited();
      expect(performance.now() - t).toBeGreaterThanOrEqual(500 - 20);
      expect(exited.error).toBe(
        `port ${held.port} (from proxy ${proxy}) is still in use by model "old" (pid 999999999), which did not exit within its stop grace`,
      );
      expect(held.bytes()).toBe(0);
      old.release();
    } finally {
      await held.close();
    }
    // The same, but the old server no longer listens: the start goes ahead.
    const port = await freePort();
    const old = ports.claim(`loopback:${port}`, 'old');
    old.stopping(100);
    const c = startOs(
      { model: 'c', ...marking('after-grace'), env: {}, proxy: `http://127.0.0.1:${port}` },
      { portTiming: { killMarginMs: 100 } },
    );
    await c.spawned();
    old.release();
  });

  it('a stop while waiting for the port abandons the start: nothing runs, no claim is left', async () => {
    const port = await freePort();
    const proxy = `http://127.0.0.1:${port}`;
    const old = ports.claim(`loopback:${port}`, 'old');
    old.stopping(60_000);
    const { cmd, ran } = marking('abandoned');
    const b = startOs({ model: 'b', cmd, env: {}, proxy });
    b.send({ type: 'OS.TERM', graceMs: 1_000 });
    expect(await b.exited()).toEqual({ type: 'OS.EXITED', code: null, signal: null, error: 'stopped before the command was started' });
    old.release();
    b.actor.stop();
    expect(ports.of(`loopback:${port}`)).toEqual([]);
    expect(ran()).toBe(false);
  });
});

describe('ProcessGroups', () => {
  it('tracks and untracks group ids', () => {
    const g = new ProcessGroups();
    g.track(123);
    g.track(456);
    g.track(0); // never a group of ours: would signal our own group
    g.track(-5);
    expect(g.list().sort()).toEqual([123, 456]);
    g.untrack(123);
    expect(g.has(123)).toBe(false);
    expect(g.list()).toEqual([456]);
  });

  it('killAll signals every tracked group and ignores the ones already gone', async () => {
    const pids: number[] = [];
    for (let i = 0; i < 2; i++) {
      const child = spawn(NODE, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' });
      child.unref();
      if (child.pid === undefined) throw new Error('spawn failed');
      pids.push(child.pid);
      groups.track(child.pid);
    }
    groups.track(999_999_999); // no such group: ESRCH must be ignored
    expect(() => groups.killAll('SIGKILL')).not.toThrow();
    for (const pid of pids) await until(() => !isAlive(pid), `pid ${pid} to die`);
  });

  it('installExitReaper kills tracked groups when the process exits, and installs only once', async () => {
    const moduleUrl = new URL('../../src/runtime/process-groups.ts', import.meta.url).href;
    const program = `
      import { spawn } from 'node:child_process';
      import { ProcessGroups, installExitReaper } from ${JSON.stringify(moduleUrl)};
      const groups = new ProcessGroups();
      const before = process.listenerCount('exit');
      installExitReaper(groups);
      installExitReaper(groups);
      const added = process.listenerCount('exit') - before;
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' });
      child.unref();
      groups.track(child.pid);
      console.log(JSON.stringify({ pid: child.pid, added }));
      process.exit(0);
    `;
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn(NODE, ['--import', 'tsx', '--input-type=module', '-e', program], {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let text = '';
      p.stdout.on('data', (c: Buffer) => (text += c.toString()));
      p.on('error', reject);
      p.on('close', () => resolve(text));
    });
    const { pid, added } = JSON.parse(out.trim()) as { pid: number; added: number };
    extraPids.push(pid);
    expect(added).toBe(1);
    await until(() => !isAlive(pid), `orphaned group ${pid} to be reaped on exit`);
  });
});
