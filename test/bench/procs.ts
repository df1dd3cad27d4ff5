/**
 * Processes for the benchmark: the built swapstate, the demo upstream spawned directly, the
 * load generator; /proc readers (CPU time, RSS); and cleanup.
 *
 * Every process the bench starts runs in its own process group (`detached`) and carries
 * `SWAPSTATE_BENCH_MARKER=<run>:<instance>` in its environment, which model servers started
 * by swapstate inherit. `killAll()` (run on every exit path, synchronously) SIGKILLs every
 * group we started and every live process carrying this run's marker.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BurstResult, ConcResult, LoadCommand, SeqResult, StreamResult } from './loadgen.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DIST_MAIN = join(ROOT, 'dist/src/main.js');
export const UPSTREAM = join(ROOT, 'src/demo/upstream.mjs');
const LOADGEN = fileURLToPath(new URL('./loadgen.ts', import.meta.url));

const MARKER_ENV = 'SWAPSTATE_BENCH_MARKER';
export const RUN_ID = randomUUID();

/** Process-group leaders we spawned. */
const groups = new Set<number>();

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function markerEnv(instance: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...extra, [MARKER_ENV]: `${RUN_ID}:${instance}` };
}

/** Live, non-zombie pids whose environment carries this run's marker (optionally one instance). */
export function markedPids(instance?: string): number[] {
  const exact = instance === undefined ? null : `${MARKER_ENV}=${RUN_ID}:${instance}`;
  const prefix = `${MARKER_ENV}=${RUN_ID}:`;
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
      if (!env.some((e) => (exact ? e === exact : e.startsWith(prefix)))) continue;
      if (/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'latin1'))) continue;
      out.push(pid);
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

/** SIGKILLs every group we started and every process carrying the marker (synchronous). */
export function killAll(instance?: string): void {
  if (instance === undefined) for (const g of groups) kill(-g, 'SIGKILL');
  for (let round = 0; round < 3; round++) {
    const pids = markedPids(instance);
    if (pids.length === 0) return;
    for (const pid of pids) kill(pid, 'SIGKILL');
  }
}

// ---------------------------------------------------------------------------------------
// /proc
// ---------------------------------------------------------------------------------------

let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  /* 100 is the Linux default */
}

/** utime + stime of `pid` in ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): utime is field 14, stime field 15.
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / clkTck;
}

export const CPU_RESOLUTION_MS = 1000 / clkTck;

/**
 * On-CPU time of every live thread of `pid` in ms, from /proc/<pid>/task/<tid>/schedstat
 * (nanoseconds, so far finer than the clock ticks of `cpuMs`; threads that exited are not
 * counted, which does not matter for Node's long-lived threads).
 */
export function schedCpuMs(pid: number, mainThreadOnly = false): number {
  if (mainThreadOnly) return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'latin1').split(' ')[0]) / 1e6;
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
    } catch {
      /* thread gone meanwhile */
    }
  }
  return ns / 1e6;
}

/** VmRSS of `pid` in MB. */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  return m ? Number(m[1]) / 1024 : NaN;
}

// ---------------------------------------------------------------------------------------
// HTTP helpers for the orchestrator (not for measurements: those go through the loadgen)
// ---------------------------------------------------------------------------------------

export function httpGet(url: string, timeoutMs = 2_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export function httpPost(url: string, body: unknown, timeoutMs = 30_000): Promise<{ status: number; body: string }> {
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': data.length } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(data);
  });
}

