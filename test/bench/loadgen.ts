/**
 * The benchmark's load generator: a child process driven over IPC by test/bench/bench.ts, so
 * the same generator (one process, one event loop, the same client code) sends the direct
 * and the proxied runs, and its CPU never shares an event loop with the orchestrator.
 *
 * Commands (one at a time; the answer carries the command's `id`):
 * - `seq`    n sequential requests on one keep-alive connection; every latency in µs;
 * - `conc`   `connections` keep-alive loops for `durationMs` (or `maxRequests`): count, rate;
 * - `stream` one SSE request: time to headers, arrival time of every `data:` event, reads;
 * - `burst`  n requests fired at once, each on its own connection: statuses, wall time.
 *
 * Every request has a timeout; every loop is bounded in count and time. When the
 * orchestrator disappears (IPC disconnect, e.g. it was SIGKILLed) this process SIGKILLs every
 * process of the run (swapstate, model servers) and exits.
 */
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';

export type LoadCommand =
  | { kind: 'seq'; url: string; body: string; n: number; timeoutMs: number }
  | { kind: 'conc'; url: string; body: string; connections: number; durationMs: number; maxRequests: number; timeoutMs: number }
  | { kind: 'stream'; url: string; body: string; timeoutMs: number }
  | { kind: 'burst'; url: string; bodies: string[]; n: number; timeoutMs: number };

export interface SeqResult {
  latenciesUs: number[];
  statuses: Record<string, number>;
}

export interface ConcResult {
  requests: number;
  elapsedMs: number;
  reqPerSec: number;
  statuses: Record<string, number>;
  p50Us: number;
  p99Us: number;
}

export interface StreamResult {
  status: number;
  /** Request start to response headers. */
  headersMs: number;
  /** Arrival time (ms since the request started) of each content `data:` event, `[DONE]` excluded. */
  eventsMs: number[];
  done: boolean;
  /** `data` callbacks of the response (socket reads, after de-chunking). */
  reads: number;
  /** Reads that completed two or more events. */
  multiEventReads: number;
  error: string | null;
}

export interface BurstResult {
  statuses: Record<string, number>;
  wallMs: number;
  p50Ms: number;
  maxMs: number;
}

interface Outcome {
  status: number; // 0: no response (see error)
  us: number;
  error: string | null;
}

const nowUs = (): number => Number(process.hrtime.bigint()) / 1000;

/** The options of a JSON POST of `body` to `url` (load and streams alike). */
function postOptions(agent: http.Agent, url: URL, body: Buffer, headers: http.OutgoingHttpHeaders = {}): http.RequestOptions {
  return {
    host: url.hostname,
    port: url.port,
    path: url.pathname,
    method: 'POST',
    agent,
    headers: { 'content-type': 'application/json', 'content-length': body.length, ...headers },
  };
}

function post(agent: http.Agent, url: URL, body: Buffer, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const t0 = nowUs();
    let settled = false;
    const finish = (status: number, error: string | null) => {
      if (settled) return;
      settled = true;
      resolve({ status, us: nowUs() - t0, error });
    };
    const req = http.request(
      postOptions(agent, url, body),
      (res) => {
        res.on('data', () => {});
        res.on('end', () => finish(res.statusCode ?? 0, null));
        res.on('error', (err) => finish(0, err.message));
        res.on('close', () => finish(res.complete ? (res.statusCode ?? 0) : 0, res.complete ? null : 'response cut'));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', (err) => finish(0, (err as NodeJS.ErrnoException).code ?? err.message));
    req.end(body);
  });
}

function count(statuses: Record<string, number>, o: Outcome): void {
  const key = o.status === 0 ? `error:${o.error ?? '?'}` : String(o.status);
  statuses[key] = (statuses[key] ?? 0) + 1;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function seq(cmd: Extract<LoadCommand, { kind: 'seq' }>): Promise<SeqResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const url = new URL(cmd.url);
  const body = Buffer.from(cmd.body);
  const latenciesUs: number[] = [];
  const statuses: Record<string, number> = {};
  try {
    for (let i = 0; i < cmd.n; i++) {
      const o = await post(agent, url, body, cmd.timeoutMs);
      count(statuses, o);
      latenciesUs.push(o.us);
    }
  } finally {
    agent.destroy();
  }
  return { latenciesUs, statuses };
}

