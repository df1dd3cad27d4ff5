/**
 * The real `health` actor against a local HTTP server on port 0. Waits poll conditions
 * with deadlines; the only bounded wait is the "nothing more happens after abort" window.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createActor, waitFor } from 'xstate';
import { createHealthCheckActor, FAST_PROBE_MS, nextProbeDelay, waitUntilHealthy } from '../../src/runtime/health-check.ts';

interface TestServer {
  url: string;
  /** Arrival times (ms since server start) of every request. */
  arrivals: number[];
  startedAt: number;
  server: http.Server;
}

const servers: http.Server[] = [];

/** A server answering `statuses[i]` to the i-th request (the last one repeats). */
async function startServer(statuses: number[]): Promise<TestServer> {
  const arrivals: number[] = [];
  const startedAt = Date.now();
  const server = http.createServer((req, res) => {
    arrivals.push(Date.now() - startedAt);
    const status = statuses[Math.min(arrivals.length - 1, statuses.length - 1)] ?? 200;
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(status === 204 ? undefined : `status ${status}\n`);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/health`, arrivals, startedAt, server };
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function openConnections(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

describe('health actor', () => {
  it('probes at once, even with a long interval', async () => {
    const srv = await startServer([200]);
    const actor = createActor(createHealthCheckActor(), { input: { model: 'm', url: srv.url, intervalMs: 30_000 } });
    const started = Date.now();
    actor.start();
    const snapshot = await waitFor(actor, (s) => s.status !== 'active', { timeout: 10_000 });
    expect(snapshot.status).toBe('done');
    expect(srv.arrivals).toHaveLength(1);
    // Far less than one interval: the first probe did not wait for it.
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('keeps probing every interval until it gets 200', async () => {
    const srv = await startServer([503, 503, 503, 200, 200]);
    const intervalMs = 50;
    const actor = createActor(createHealthCheckActor(), { input: { model: 'm', url: srv.url, intervalMs } });
    actor.start();
    const snapshot = await waitFor(actor, (s) => s.status !== 'active', { timeout: 10_000 });
    expect(snapshot.status).toBe('done');
    expect(srv.arrivals).toHaveLength(4);
    // No socket kept alive after success.
    await expectNoConnections(srv.server);
  });

  it('does not treat a non-200 success status (204) as healthy', async () => {
    const srv = await startServer([204, 204, 204, 200]);
    const result = waitUntilHealthy({ model: 'm', url: srv.url, intervalMs: 20 }, new AbortController().signal);
    await result;
    expect(srv.arrivals).toHaveLength(4);
  });

  it('treats a refused connection as "not yet"', async () => {
    // Grab a free port, then close it so nothing listens there.
    const probe = await startServer([200]);
    const url = probe.url;
    await new Promise<void>((resolve) => probe.server.close(() => resolve()));
    servers.splice(servers.indexOf(probe.server), 1);

    const controller = new AbortController();
    let settled = false;
    const result = waitUntilHealthy({ model: 'm', url, intervalMs: 20 }, controller.signal).finally(() => {
      settled = true;
    });
    // Start listening on that port later: the poller must then succeed.
    const port = Number(new URL(url).port);
    const late = http.createServer((_req, res) => res.end('ok'));
    servers.push(late);
    await new Promise<void>((resolve) => late.listen(port, '127.0.0.1', resolve));
    await result;
    expect(settled).toBe(true);
  });

  it('abort rejects promptly and stops probing; no sockets are left', async () => {
    const srv = await startServer([503]);
    const intervalMs = 20;
    const controller = new AbortController();
    const result = waitUntilHealthy({ model: 'm', url: srv.url, intervalMs }, controller.signal);
    await until(() => srv.arrivals.length >= 2, 'two probes');
    const abortedAt = Date.now();
    controller.abort(new Error('stopped'));
    await expect(result).rejects.toThrow('stopped');
    expect(Date.now() - abortedAt).toBeLessThan(3_000); // without it: the next interval or the 5 s probe timeout
    const count = srv.arrivals.length;
    // A negative check needs a window: 10 intervals in which no probe may arrive.
    await new Promise((resolve) => setTimeout(resolve, intervalMs * 10));
    expect(srv.arrivals.length).toBe(count);
    await expectNoConnections(srv.server);
  });

  it('abort during an in-flight probe rejects promptly and closes its socket', async () => {
    let requests = 0;
    const server = http.createServer(() => {
      requests++; // never answers
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const controller = new AbortController();
    const result = waitUntilHealthy({ model: 'm', url: `http://127.0.0.1:${port}/`, intervalMs: 1_000 }, controller.signal);
    await until(() => requests === 1, 'the probe to arrive');
    const abortedAt = Date.now();
    controller.abort(new Error('stopped'));
    await expect(result).rejects.toThrow('stopped');
    expect(Date.now() - abortedAt).toBeLessThan(3_000); // without it: the next interval or the 5 s probe timeout
    await expectNoConnections(server);
  });

  it('stopping the actor aborts the polling', async () => {
    const srv = await startServer([503]);
    const intervalMs = 20;
    const actor = createActor(createHealthCheckActor(), { input: { model: 'm', url: srv.url, intervalMs } });
    actor.start();
    await until(() => srv.arrivals.length >= 2, 'two probes');
    actor.stop();
    const count = srv.arrivals.length;
    // A negative check needs a window: 10 intervals. At most a probe that was already on
    // the wire when the actor stopped may still arrive.
    await new Promise((resolve) => setTimeout(resolve, intervalMs * 10));
    expect(srv.arrivals.length).toBeLessThanOrEqual(count + 1);
    await expectNoConnections(srv.server);
  });

  it('a hung probe times out and counts as "not yet"', async () => {
    let requests = 0;
    const server = http.createServer((_req, res) => {
      requests++;
      if (requests === 1) return; // never answer the first probe
      res.end('ok');
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await waitUntilHealthy(
      { model: 'm', url: `http://127.0.0.1:${port}/`, intervalMs: 10 },
      new AbortController().signal,
      { probeTimeoutMs: 100 },
    );
    expect(requests).toBe(2);
  });
});

/** The client closes each probe's socket; wait until the server sees none open. */
async function expectNoConnections(server: http.Server): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const n = await openConnections(server);
    if (n === 0) return;
    if (Date.now() > deadline) throw new Error(`${n} connection(s) still open`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('probing around the expected readiness', () => {
  it('nextProbeDelay: the interval, then fast probes from an interval + 50 ms before the last load time to 200 ms after it', () => {
    expect(nextProbeDelay(0, 100)).toBe(100); // nothing learnt yet
    expect(nextProbeDelay(0, 100, 5000)).toBe(100);
    expect(nextProbeDelay(4800, 100, 5000)).toBe(50); // lands on the window's start, 4850
    expect(nextProbeDelay(4848, 100, 5000)).toBe(FAST_PROBE_MS); // never a shorter wait than a fast probe
    expect(nextProbeDelay(4850, 100, 5000)).toBe(FAST_PROBE_MS);
    expect(nextProbeDelay(5199, 100, 5000)).toBe(FAST_PROBE_MS);
    expect(nextProbeDelay(5200, 100, 5000)).toBe(100); // slower than last time: back to the interval
    expect(nextProbeDelay(0, 30_000, 5000)).toBe(3950); // a long interval opens the window at most 1 s early
    expect(nextProbeDelay(0, 2, 5000)).toBe(2); // an interval shorter than a fast probe stays
  });

  it('probes at once, then waits exactly the interval between probes (on a virtual clock)', async () => {
    // Arrival times at a real server can bunch up on a busy machine; the waits cannot.
    let now = 0;
    const waits: number[] = [];
    const statuses = [503, 503, 503, 200];
    const probedAt: number[] = [];
    const clock = {
      now: () => now,
      sleep: async (ms: number) => {
        waits.push(ms);
        now += ms;
      },
    };
    const probe = async () => {
      probedAt.push(now);
      return statuses.shift() ?? 200;
    };
    const ms = await waitUntilHealthy({ model: 'm', url: 'http://127.0.0.1:1/health', intervalMs: 50 }, new AbortController().signal, { clock, probe });
    expect(probedAt).toEqual([0, 50, 100, 150]);
    expect(waits).toEqual([50, 50, 50]);
    expect(ms).toBe(150);
  });

  it('a model that took as long as last time is seen ready within a few ms, not at the next interval', async () => {
    // On a virtual clock (probes take no time, sleeps advance it), so the figures are exact
    // whatever the machine is doing. Healthy 300 ms after each wait begins; probes every 2 s.
    // Without learning, every wait would see it at the second probe, 1700 ms late.
    let now = 0;
    let readyAt = 0;
    const clock = { now: () => now, sleep: async (ms: number) => void (now += ms) };
    const logic = createHealthCheckActor({ clock, probe: async () => (now >= readyAt ? 200 : 503) });
    const wait = async () => {
      readyAt = now + 300;
      const actor = createActor(logic, { input: { model: 'm', url: 'http://127.0.0.1:1/health', intervalMs: 2_000 } }).start();
      await waitFor(actor, (s) => s.status !== 'active', { timeout: 10_000 });
      expect(actor.getSnapshot().status).toBe('done');
      return now - readyAt;
    };
    expect(await wait()).toBe(1_700); // seen at the probe after the interval (2 s): learnt 2000
    expect(await wait()).toBe(650); // the window opened at 2000 - 1000 - 50 = 950 ms: learnt 950
    expect(await wait()).toBe(0); // fast probes (every 5 ms) from the start: seen as it turns healthy
  });
});