/** Polls `cond` every `everyMs` until it holds; throws after `timeoutMs`. */
export async function until(cond: () => Promise<boolean> | boolean, what: string, timeoutMs: number, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

// ---------------------------------------------------------------------------------------
// swapstate
// ---------------------------------------------------------------------------------------

export interface Swapstate {
  pid: number;
  url: string;
  logFile: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, wait (bounded) for the exit, then SIGKILL whatever of this instance is left. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * The node flags of the `swapstate` command's shebang (`#!/usr/bin/env -S node <flags>`), so
 * the measured process runs exactly as the installed command does.
 */
export function binNodeFlags(): string[] {
  const first = readFileSync(DIST_MAIN, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\/usr\/bin\/env -S node(.*)$/.exec(first);
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : [];
}

export async function startSwapstate(opts: {
  instance: string;
  dir: string;
  config: string;
  port: number;
  nodeArgs?: string[];
}): Promise<Swapstate> {
  const configPath = join(opts.dir, `${opts.instance}.yaml`);
  writeFileSync(configPath, opts.config);
  const logFile = join(opts.dir, `${opts.instance}.log`);
  const fd = openSync(logFile, 'w');
  const child = spawn(
    process.execPath,
    [...binNodeFlags(), ...(opts.nodeArgs ?? []), DIST_MAIN, '--config', configPath, '--listen', `127.0.0.1:${opts.port}`],
    {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', fd, fd],
      env: markerEnv(opts.instance, { SWAPSTATE_STATE_DIR: join(opts.dir, `${opts.instance}-state`) }),
    },
  );
  closeSync(fd);
  if (child.pid === undefined) throw new Error('failed to spawn swapstate');
  const pid = child.pid;
  groups.add(pid);
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    }),
  );
  const url = `http://127.0.0.1:${opts.port}`;
  await until(
    async () => {
      if (exit) throw new Error(`swapstate ${opts.instance} exited ${JSON.stringify(exit)}:\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
      try {
        return (await httpGet(`${url}/health`, 1_000)).status === 200;
      } catch {
        return false;
      }
    },
    `swapstate ${opts.instance} to listen`,
    15_000,
  );
  return {
    pid,
    url,
    logFile,
    exited,
    async stop(graceMs = 10_000) {
      kill(pid, 'SIGTERM');
      await Promise.race([exited, sleep(graceMs)]);
      kill(-pid, 'SIGKILL');
      killAll(opts.instance);
      groups.delete(pid);
    },
  };
}

// ---------------------------------------------------------------------------------------
// The floor: a bare pass-through proxy (floor.mjs), with swapstate's Node flags
// ---------------------------------------------------------------------------------------

const FLOOR = fileURLToPath(new URL('./floor.mjs', import.meta.url));

/**
 * RSS (MB) of a bare `node` with the shebang's flags that imports `modules` (from the
 * repository, as swapstate does) and then idles for a second: row 5a°, what the Node line and
 * swapstate's dependencies hold before any code of ours runs.
 */
export function importedRssMb(modules: string[]): number {
  const script =
    `for (const m of ${JSON.stringify(modules)}) await import(m);\n` +
    `await new Promise((r) => setTimeout(r, 1000));\n` +
    `process.stdout.write(String(process.memoryUsage.rss() / 1048576));`;
  const out = execFileSync(process.execPath, [...binNodeFlags(), '--input-type=module', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return Number(out);
}

export interface FloorProxy {
  pid: number;
  url: string;
  stop(): void;
}

/**
 * Starts floor.mjs on `port` (node flags: the shebang's, then `nodeArgs`), forwarding to the
 * upstream on `upstreamPort`, and in the same process each `more` pair (listen port, upstream
 * port); resolves once it listens on all of them.
 */
export async function startFloorProxy(
  port: number,
  upstreamPort: number,
  nodeArgs: string[] = [],
  more: Array<[number, number]> = [],
): Promise<FloorProxy> {
  const pairs = [port, upstreamPort, ...more.flat()].map(String);
  const child = spawn(process.execPath, [...binNodeFlags(), ...nodeArgs, FLOOR, ...pairs], {
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: markerEnv('floor'),
  });
  if (child.pid === undefined) throw new Error('failed to spawn the floor proxy');
  const pid = child.pid;
  groups.add(pid);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`floor proxy exited with ${code}`)));
  });
  return {
    pid,
    url: `http://127.0.0.1:${port}`,
    stop: () => {
      kill(-pid, 'SIGKILL');
      groups.delete(pid);
    },
  };
}

// ---------------------------------------------------------------------------------------
// The demo upstream, spawned directly
// ---------------------------------------------------------------------------------------

/**
 * Spawns the demo upstream as swapstate would (own process group, stdout piped and read) and
 * polls GET /health every `pollMs` (a fresh connection per probe, as swapstate's health check)
 * until 200. Resolves with the spawn-to-healthy time in ms; the upstream is stopped after.
 */
export async function spawnToHealthy(port: number, args: string[], pollMs: number, timeoutMs = 10_000): Promise<number> {
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, [UPSTREAM, '--port', String(port), ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: markerEnv('direct-upstream'),
  });
  if (child.pid === undefined) throw new Error('failed to spawn the upstream');
  const pid = child.pid;
  groups.add(pid);
  child.stdout!.on('data', () => {});
  child.stderr!.on('data', () => {});
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const agent = new http.Agent({ keepAlive: false });
  try {
    const deadline = t0 + timeoutMs;
    while (performance.now() < deadline) {
      const status = await new Promise<number>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/health', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', () => resolve(0));
        });
        req.setTimeout(500, () => req.destroy());
        req.on('error', () => resolve(0));
      });
      if (status === 200) return performance.now() - t0;
      await sleep(pollMs);
    }
    throw new Error(`upstream on port ${port} not healthy within ${timeoutMs} ms`);
  } finally {
    agent.destroy();
    kill(-pid, 'SIGTERM');
    await Promise.race([exited, sleep(3_000)]);
    kill(-pid, 'SIGKILL');
    groups.delete(pid);
  }
}

