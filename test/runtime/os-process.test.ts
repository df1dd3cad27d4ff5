/**
 * The real `os` actor, driven through a tiny parent machine (a callback actor's `sendBack`
 * needs a parent), spawning real `node` processes. No fixed sleeps: every wait polls a
 * condition with a deadline. Every process started here is in a tracked group that
 * `afterEach` SIGKILLs, and grandchildren are killed by pid.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createActor, sendTo, setup } from 'xstate';
import type { OsCommand, OsEvent, OsExitedEvent, OsProcessInput } from '../../machines/os.protocol.ts';
import { createOsProcessActor } from '../../src/runtime/os-process.ts';
import { ProcessGroups } from '../../src/runtime/process-groups.ts';
import { LogHub } from '../../src/runtime/ring-log.ts';

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
  hub = new LogHub();
}

/**
 * Starts a parent machine invoking the real `os` actor; records what it sends back. With
 * `leaveOnExit`, the parent leaves the invoking state on OS.EXITED, as the process machine
 * does, so the actor's cleanup runs in the same tick as the exit event.
 */
function startOs(input: OsProcessInput, { leaveOnExit = false } = {}) {
  const events: OsEvent[] = [];
  const machine = setup({
    types: {
      input: {} as OsProcessInput,
      context: {} as { input: OsProcessInput },
      events: {} as OsEvent | OsCommand,
    },
    actors: { os: createOsProcessActor({ logs: hub, groups }) },
  }).createMachine({
    context: ({ input }) => ({ input }),
    initial: 'running',
    states: {
      running: {
        invoke: { id: 'os', src: 'os', input: ({ context }) => context.input },
        on: {
          'OS.SPAWNED': { actions: ({ event }) => void events.push(event) },
          'OS.EXITED': [
            { guard: () => leaveOnExit, target: 'gone', actions: ({ event }) => void events.push(event) },
            { actions: ({ event }) => void events.push(event) },
          ],
          'OS.TERM': { actions: sendTo('os', ({ event }) => event) },
          'OS.KILL': { actions: sendTo('os', ({ event }) => event) },
        },
      },
      gone: {},
    },
  });
  const actor = createActor(machine, { input });
  running.push(actor);
  actor.start();
  const log = hub.forModel(input.model);

  return {
    actor,
    events,
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
       process.on("SIGTERM", () => console.log("leader got SIGTERM"));
       c.on("exit", () => process.exit(0));`,
    );
    const os = startOs({ model: 'm', cmd: `${q(NODE)} ${q(leader)}`, env: {} });
    await os.spawned();
    await os.logHas('child ready');
    os.send({ type: 'OS.TERM' });
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
    os.send({ type: 'OS.TERM' });
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
    os.send({ type: 'OS.TERM' });
    const exited = await os.exited();
    expect(exited).toEqual({ type: 'OS.EXITED', code: 0, signal: null });
    await os.logHas(`stopper for ${pid} env=shared`);
    await os.logHas('stopped via cmdStop');
    // The stop command's own group is forgotten once it exited.
    await until(() => groups.list().every((g) => g === pid), 'cmdStop to be untracked');
  });

  it('a failing cmdStop is only logged; OS.KILL still works', async () => {
    const file = script('plain', `console.log("ready"); setInterval(() => {}, 1000);`);
    const os = startOs({
      model: 'm',
      cmd: `${q(NODE)} ${q(file)}`,
      cmdStop: '/nonexistent/swapstate-stopper ${PID}',
      env: {},
    });
    const pid = await os.spawned();
    await os.logHas('ready');
    os.send({ type: 'OS.TERM' });
    await os.logHas('cmdStop failed to start');
    expect(isAlive(pid)).toBe(true);
    os.send({ type: 'OS.KILL' });
    expect(await os.exited()).toEqual({ type: 'OS.EXITED', code: null, signal: 'SIGKILL' });
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
