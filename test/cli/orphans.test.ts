/**
 * Orphan reaping: swapstate records the process groups it starts on disk; after it was
 * SIGKILLed (no exit handler runs, its model servers live on), the next start reaps them.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  chat,
  demoModel,
  freePort,
  freePortPair,
  isAlive,
  killRuns,
  removeTempDirs,
  runningIds,
  spawnCli,
  tempDir,
  until,
  upstreamPid,
  waitHealthy,
  writeConfig,
} from './cli-harness.ts';

afterEach((ctx) => killRuns(ctx.task.id));
afterAll(() => {
  killRuns();
  removeTempDirs();
});

describe('orphan reaping', () => {
  it('SIGKILL swapstate with two models running; the next start reaps them within 5 s and serves both', async ({ task }) => {
    const stateDir = tempDir();
    const startPort = await freePortPair();
    const yaml =
      `startPort: ${startPort}\nmodels:\n${demoModel('a')}${demoModel('b')}` +
      'groups:\n  pair:\n    swap: false\n    members: [a, b]\n';
    const file = writeConfig(tempDir(), 'config.yaml', yaml);
    const env = { SWAPSTATE_STATE_DIR: stateDir };

    const port1 = await freePort();
    const first = spawnCli(['--config', file, '--listen', `127.0.0.1:${port1}`], { tag: task.id, env });
    await waitHealthy(first, `http://127.0.0.1:${port1}`);
    expect((await chat(`http://127.0.0.1:${port1}`, 'a')).status).toBe(200);
    expect((await chat(`http://127.0.0.1:${port1}`, 'b')).status).toBe(200);
    const old = { a: upstreamPid(first, 'a')!, b: upstreamPid(first, 'b')! };
    expect(isAlive(old.a) && isAlive(old.b)).toBe(true);

    first.child.kill('SIGKILL');
    await first.waitExit(10_000);
    // Nothing ran on swapstate's way out: its model servers are orphans now.
    expect(isAlive(old.a)).toBe(true);
    expect(isAlive(old.b)).toBe(true);

    const port2 = await freePort();
    const startedAt = Date.now();
    const second = spawnCli(['--config', file, '--listen', `127.0.0.1:${port2}`], { tag: task.id, env });
    await until(() => !isAlive(old.a) && !isAlive(old.b), 'the old model servers to be reaped', 5_000);
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    const url = `http://127.0.0.1:${port2}`;
    await waitHealthy(second, url);
    // The logger writes in batches: the line may come through the pipe after /health answers.
    await until(() => second.stdout().includes('reaped 2 model process group(s)'), 'the reaped line');
    const [ra, rb] = await Promise.all([chat(url, 'a'), chat(url, 'b')]);
    expect(ra.status).toBe(200);
    expect(rb.status).toBe(200);
    expect(await runningIds(url)).toEqual(['a', 'b']);
    second.child.kill('SIGTERM');
    expect(await second.waitExit(20_000)).toEqual({ code: 0, signal: null });
  });
});
