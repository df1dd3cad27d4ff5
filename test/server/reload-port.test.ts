/**
 * A reload builds a new actor tree while the old one stops its models with a 30 s grace. An
 * old server that outlives the reload (here: it ignores SIGTERM, so it lives until the SIGKILL
 * at the end of the grace) still holds its port. The new tree's start for that model must
 * wait for it instead of spawning next to it: before, the health check passed against the old
 * server and the request was served by it, while the new one died with EADDRINUSE.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RELOAD_STOP_GRACE_MS } from '../../src/server.ts';
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
    '',
  ].join('\n');
}

/** Timers may fire a little early relative to our clock reads. */
const SLACK_MS = 100;

describe('reload while an old server still holds the port', () => {
  it('the request is served by the new server, once the old one is gone (at most its grace)', { timeout: 120_000 }, async () => {
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
    const reloaded = srv.server.reload();
    const reply = chat(srv.url, 'm', {}, { signal: AbortSignal.timeout(RELOAD_STOP_GRACE_MS + 30_000) });
    await until(() => srv!.logs.hub.forModel('m').history().includes('m-old ignoring SIGTERM'), 'the old server to ignore its SIGTERM');
    // The request reaches the new tree about when the old server logs its SIGTERM (the two
    // race by a few ms), so wait for its start rather than assume it has begun.
    await until(() => srv!.server.state().runtime.process('m')?.state === 'starting', 'the new tree to start m');
    // The new tree's start waits for the old server: it has not been spawned next to it.
    expect(srv.server.state().runtime.process('m')).toMatchObject({ state: 'starting', pid: null });
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
    // It waited for the old server's grace (SIGKILL at 30 s), and not much longer.
    expect(at - t).toBeGreaterThanOrEqual(RELOAD_STOP_GRACE_MS - SLACK_MS);
    expect(at - t).toBeLessThan(RELOAD_STOP_GRACE_MS + 10_000);
    expect(await reloaded).toBe(true);
    const log = srv.logs.hub.forModel('m').history();
    expect(log).not.toContain('EADDRINUSE');
    expect(log.match(/upstream m-new listening/g)).toHaveLength(1);
  });

  it('a shutdown during that wait stops the old server within its own budget, not the reload\'s 30 s', { timeout: 60_000 }, async () => {
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
    // Before, the old tree kept its 30 s grace and its server outlived the shutdown.
    expect(isAlive(oldPid)).toBe(false);
    expect(Date.now() - t).toBeLessThan(RELOAD_STOP_GRACE_MS / 2);
    expect(await reloaded).toBe(true);
    await srv.stop();
    srv = null;
  });
});