async function conc(cmd: Extract<LoadCommand, { kind: 'conc' }>): Promise<ConcResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: cmd.connections });
  const url = new URL(cmd.url);
  const body = Buffer.from(cmd.body);
  const statuses: Record<string, number> = {};
  const lat: number[] = [];
  let issued = 0;
  const t0 = performance.now();
  const end = t0 + cmd.durationMs;
  const loop = async () => {
    while (performance.now() < end && issued < cmd.maxRequests) {
      issued++;
      const o = await post(agent, url, body, cmd.timeoutMs);
      count(statuses, o);
      lat.push(o.us);
    }
  };
  try {
    await Promise.all(Array.from({ length: cmd.connections }, loop));
  } finally {
    agent.destroy();
  }
  const elapsedMs = performance.now() - t0;
  lat.sort((a, b) => a - b);
  return {
    requests: lat.length,
    elapsedMs,
    reqPerSec: (lat.length / elapsedMs) * 1000,
    statuses,
    p50Us: pct(lat, 50),
    p99Us: pct(lat, 99),
  };
}

function stream(cmd: Extract<LoadCommand, { kind: 'stream' }>): Promise<StreamResult> {
  const url = new URL(cmd.url);
  const body = Buffer.from(cmd.body);
  const agent = new http.Agent({ keepAlive: false });
  return new Promise((resolve) => {
    const t0 = performance.now();
    const result: StreamResult = { status: 0, headersMs: NaN, eventsMs: [], done: false, reads: 0, multiEventReads: 0, error: null };
    let settled = false;
    const finish = (error: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      result.error = error;
      agent.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => {
      req.destroy();
      finish('timeout');
    }, cmd.timeoutMs);
    const req = http.request(
      postOptions(agent, url, body, { accept: 'text/event-stream' }),
      (res) => {
        result.status = res.statusCode ?? 0;
        result.headersMs = performance.now() - t0;
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const t = performance.now() - t0;
          result.reads++;
          buf += chunk;
          let events = 0;
          for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
            const event = buf.slice(0, i);
            buf = buf.slice(i + 2);
            events++;
            if (event.startsWith('data: [DONE]')) result.done = true;
            else if (event.startsWith('data:')) result.eventsMs.push(t);
          }
          if (events >= 2) result.multiEventReads++;
        });
        res.on('end', () => finish(null));
        res.on('error', (err) => finish(err.message));
      },
    );
    req.on('error', (err) => finish((err as NodeJS.ErrnoException).code ?? err.message));
    req.end(body);
  });
}

async function burst(cmd: Extract<LoadCommand, { kind: 'burst' }>): Promise<BurstResult> {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const url = new URL(cmd.url);
  const bodies = cmd.bodies.map((b) => Buffer.from(b));
  const statuses: Record<string, number> = {};
  const t0 = performance.now();
  try {
    const outcomes = await Promise.all(
      Array.from({ length: cmd.n }, (_, i) => post(agent, url, bodies[i % bodies.length]!, cmd.timeoutMs)),
    );
    const wallMs = performance.now() - t0;
    for (const o of outcomes) count(statuses, o);
    const ms = outcomes.map((o) => o.us / 1000).sort((a, b) => a - b);
    return { statuses, wallMs, p50Ms: pct(ms, 50), maxMs: ms[ms.length - 1] ?? NaN };
  } finally {
    agent.destroy();
  }
}

function run(cmd: LoadCommand): Promise<unknown> {
  switch (cmd.kind) {
    case 'seq':
      return seq(cmd);
    case 'conc':
      return conc(cmd);
    case 'stream':
      return stream(cmd);
    case 'burst':
      return burst(cmd);
  }
}

/** SIGKILLs every other process carrying this run's marker (see procs.ts). */
function reapRun(): void {
  const mine = process.env.SWAPSTATE_BENCH_MARKER ?? '';
  const run = mine.slice(0, mine.indexOf(':') + 1);
  if (run === '') return;
  const needle = `SWAPSTATE_BENCH_MARKER=${run}`;
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').some((e) => e.startsWith(needle))) process.kill(pid, 'SIGKILL');
    } catch {
      /* gone, or not ours to read */
    }
  }
}

if (process.send) {
  process.on('message', (msg: { id: number; cmd: LoadCommand }) => {
    run(msg.cmd).then(
      (result) => process.send!({ id: msg.id, result }),
      (err: unknown) => process.send!({ id: msg.id, error: err instanceof Error ? err.stack ?? err.message : String(err) }),
    );
  });
  // The orchestrator went away (even SIGKILLed, when it could not clean up): kill everything
  // of its run, then leave.
  process.on('disconnect', () => {
    reapRun();
    process.exit(0);
  });
  process.send({ ready: true });
}
