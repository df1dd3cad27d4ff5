/**
 * "Before spawning, a model's port must be free": the check the `os` actor runs first.
 *
 * - A process of ours that holds the port and is stopping (the model's previous server, or
 *   the old actor tree's after a reload) is waited for, at most until its stop's grace has
 *   ended and its SIGKILL has had time to work.
 * - A process of ours that holds the port and is not stopping (another model configured with
 *   the same port, running) is not going away: the start fails at once, naming it.
 * - Anyone else listening there (a stranger) makes the start fail at once, naming the port.
 *   Without this, the health check passed against the stranger and requests were served by
 *   it, while the real server died with EADDRINUSE.
 *
 * Only loopback proxies (localhost, 127.0.0.0/8, ::1) are checked. A `proxy` elsewhere may
 * legitimately point at a server that is up before `cmd` runs (a remote machine that `cmd`
 * wakes up, wake-on-LAN style, or a server managed by someone else): those are left alone.
 */
import { isIPv4, isIPv6, connect } from 'node:net';
import type { PortClaim, PortHolder, PortHolders } from './port-holders.ts';
import { portOwner } from './port-owner.ts';

/** Where a model's server will listen, as the health check and the proxy will reach it. */
export interface PortEndpoint {
  /** Host to connect to (brackets of an IPv6 literal removed). */
  host: string;
  port: number;
  /** Registry key: every loopback name of one port is the same port for us. */
  key: string;
  /** The configured proxy URL, for messages. */
  proxy: string;
}

/** Timing of {@link clearPort}; the defaults suit real processes. */
export interface PortGuardTiming {
  /** After a holder's grace, how long its SIGKILL may take to end it. Default 2000 ms. */
  killMarginMs?: number;
  /**
   * After a holder's leader exited, how long the rest of its group (killed right after) may
   * keep the port. Default 1000 ms; the wait ends as soon as the port is free.
   */
  releaseMs?: number;
  /** A connection attempt that neither connects nor is refused in this time counts as taken. */
  probeTimeoutMs?: number;
}

/**
 * The endpoint of a loopback `proxy` URL, or null when the proxy is not on this machine's
 * loopback (or is no URL at all): then nothing is checked.
 */
export function loopbackEndpoint(proxy: string): PortEndpoint | null {
  let url: URL;
  try {
    url = new URL(proxy);
  } catch {
    return null;
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!isLoopback(host)) return null;
  const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { host, port, key: `loopback:${port}`, proxy };
}

function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === 'localhost.') return true;
  if (isIPv4(h)) return h.startsWith('127.');
  if (isIPv6(h)) return h === '::1' || h.startsWith('::ffff:7f'); // ::ffff:127.x.y.z, as URL writes it
  return false;
}

/** What a connection attempt to a port found. */
export type PortProbe = 'free' | 'taken' | 'unknown';

/**
 * Tries to connect: refused means free, accepted means someone listens. Nothing is sent (the
 * socket is closed as soon as it connects). Other errors (no route, address not available)
 * and a probe that gets no answer within `timeoutMs` say nothing about the port: `unknown`,
 * and the start goes on as it would have.
 */
export function probePort(host: string, port: number, timeoutMs = 1_000): Promise<PortProbe> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (result: PortProbe): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    // On loopback a refusal is immediate, but its event can wait behind a busy event loop:
    // after a stall the timers run before the I/O callbacks, so a timeout says nothing about
    // the port (a loaded test run saw "in use by another process" for free ports). Unknown: the
    // start goes on, and a real holder then shows as the server's own EADDRINUSE.
    const timer = setTimeout(() => done('unknown'), timeoutMs);
    socket.once('connect', () => done('taken'));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? 'free' : 'unknown'));
  });
}

/** The outcome of {@link clearPort}: a claim to spawn under, or why the start must fail. */
export type PortClearance = { claim: PortClaim } | { error: string };

/**
 * Waits until `endpoint`'s port is free for `model` (see the module comment), then claims it in
 * `holders`, synchronously with the last check, so two starts cannot both find it free.
 *
 * Rejects with `signal.reason` if `signal` aborts (the start was abandoned); no timer or socket
 * is left behind.
 */
export async function clearPort(
  endpoint: PortEndpoint,
  model: string,
  holders: PortHolders,
  signal: AbortSignal,
  timing: PortGuardTiming = {},
): Promise<PortClearance> {
  const killMarginMs = timing.killMarginMs ?? 2_000;
  const releaseMs = timing.releaseMs ?? 1_000;
  const probeTimeoutMs = timing.probeTimeoutMs ?? 1_000;
  const prefix = `port ${endpoint.port} (from proxy ${endpoint.proxy})`;

  // Holders of ours already waited for, up to the end of their grace. One still registered
  // after that is treated like anyone else: the port is probed, and taken means the start fails.
  const waited = new Set<PortHolder>();
  // Each round fails, succeeds, or waits for holders not waited for yet; another round is
  // needed only when a start of ours claimed the port while this one was probing.
  for (let round = 0; round < 5; round++) {
    signal.throwIfAborted();
    const ours = holders.of(endpoint.key).filter((h) => !waited.has(h));
    const running = ours.find((h) => h.stopDeadline === null);
    if (running) return { error: `${prefix} is already in use by ${describe(running)}` };

    if (ours.length > 0) {
      const deadline = Math.max(...ours.map((h) => h.stopDeadline as number)) + killMarginMs;
      await within(Promise.all(ours.map((h) => h.gone)), deadline - Date.now(), signal);
      for (const h of ours) waited.add(h);
    }

    let probe = await probePort(endpoint.host, endpoint.port, probeTimeoutMs);
    // A holder of ours whose leader has exited may still have group members on the port (a
    // wrapper script's server), killed right after: give their sockets a moment to close
    // before calling whoever is left a stranger.
    const releaseBy = Date.now() + releaseMs;
    while (probe === 'taken' && holders.exitedGroups(endpoint.key).some(groupAlive) && Date.now() < releaseBy) {
      await within(null, 20, signal);
      probe = await probePort(endpoint.host, endpoint.port, probeTimeoutMs);
    }
    signal.throwIfAborted();
    if (probe === 'taken') {
      const stuck = holders.of(endpoint.key).find((h) => waited.has(h));
      if (stuck) return { error: `${prefix} is still in use by ${describe(stuck)}, which did not exit within its stop grace` };
      const owner = portOwner(endpoint.port);
      return { error: `${prefix} is already in use by another process${owner ? ` (${owner})` : ''}` };
    }
    if (holders.of(endpoint.key).every((h) => waited.has(h))) return { claim: holders.claim(endpoint.key, model) };
  }
  return { error: `${prefix} is claimed by other starts of this swapstate` };
}

function describe(h: PortHolder): string {
  return `model ${JSON.stringify(h.model)}${h.pid !== null ? ` (pid ${h.pid})` : ''}`;
}

/** Whether any member of process group `pgid` is left (zombies included). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Waits for `promise` (null: nothing, a plain sleep) at most `ms`; rejects with
 * `signal.reason` on abort; clears its timer either way.
 */
function within(promise: Promise<unknown> | null, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const finish = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      finish();
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      finish();
      resolve();
    }, Math.max(0, ms));
    signal.addEventListener('abort', onAbort, { once: true });
    promise?.then(
      () => {
        finish();
        resolve();
      },
      () => {
        finish();
        resolve();
      },
    );
  });
}
