/**
 * The port check before a spawn (src/runtime/port-guard.ts) on its own: which proxies it
 * checks, how it probes, and how it waits for a group of ours that still holds the port after
 * its leader exited. Real sockets and real processes; the os actor tests cover the rest.
 */
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { clearPort, loopbackEndpoint, probePort } from '../../src/runtime/port-guard.ts';
import { PortHolders } from '../../src/runtime/port-holders.ts';
import { freePort, isAlive, until } from '../helpers/real-upstreams.ts';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function listen(): Promise<{ srv: Server; port: number }> {
  const srv = createServer((s) => s.destroy());
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((r) => srv.close(r)));
  return { srv, port: (srv.address() as AddressInfo).port };
}

describe('loopbackEndpoint', () => {
  it.each([
    ['http://127.0.0.1:5800', '127.0.0.1', 5800],
    ['http://localhost:5800/v1', 'localhost', 5800],
    ['http://LOCALHOST:5800', 'localhost', 5800],
    ['http://127.1.2.3:5800', '127.1.2.3', 5800],
    ['http://[::1]:5800', '::1', 5800],
    ['http://[::ffff:127.0.0.1]:5800', '::ffff:7f00:1', 5800],
    ['http://127.0.0.1', '127.0.0.1', 80],
    ['https://localhost', 'localhost', 443],
  ])('%s is checked (host %s, port %d)', (proxy, host, port) => {
    expect(loopbackEndpoint(proxy)).toEqual({ host, port, key: `loopback:${port}`, proxy });
  });

  it.each(['http://192.168.1.20:8080', 'http://gpu-box:8080', 'http://[fe80::1]:8080', 'http://0.0.0.0:8080', 'not a url'])(
    '%s is left alone',
    (proxy) => {
      expect(loopbackEndpoint(proxy)).toBeNull();
    },
  );
});

describe('probePort', () => {
  it('free when refused, taken when someone listens', async () => {
    const { port } = await listen();
    expect(await probePort('127.0.0.1', port)).toBe('taken');
    expect(await probePort('localhost', port)).toBe('taken');
    expect(await probePort('127.0.0.1', await freePort())).toBe('free');
  });
});

describe('clearPort', () => {
  it('claims a free port synchronously with its last check; a second start then finds it claimed', async () => {
    const port = await freePort();
    const holders = new PortHolders();
    const ep = loopbackEndpoint(`http://127.0.0.1:${port}`)!;
    const [a, b] = await Promise.all([
      clearPort(ep, 'a', holders, new AbortController().signal),
      clearPort(ep, 'b', holders, new AbortController().signal),
    ]);
    const outcomes = [a, b].map((c) => ('claim' in c ? 'claim' : c.error));
    expect(outcomes.filter((o) => o === 'claim')).toHaveLength(1);
    expect(outcomes.find((o) => o !== 'claim')).toMatch(/^port \d+ \(from proxy .*\) is already in use by model "[ab]"$/);
  });

  it.each([
    ['while the start waits for it', false],
    ['before the start looks (a wrapper script exited first, its server lingers)', true],
  ])('the leader of ours exited %s: waits for the rest of its group to let the port go', async (_, releasedFirst) => {
    const port = await freePort();
    // A group member that listens on the port and says when someone connects.
    const member = spawn(
      process.execPath,
      ['-e', `require("net").createServer((s) => { console.log("probed"); s.destroy(); }).listen(${port}, "127.0.0.1", () => console.log("listening"))`],
      { detached: true, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const pid = member.pid!;
    cleanups.push(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    });
    let out = '';
    member.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    await until(() => out.includes('listening'), 'the member to listen');

    const holders = new PortHolders();
    const old = holders.claim(`loopback:${port}`, 'old');
    old.spawned(pid); // its group
    old.stopping(1_000);
    const ep = loopbackEndpoint(`http://127.0.0.1:${port}`)!;
    if (releasedFirst) old.release(); // "the leader exited"; its group still listens
    const cleared = clearPort(ep, 'new', holders, new AbortController().signal, { releaseMs: 20_000 });
    if (!releasedFirst) old.release();
    await until(() => out.includes('probed'), 'the port to be probed');
    process.kill(-pid, 'SIGKILL'); // what the old os actor's cleanup does
    const result = await cleared;
    expect('claim' in result ? 'claimed' : result.error).toBe('claimed');
    // The kernel frees the port while the killed process exits, a moment before it is a
    // zombie (a loaded run saw it still alive right after the claim): polled, not read once.
    await until(() => !isAlive(pid), 'the killed member to be gone', 5_000);
  });

  it('a stranger left on the port once our holder is gone: fails (without waiting out the release time)', async () => {
    const { port } = await listen();
    const holders = new PortHolders();
    const old = holders.claim(`loopback:${port}`, 'old');
    old.stopping(1_000);
    const ep = loopbackEndpoint(`http://127.0.0.1:${port}`)!;
    const t = Date.now();
    const cleared = clearPort(ep, 'new', holders, new AbortController().signal, { releaseMs: 20_000 });
    old.release(); // no pid: nothing of ours can still hold it
    const result = await cleared;
    // The stranger is a server of this test process: the message names it.
    const prefix = `port ${port} (from proxy http://127.0.0.1:${port}) is already in use by another process (pid ${process.pid}: `;
    expect('error' in result && result.error.startsWith(prefix)).toBe(true);
    expect(Date.now() - t).toBeLessThan(10_000);
  });

  it('an abort ends the wait at once', async () => {
    const holders = new PortHolders();
    const port = await freePort();
    holders.claim(`loopback:${port}`, 'old').stopping(600_000);
    const ac = new AbortController();
    const cleared = clearPort(loopbackEndpoint(`http://127.0.0.1:${port}`)!, 'new', holders, ac.signal);
    ac.abort(new Error('stopped'));
    await expect(cleared).rejects.toThrow('stopped');
  });
});
