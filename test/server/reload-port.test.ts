/**
 * A reload that changes a model replaces its process once idle: the old server is stopped with
 * the model's own unloadTimeout (here 3 s), and only then is the new one started. An old
 * server that outlives its SIGTERM (it ignores it, so it lives until the SIGKILL at the end of
 * that grace) still holds its port. The new server must not be spawned next to it: before, a
 * health check passed against the old server and the request was served by it, while the new
 * one died with EADDRINUSE. (Before swapstate's reload kept models running, the old tree was
 * shut down with a 30 s grace and a new tree raced it for the port.)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePortBlock, isAlive, until, UPSTREAM } from '../helpers/real-upstreams.ts';
import { chat, startServer, type RunningServer } from '../helpers/server-harness.ts';

let srv: RunningServer | null = null;
let dir: string | null = null;
afterEach(async () => {
  await srv?.stop();
  srv = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

/** A config with one model `m`, served by the demo upstream that calls itself `name`. */
function config(startPort: number, name: string, args = ''): string {
  return [
    'healthCheckTimeout: 15',
    'healthCheckInterval: 50',
    'logToStdout: none',
    `startPort: ${startPort}`,
    'models:',
    '  m:',
    `    cmd: ${process.execPath} ${UPSTREAM} --port \${PORT} --id ${name} ${args}`,
    `    unloadTimeout: ${UNLOAD_S}`,
    '',
  ].join('\n');
}

/** The model's stop grace: how long the replaced server may take to exit before SIGKILL. */
const UNLOAD_S = 3;
const UNLOAD_MS = UNLOAD_S * 1000;

/** Timers may fire a little early relative to our clock reads. */
const SLACK_MS = 100;

describe('reload while an old server still holds the port', () => {
  it('the request is served by the new server, once the old one is gone (at most its unloadTimeout)', { timeout: 60_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'swapstate-reload-port-'));
    const configPath = join(dir, 'config.yaml');
    const startPort = await freePortBlock(4);
    writeFileSync(configPath, config(startPort, 'm-old', '--ignore-sigterm'));
    srv = await startServer(config(startPort, 'm-old', '--ignore-sigterm'), { configPath });

    const first = await chat(srv.url, 'm');
    expect(await first.text()).toContain('Hello from m-old.');
    const oldPid = srv.server.state().runtime.process('m')!.pid!;
    expect(isAlive(oldPid)).toBe(true);

    // A changed config: same model, same port, a server that names itself differently.
    writeFileSync(configPath, config(startPort, 'm-new'));
    const t = Date.now();
    expect(await srv.server.reload()).toBe(true);
    const reply = chat(srv.url, 'm', {}, { signal: AbortSignal.timeout(UNLOAD_MS + 30_000) });
    await until(() => srv!.logs.hub.forModel('m').history().includes('m-old ignoring SIGTERM'), 'the old server to ignore its SIGTERM');
    // Meanwhile nothing is spawned next to the old server: the request waits for it to go.
    expect(srv.server.state().runtime.process('m')).toMatchObject({ pid: oldPid });
    expect(isAlive(oldPid)).toBe(true);

    const res = await reply;
    const body = await res.text();
    const at = Date.now();
    expect(res.status, body).toBe(200);
    expect(body).toContain('Hello from m-new.');
    expect(body).not.toContain('m-old');
    const newPid = srv.server.state().runtime.process('m')!.pid!;
    expect(newPid).not.toBe(oldPid);
    expect(isAlive(oldPid)).toBe(false);
    // It waited for the old server's grace (SIGKILL at its unloadTimeout), and not much longer.
    expect(at - t).toBeGreaterThanOrEqual(UNLOAD_MS - SLACK_MS);
    expect(at - t).toBeLessThan(UNLOAD_MS + 10_000);
    const log = srv.logs.hub.forModel('m').history();
    expect(log).not.toContain('EADDRINUSE');
    expect(log.match(/upstream m-new listening/g)).toHaveLength(1);
  });

  it('a shutdown during that wait stops the old server within its own budget, not the model\'s unloadTimeout', { timeout: 60_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'swapstate-reload-port-'));
    const configPath = join(dir, 'config.yaml');
    const startPort = await freePortBlock(4);
    writeFileSync(configPath, config(startPort, 'm-old', '--ignore-sigterm'));
    srv = await startServer(config(startPort, 'm-old', '--ignore-sigterm'), { configPath });
    expect((await chat(srv.url, 'm')).status).toBe(200);
    const oldPid = srv.server.state().runtime.process('m')!.pid!;

    writeFileSync(configPath, config(startPort, 'm-new'));
    const reloaded = srv.server.reload();
    await until(() => srv!.logs.hub.forModel('m').history().includes('m-old ignoring SIGTERM'), 'the old server to ignore its SIGTERM');
    const t = Date.now();
    await srv.server.shutdown(1_000);
    // The stop under way is cut short by the shutdown's grace (machines/process.machine.ts).
    expect(isAlive(oldPid)).toBe(false);
    expect(Date.now() - t).toBeLessThan(UNLOAD_MS);
    expect(await reloaded).toBe(true);
    await srv.stop();
    srv = null;
  });
});
