/**
 * The real `health` actor: polls an upstream's health URL until it answers HTTP 200.
 *
 * Only "is it up yet" lives here. How long to wait overall is the process machine's
 * business (an `after` delay in its starting state), which stops this actor and thereby
 * aborts the polling.
 */
import type * as Http from 'node:http';
import { http } from '../node-http.ts';
import https from 'node:https';
import { fromPromise, type PromiseActorLogic } from 'xstate';
import type { HealthCheckInput } from '../../machines/os.protocol.ts';

/** Time as the health actor sees it: real by default, virtual in tests of its timing. */
export interface ProbeClock {
  /** Monotonic ms. */
  now(): number;
  /** Waits `ms`; rejects with `signal.reason` as soon as `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** Tuning of the health actor. */
export interface HealthCheckDeps {
  /**
   * Per-probe timeout in ms; a probe that takes longer counts as "not yet". Default
   * `min(5000, max(500, intervalMs * 10))`: long enough for a busy server, short enough
   * that one hung connection does not eat the whole start-up deadline.
   */
  probeTimeoutMs?: number;
  /** Default: `performance.now()` and a timer. */
  clock?: ProbeClock;
  /** One probe of `url`: its HTTP status, or null without an answer. Default: a real GET. */
  probe?: (url: URL, signal: AbortSignal) => Promise<number | null>;
}

const realClock: ProbeClock = { now: () => performance.now(), sleep: (ms, signal) => delay(ms, signal) };

/** The logic to provide as the process machine's `health` actor. */
export type HealthCheckLogic = PromiseActorLogic<void, HealthCheckInput>;

/**
 * The window around a model's expected readiness in which probes go out every
 * FAST_PROBE_MS instead of every `intervalMs`. The time learnt from probes every interval
 * is up to an interval late, so the window opens an interval (at most a second) plus
 * FAST_MARGIN_MS before it, and closes FAST_AFTER_MS after. Once a start was seen by fast
 * probes, the time learnt is exact. Each probe is one connection to a local port.
 */
export const FAST_PROBE_MS = 5;
const FAST_MARGIN_MS = 50;
const FAST_AFTER_MS = 200;

/**
 * Creates the `health` actor logic: resolves once `input.url` answers 200.
 *
 * It remembers how long each model took to become healthy (from the first probe, which goes
 * out as the process has spawned) and probes that model fast around the same time on its
 * next start. A model server's load time is much the same from one start to the next, and
 * with probes every `intervalMs` a swap lost up to a whole interval after the server was
 * ready; now it loses at most FAST_PROBE_MS when the load takes as long as last time.
 */
export function createHealthCheckActor(deps: HealthCheckDeps = {}): HealthCheckLogic {
  const lastReadyMs = new Map<string, number>();
  return fromPromise<void, HealthCheckInput>(async ({ input, signal }) => {
    const ms = await waitUntilHealthy(input, signal, deps, lastReadyMs.get(input.model));
    lastReadyMs.set(input.model, ms);
  });
}

/**
 * Probes `input.url` at once, then every `input.intervalMs` (every FAST_PROBE_MS around
 * `expectedMs`, when given), until a probe gets status 200 exactly (a 204 or a redirect is
 * not "healthy", as in llama-swap). Refused connections, timeouts and other statuses just
 * mean "not yet". Resolves with the ms from the first probe to the healthy one.
 *
 * Rejects with `signal.reason` as soon as `signal` aborts; no timer and no socket is left
 * behind (every probe has its own connection, never kept alive).
 */
export async function waitUntilHealthy(
  input: HealthCheckInput,
  signal: AbortSignal,
  deps: HealthCheckDeps = {},
  expectedMs?: number,
): Promise<number> {
  const intervalMs = Math.max(0, input.intervalMs);
  const timeoutMs = deps.probeTimeoutMs ?? Math.min(5000, Math.max(500, intervalMs * 10));
  const clock = deps.clock ?? realClock;
  const url = new URL(input.url);
  const client = url.protocol === 'https:' ? https : http;
  // A fresh agent without keep-alive: each probe's socket closes with its response, so an
  // abort leaves nothing open, and a restarted server is never probed on a stale socket.
  const agent = new client.Agent({ keepAlive: false });
  const probeOnce = deps.probe ?? ((u: URL, s: AbortSignal) => probe(client, u, agent, timeoutMs, s));
  const started = clock.now();
  try {
    for (;;) {
      signal.throwIfAborted();
      const status = await probeOnce(url, signal);
      if (status === 200) return clock.now() - started;
      await clock.sleep(nextProbeDelay(clock.now() - started, intervalMs, expectedMs), signal);
    }
  } finally {
    agent.destroy();
  }
}

/**
 * How long to wait before the next probe, `elapsed` ms into the wait: the interval, but
 * every FAST_PROBE_MS inside the window around `expectedMs`, and never past the window's start.
 */
export function nextProbeDelay(elapsed: number, intervalMs: number, expectedMs?: number): number {
  if (expectedMs === undefined || intervalMs <= FAST_PROBE_MS) return intervalMs;
  const from = expectedMs - Math.min(intervalMs, 1_000) - FAST_MARGIN_MS;
  const to = expectedMs + FAST_AFTER_MS;
  if (elapsed >= to) return intervalMs;
  if (elapsed >= from) return FAST_PROBE_MS;
  return Math.min(intervalMs, Math.max(FAST_PROBE_MS, from - elapsed));
}

/** One GET; resolves with the status code, or null when no answer came (never rejects). */
function probe(
  client: typeof http | typeof https,
  url: URL,
  agent: Http.Agent,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<number | null> {
  return new Promise((resolve) => {
    let status: number | null = null;
    let settled = false;
    let req: Http.ClientRequest | undefined;

    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      req?.destroy();
      resolve(status);
    };
    const onAbort = (): void => finish();
    // One deadline for the whole probe (connect, headers and body), unlike a socket idle
    // timeout, which a server trickling bytes would never trigger.
    const timer = setTimeout(finish, timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });

    try {
      req = client.get(url, { agent, headers: { connection: 'close' } }, (res) => {
        status = res.statusCode ?? null;
        // Read and drop the body so the response completes and the socket is released.
        res.resume();
        res.on('end', finish);
        res.on('error', finish);
        res.on('close', finish);
      });
      req.on('error', finish);
      req.on('close', finish);
    } catch {
      // An invalid request (bad host name etc.) is "not yet", like a refused connection.
      finish();
    }
  });
}

/** Sleeps `ms`; rejects with `signal.reason` as soon as `signal` aborts, clearing the timer. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
