/**
 * Real demo upstreams (src/demo/upstream.mjs) for integration tests: free ports, scheduler
 * input for a set of models, and process-liveness polling.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { ProcessConfig } from '../../machines/process.machine.ts';
import type { SchedulerInput } from '../../machines/scheduler.machine.ts';
import type { Groups } from '../../src/core/group-swapper.ts';
import { claimPorts, releasePorts } from './port-claims.ts';

export const UPSTREAM = fileURLToPath(new URL('../../src/demo/upstream.mjs', import.meta.url));

/**
 * A port nobody listens on right now, from this worker's slice (see freePortBlock). Not the
 * kernel's pick (`listen(0)`): released at once, that port went to another worker's
 * `listen(0)` while a swapstate CLI was still starting, which then found it taken, and the
 * test talked to the other worker's server (a Node 24 CI run got "available models are m").
 */
export async function freePort(): Promise<number> {
  return freePortBlock(1);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * The first of `count` consecutive ports that are free right now, for a config's
 * `startPort`. Picked at random below the kernel's ephemeral range (32768+), where
 * `freePort()` and outgoing connections take theirs, so parallel workers and runs rarely meet.
 *
 * Each test worker (vitest runs a few files at once, each in its own process, `VITEST_POOL_ID`
 * 1..n) picks from its own slice of that range: "free right now" says nothing about a block
 * another worker has just picked and not bound yet, and since swapstate refuses to start a
 * model whose port someone else holds, two workers' blocks must never overlap. Two runs at
 * once share those slices: their blocks are kept apart by machine-wide claims (port-claims.ts).
 */
const handedOut: Array<[number, number]> = [];

const PORT_RANGE = { from: 20_000, to: 32_000 };
const PORT_SLICES = 4;

function portSlice(): { from: number; to: number } {
  const pool = Number(process.env.VITEST_POOL_ID ?? '1');
  const index = (Number.isInteger(pool) && pool > 0 ? pool - 1 : 0) % PORT_SLICES;
  const size = Math.floor((PORT_RANGE.to - PORT_RANGE.from) / PORT_SLICES);
  return { from: PORT_RANGE.from + index * size, to: PORT_RANGE.from + (index + 1) * size };
}

export async function freePortBlock(count: number): Promise<number> {
  const slice = portSlice();
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = slice.from + Math.floor(Math.random() * (slice.to - slice.from - count));
    // Blocks handed to servers of this worker that have not bound their ports yet count as taken.
    if (handedOut.some(([b, n]) => base < b + n && b < base + count)) continue;
    // Held from before the first await: concurrent callers (tests of one file run side by side)
    // checked overlapping candidates between their awaits, and both got the same ports.
    // Another run on this machine (a second checkout's suite) may have picked it too: a
    // machine-wide claim decides (port-claims.ts).
    if (!claimPorts(base, count)) continue;
    const entry: [number, number] = [base, count];
    handedOut.push(entry);
    let free = true;
    for (let p = base; p < base + count && free; p++) free = await canListen(p);
    if (free) return base;
    handedOut.splice(handedOut.indexOf(entry), 1);
    releasePorts(base, count);
  }
  throw new Error(`no block of ${count} free ports found`);
}

/** Quotes one word for a llama-swap `cmd` line (POSIX shell words, no shell). */
function word(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface UpstreamSpec {
  loadDelayMs?: number;
  extraArgs?: string[];
  checkEndpoint?: string;
  ttlMs?: number;
}

export async function upstreamProcess(model: string, spec: UpstreamSpec = {}): Promise<ProcessConfig> {
  const port = await freePort();
  const argv = [process.execPath, UPSTREAM, '--port', String(port), '--id', model];
  if (spec.loadDelayMs) argv.push('--load-delay', String(spec.loadDelayMs));
  argv.push(...(spec.extraArgs ?? []));
  return {
    model,
    cmd: argv.map(word).join(' '),
    env: {},
    proxy: `http://127.0.0.1:${port}`,
    checkEndpoint: spec.checkEndpoint ?? '/health',
    healthCheckTimeoutMs: 15_000,
    healthCheckIntervalMs: 100,
    ttlMs: spec.ttlMs ?? 0,
    unloadGraceMs: 2_000,
  };
}

export async function schedulerInput(
  specs: Record<string, UpstreamSpec>,
  groups?: Groups,
): Promise<SchedulerInput> {
  const models: SchedulerInput['models'] = {};
  for (const [id, spec] of Object.entries(specs)) models[id] = { process: await upstreamProcess(id, spec) };
  return { models, groups, evictGraceMs: 5_000 };
}

/** Alive and not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

/**
 * Polls `cond` until it holds or `timeoutMs` passes; throws with `what` on time-out. A `what`
 * that is a function is read at the time-out, so it can say what was left then.
 */
export async function until(cond: () => boolean | Promise<boolean>, what: string | (() => string), timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
