/**
 * Runs the `swapstate` command as a real process (`node --import tsx src/main.ts ...`) for the
 * CLI tests, and cleans up after it.
 *
 * Every run is spawned `detached` (its own process group) and carries a unique marker in its
 * environment, which its upstreams inherit. The upstreams live in process groups of their
 * own, so killing swapstate's group does not reach them; `kill()` therefore also SIGKILLs
 * every process that carries the run's marker (Linux /proc).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, freePortBlock, until } from '../helpers/real-upstreams.ts';

export { freePort, isAlive, until } from '../helpers/real-upstreams.ts';

/** The repository root: the CLI runs from here, as `npm start` would. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MAIN = join(ROOT, 'src/main.ts');
export const UPSTREAM = join(ROOT, 'src/demo/upstream.mjs');

export const MARKER_ENV = 'SWAPSTATE_CLI_MARKER';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliRun {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Value of the environment marker this run and its upstreams carry. */
  readonly marker: string;
  /** Label used by `killRuns(tag)`. */
  readonly tag: string;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited and its pipes are closed. */
  readonly exited: Promise<Exit>;
  /** The exit, or a thrown error (with the output) when it does not come within `timeoutMs`. */
  waitExit(timeoutMs?: number): Promise<Exit>;
  /** SIGKILLs the run's process group and every process carrying its marker. */
  kill(): void;
}

const runs = new Set<CliRun>();

export interface SpawnOptions {
  /** Extra environment; a value of `undefined` removes the variable. */
  env?: Record<string, string | undefined>;
  tag?: string;
}

export function spawnCli(args: readonly string[], opts: SpawnOptions = {}): CliRun {
  const marker = randomUUID();
  // Each run keeps its process-group ledger in a private folder unless the test shares one.
  const env: NodeJS.ProcessEnv = { ...process.env, [MARKER_ENV]: marker, SWAPSTATE_STATE_DIR: tempDir() };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  if (child.pid === undefined) throw new Error('failed to spawn swapstate');
  const pid = child.pid;
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<Exit>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const run: CliRun = {
    child,
    pid,
    marker,
    tag: opts.tag ?? '',
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitExit(timeoutMs = 15_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), timeoutMs);
      });
      const result = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      if (result === null) {
        run.kill();
        throw new Error(`swapstate ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err}`);
      }
      return result;
    },
    kill() {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      for (const p of markedProcesses(marker)) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* gone meanwhile */
        }
      }
    },
  };
  runs.add(run);
  void exited.then(() => {
    // Forget a run only once nothing of it is left (its upstreams may outlive it).
    if (markedProcesses(marker).length === 0) runs.delete(run);
  });
  return run;
}

/** Safety net for afterEach: SIGKILLs every run (or those with `tag`) and what they started. */
export function killRuns(tag?: string): void {
  for (const run of [...runs]) {
    if (tag !== undefined && run.tag !== tag) continue;
    run.kill();
    runs.delete(run);
  }
}

/** Live (non-zombie) processes carrying `marker`: a run and everything it started. */
export function markedProcesses(marker: string): Array<{ pid: number; cmd: string }> {
  const needle = `${MARKER_ENV}=${marker}`;
  const out: Array<{ pid: number; cmd: string }> = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(needle)) continue;
      if (/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'latin1'))) continue;
      out.push({ pid, cmd: readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim() });
    } catch {
      /* gone meanwhile, or not readable */
    }
  }
  return out;
}

/** The demo upstreams a run started that are still alive (everything marked but the run itself). */
export function upstreamsOf(run: CliRun): Array<{ pid: number; cmd: string }> {
  return markedProcesses(run.marker).filter((p) => p.pid !== run.pid && p.cmd.includes('upstream.mjs'));
}

/** The pid of the live upstream started with `--id <id>`, or null. */
export function upstreamPid(run: CliRun, id: string): number | null {
  return upstreamsOf(run).find((p) => wordAfter(p.cmd, '--id') === id)?.pid ?? null;
}

