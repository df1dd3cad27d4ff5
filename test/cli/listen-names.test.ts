/**
 * Listening on every interface without `apiKeys` (issue 10, item 8): swapstate warns that the
 * network can use it, says which names clients may use (the DNS-rebinding guard answers 403
 * to any other), and a name added to `allowedHosts` passes.
 */
import { hostname } from 'node:os';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { request } from '../faults/helpers.ts';
import { freePort, killRuns, removeTempDirs, spawnCli, tempDir, until, waitHealthy, writeConfig } from './cli-harness.ts';

afterEach((ctx) => killRuns(ctx.task.id));
afterAll(() => {
  killRuns();
  removeTempDirs();
});

async function statusFor(url: string, host: string): Promise<number> {
  // fetch does not let a caller set Host; node:http does.
  return (await request(url, { path: '/v1/models', headers: { host } })).status;
}

describe('--listen on all interfaces without apiKeys', () => {
  it('warns, names the hosts clients may use, and refuses others until allowedHosts lists them', async ({ task }) => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const dir = tempDir();
    const file = writeConfig(dir, 'config.yaml', 'models: {}\n');
    const run = spawnCli(['--config', file, '--listen', `0.0.0.0:${port}`], { tag: task.id });
    await waitHealthy(run, url);
    // Logged once listening (so /health may answer first), and the logger writes in batches.
    const names = `clients must name this server by an IP address, localhost or "${hostname()}"; add any other name they use`;
    await until(() => run.stdout().includes(names), 'the listening warnings');
    expect(run.stdout()).toContain('[WARN] listening on 0.0.0.0, reachable from other hosts, and no apiKeys are configured');
    expect(await statusFor(url, `127.0.0.1:${port}`)).toBe(200);
    expect(await statusFor(url, `${hostname()}:${port}`)).toBe(200);
    expect(await statusFor(url, `gpu-box.lan:${port}`)).toBe(403);

    // A reload that lists the name lets it in, without a restart.
    writeConfig(dir, 'config.yaml', 'allowedHosts: [gpu-box.lan]\nmodels: {}\n');
    run.child.kill('SIGHUP');
    await until(async () => (await statusFor(url, `gpu-box.lan:${port}`)) === 200, 'the reloaded allowedHosts to apply');
    run.child.kill('SIGTERM');
    expect(await run.waitExit()).toEqual({ code: 0, signal: null });
  });
});