// ---------------------------------------------------------------------------------------
// The load generator
// ---------------------------------------------------------------------------------------

export interface LoadGen {
  pid: number;
  seq(url: string, body: unknown, n: number): Promise<SeqResult>;
  conc(url: string, body: unknown, connections: number, durationMs: number, maxRequests: number): Promise<ConcResult>;
  stream(url: string, body: unknown): Promise<StreamResult>;
  burst(url: string, bodies: unknown[], n: number, timeoutMs: number): Promise<BurstResult>;
  close(): void;
}

export async function startLoadGen(): Promise<LoadGen> {
  const child = spawn(process.execPath, ['--import', 'tsx', LOADGEN], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: markerEnv('loadgen'),
  });
  if (child.pid === undefined) throw new Error('failed to spawn the load generator');
  const pid = child.pid;
  groups.add(pid);
  let next = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let ready: () => void = () => {};
  const readyP = new Promise<void>((r) => (ready = r));
  child.on('message', (msg: { ready?: boolean; id?: number; result?: unknown; error?: string }) => {
    if (msg.ready) return ready();
    const p = pending.get(msg.id ?? -1);
    if (!p) return;
    pending.delete(msg.id!);
    clearTimeout(p.timer);
    if (msg.error !== undefined) p.reject(new Error(`loadgen: ${msg.error}`));
    else p.resolve(msg.result);
  });
  child.once('exit', (code, signal) => {
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(`load generator exited (${code ?? signal})`));
    }
    pending.clear();
  });
  await Promise.race([
    readyP,
    sleep(20_000).then(() => {
      throw new Error('load generator did not start');
    }),
  ]);
  const call = <T>(cmd: LoadCommand, boundMs: number): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`load generator: ${cmd.kind} did not finish within ${boundMs} ms`));
      }, boundMs);
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      child.send({ id, cmd });
    });
  const TIMEOUT = 30_000;
  return {
    pid,
    seq: (url, body, n) => call({ kind: 'seq', url, body: JSON.stringify(body), n, timeoutMs: TIMEOUT }, 60_000 + n * 50),
    conc: (url, body, connections, durationMs, maxRequests) =>
      call({ kind: 'conc', url, body: JSON.stringify(body), connections, durationMs, maxRequests, timeoutMs: TIMEOUT }, durationMs + 2 * TIMEOUT),
    stream: (url, body) => call({ kind: 'stream', url, body: JSON.stringify(body), timeoutMs: TIMEOUT }, TIMEOUT + 5_000),
    burst: (url, bodies, n, timeoutMs) =>
      call({ kind: 'burst', url, bodies: bodies.map((b) => JSON.stringify(b)), n, timeoutMs }, timeoutMs + 10_000),
    close() {
      kill(-pid, 'SIGKILL');
      groups.delete(pid);
    },
  };
}