function wordAfter(cmd: string, flag: string): string | undefined {
  const words = cmd.split(' ');
  const i = words.indexOf(flag);
  return i < 0 ? undefined : words[i + 1];
}

/** Polls GET /health until it answers 200; fails early (with the output) if the run exits. */
export async function waitHealthy(run: CliRun, url: string, timeoutMs = 20_000): Promise<void> {
  let exit: Exit | null = null;
  void run.exited.then((e) => (exit = e));
  await until(
    async () => {
      if (exit) throw new Error(`swapstate exited (${JSON.stringify(exit)}) before listening\nstdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`);
      try {
        const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        return res.status === 200;
      } catch {
        return false;
      }
    },
    `swapstate to listen on ${url}`,
    timeoutMs,
  );
}

/** Whether a TCP connect to 127.0.0.1:port is refused (nothing listening). */
export function connectRefused(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.destroy();
      resolve(err.code === 'ECONNREFUSED');
    });
  });
}

/** Whether 127.0.0.1:port can be bound right now. */
export function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/**
 * The first of STARTPORT_BLOCK consecutive free ports, for a config's `startPort`, in this
 * worker's slice. Every model that takes a `${PORT}` uses the next one: a block smaller than
 * the config's models let a CI run hand a model's port to another test's swapstate (the matrix
 * test's four models once got a block of two), so startCli refuses configs that outgrow it.
 */
export const STARTPORT_BLOCK = 8;
export async function freePortPair(): Promise<number> {
  return freePortBlock(STARTPORT_BLOCK);
}

/** A private temporary directory, removed by `removeTempDirs()`. */
const tempDirs: string[] = [];
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'swapstate-cli-'));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function writeConfig(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** A demo-upstream model block (YAML, two-space indented under `models:`). */
export function demoModel(id: string, opts: { args?: string; extra?: string[] } = {}): string {
  const lines = [
    `  ${id}:`,
    `    cmd: ${process.execPath} ${UPSTREAM} --port \${PORT} --id ${id}${opts.args ? ` ${opts.args}` : ''}`,
    `    proxy: http://127.0.0.1:\${PORT}`,
    ...(opts.extra ?? []).map((l) => `    ${l}`),
  ];
  return `${lines.join('\n')}\n`;
}

export interface ChatResult {
  status: number;
  body: string;
}

export async function chat(url: string, model: string, content = 'hi'): Promise<ChatResult> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, body: await res.text() };
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export async function getText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return res.text();
}

export async function modelIds(url: string): Promise<string[]> {
  return (await getJson<{ data: Array<{ id: string }> }>(`${url}/v1/models`)).data.map((m) => m.id);
}

export async function runningIds(url: string): Promise<string[]> {
  return (await getJson<{ running: Array<{ model: string }> }>(`${url}/running`)).running.map((m) => m.model);
}

/** A swapstate CLI run with `yaml` as its config (logs on stdout as the yaml says), listening and healthy. */
export async function startCli(tag: string, yaml: string): Promise<{ run: CliRun; url: string; file: string }> {
  // One port per model whose cmd takes `${PORT}` (its proxy line names the same port).
  const ports = yaml.split('\n').filter((l) => /^\s*cmd:.*\$\{PORT\}/.test(l)).length;
  if (ports > STARTPORT_BLOCK) throw new Error(`a test config with ${ports} models on \${PORT} outgrows freePortPair's block of ${STARTPORT_BLOCK}`);
  const file = writeConfig(tempDir(), 'config.yaml', yaml);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const run = spawnCli(['--config', file, '--listen', `127.0.0.1:${port}`], { tag });
  await waitHealthy(run, url);
  return { run, url, file };
}

/**
 * Waits for `text` on swapstate's stdout: the test reads that pipe on its own schedule, so a
 * line written before an answer may be read after it.
 */
export function printed(run: CliRun, text: string): Promise<void> {
  return until(() => run.stdout().includes(text), `${JSON.stringify(text)} on swapstate's stdout`);
}
