/**
 * Profiles end to end (reference 2.7, 3.12, 1.4): a real swapstate process with two demo
 * models and a profile that pins the virtual id `coder` to model b. The pin exists only
 * while the profile is active, runs b (the upstream receives `b` as the model), is listed,
 * and a SIGHUP reload leaves no profile active.
 */
import { afterAll, afterEach, describe, it } from 'vitest';
import { demoModel, freePortPair, killRuns, modelIds, printed, removeTempDirs, runningIds, startCli } from './cli-harness.ts';

afterEach((ctx) => killRuns(ctx.task.id));
afterAll(() => {
  killRuns();
  removeTempDirs();
});

async function chatCoder(url: string): Promise<{ status: number; body: string; requestModel: string | null }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'coder', messages: [{ role: 'user', content: 'hi' }] }),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, body: await res.text(), requestModel: res.headers.get('x-request-model') };
}

async function activeProfile(url: string): Promise<unknown> {
  const res = await fetch(`${url}/api/profiles`, { signal: AbortSignal.timeout(10_000) });
  return ((await res.json()) as { active: unknown }).active;
}

describe('profiles through the CLI', () => {
  it('a pin runs its target while its profile is active, and a SIGHUP reload deactivates it', async ({ expect, task }) => {
    const yaml = `healthCheckTimeout: 15
startPort: ${await freePortPair()}
models:
${demoModel('a')}${demoModel('b')}profiles:
  coding:
    description: b writes the code
    pins:
      coder: b
`;
    const { run, url } = await startCli(task.id, yaml);

    const before = await chatCoder(url);
    expect(before.status, before.body).toBe(404);
    expect(JSON.parse(before.body).error.message).toMatch(/^no router for requested model "coder"/);
    expect(await modelIds(url)).toEqual(['a', 'b']);

    const put = await fetch(`${url}/api/profiles/active`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"name":"coding"}',
    });
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual({ active: 'coding' });
    await printed(run, 'active profile changed to "coding"');

    const served = await chatCoder(url);
    expect(served.status, served.body).toBe(200);
    expect(served.body).toContain('Hello from b. You said: hi');
    // What the upstream received: the pin's target, not the name the client sent.
    expect(served.requestModel).toBe('b');
    expect(await runningIds(url)).toEqual(['b']);
    expect(await modelIds(url)).toEqual(['a', 'b', 'coder']);

    run.child.kill('SIGHUP');
    await printed(run, 'config reloaded from');
    expect(await activeProfile(url)).toBeNull();
    expect((await chatCoder(url)).status).toBe(404);
    expect(await modelIds(url)).toEqual(['a', 'b']);

    run.child.kill('SIGTERM');
    expect(await run.waitExit(20_000)).toEqual({ code: 0, signal: null });
  });
});
