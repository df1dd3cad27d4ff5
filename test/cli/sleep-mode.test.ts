/**
 * Sleep mode (issue 13) with real processes: swapstate's CLI, demo upstreams that implement
 * vLLM's sleep API (src/demo/upstream.mjs), real HTTP and real signals. `a` sleeps instead of
 * stopping; `b` is a plain model of the same swap group, so asking for one swaps the other out.
 *
 * What each test reads: the upstream's own lines (`a sleep level=1`, `a wake_up`, its
 * `listening ... pid N` line once per start) in swapstate's stdout, its pid in /proc, and
 * /running, /v1/models, /api/state.
 */
import { dirname } from 'node:path';
import { afterAll, afterEach, describe, it, type ExpectStatic } from 'vitest';
import {
  chat,
  type CliRun,
  demoModel,
  freePortPair,
  getJson,
  isAlive,
  killRuns,
  markedProcesses,
  printed,
  removeTempDirs,
  startCli,
  until,
  upstreamPid,
  upstreamsOf,
  writeConfig,
} from './cli-harness.ts';

afterEach((ctx) => killRuns(ctx.task.id));
afterAll(() => {
  killRuns();
  removeTempDirs();
});


const SLEEPY = ['sleepMode: enable', 'sleepEndpoints:', '  - endpoint: /sleep?level=1', 'wakeEndpoints:', '  - endpoint: /wake_up'];

interface Lab {
  run: CliRun;
  url: string;
  file: string;
  yaml: string;
}

async function start(tag: string, aArgs = '', aExtra: string[] = []): Promise<Lab> {
  const startPort = await freePortPair();
  const yaml =
    `healthCheckTimeout: 15\nlogToStdout: both\nstartPort: ${startPort}\nmodels:\n` +
    demoModel('a', { args: aArgs, extra: [...SLEEPY, ...aExtra] }) +
    demoModel('b') +
    'groups:\n  pair:\n    swap: true\n    members: [a, b]\n';
  return { ...(await startCli(tag, yaml)), yaml };
}

type Running = { running: Array<{ model: string; state: string }> };
const runningStates = async (url: string) =>
  Object.fromEntries((await getJson<Running>(`${url}/running`)).running.map((r) => [r.model, r.state]));
const count = (text: string, needle: string) => text.split(needle).length - 1;
const starts = (run: CliRun, id: string) => count(run.stdout(), `upstream ${id} listening on`);

async function served(expect: ExpectStatic, url: string, model: string): Promise<void> {
  const r = await chat(url, model);
  expect(r.status, r.body).toBe(200);
  expect(r.body).toContain(`Hello from ${model}.`);
}

/**
 * The pid of the live upstream of `id`, which must exist: a missing one fails with what the
 * run had (one CI run under heavy load found none right after `a` answered; this says why).
 */
function livePid(lab: Lab, id: string): number {
  const pid = upstreamPid(lab.run, id);
  if (pid !== null) return pid;
  throw new Error(
    `no live upstream of ${id}: marked processes ${JSON.stringify(markedProcesses(lab.run.marker))}; stdout ends:\n${lab.run.stdout().slice(-1500)}`,
  );
}

/** `a` loaded, then `b` asked for: the swap puts `a` to sleep. Returns a's pid. */
async function aAsleep(expect: ExpectStatic, lab: Lab): Promise<number> {
  await served(expect, lab.url, 'a');
  const pid = livePid(lab, 'a');
  await served(expect, lab.url, 'b');
  await printed(lab.run, 'a sleep level=1');
  expect(await runningStates(lab.url)).toEqual({ a: 'sleeping', b: 'ready' });
  return pid;
}

describe.concurrent('sleep mode with real processes', () => {
  it('a swap sleeps the evictee (same pid alive, a sleep call made); the next request wakes it (a wake call, no new start)', async ({ expect, task }) => {
    const lab = await start(task.id);
    const pid = await aAsleep(expect, lab);
    expect(isAlive(pid)).toBe(true);
    expect(upstreamPid(lab.run, 'a')).toBe(pid);
    const models = await getJson<{ data: Array<{ id: string; status: { value: string } }> }>(`${lab.url}/v1/models`);
    expect(models.data.map((m) => [m.id, m.status.value])).toEqual([['a', 'sleeping'], ['b', 'loaded']]);

    await served(expect, lab.url, 'a');
    await printed(lab.run, 'a wake_up');
    expect(upstreamPid(lab.run, 'a')).toBe(pid);
    expect(starts(lab.run, 'a')).toBe(1);
    // b was stopped for real: it has no sleep mode.
    expect(await runningStates(lab.url)).toEqual({ a: 'ready' });
    expect(upstreamPid(lab.run, 'b')).toBeNull();
  });

  it('a failed sleep stops the model instead; the swap still serves', async ({ expect, task }) => {
    const lab = await start(task.id, '--sleep-fail');
    await served(expect, lab.url, 'a');
    const pid = livePid(lab, 'a');
    await served(expect, lab.url, 'b');
    await until(() => !isAlive(pid), 'a to be stopped after its sleep failed');
    await printed(lab.run, 'a: sleep failed, stopping it instead: POST /sleep?level=1 answered 500');
    expect(await runningStates(lab.url)).toEqual({ b: 'ready' });
  });

  it('a failed wake stops the model and starts it cold; the request is still served', async ({ expect, task }) => {
    const lab = await start(task.id, '--wake-fail');
    const pid = await aAsleep(expect, lab);
    await served(expect, lab.url, 'a');
    await printed(lab.run, 'a: wake failed, restarting it: POST /wake_up answered 500');
    const again = upstreamPid(lab.run, 'a');
    expect(again).not.toBeNull();
    expect(again).not.toBe(pid);
    expect(isAlive(pid)).toBe(false);
    await until(() => starts(lab.run, 'a') === 2, 'the second start of a on stdout');
  });

  it('an unload stops a sleeping model for real, and so does SIGTERM: no process is left', async ({ expect, task }) => {
    const lab = await start(task.id);
    const first = await aAsleep(expect, lab);
    expect((await fetch(`${lab.url}/unload`)).status).toBe(200);
    expect(isAlive(first)).toBe(false);
    expect(await runningStates(lab.url)).toEqual({});

    const second = await aAsleep(expect, lab);
    lab.run.child.kill('SIGTERM');
    expect(await lab.run.waitExit(20_000)).toEqual({ code: 0, signal: null });
    expect(isAlive(second)).toBe(false);
    expect(upstreamsOf(lab.run)).toEqual([]);
  });

  it('a reload that changes the sleeping model stops it for real', async ({ expect, task }) => {
    const lab = await start(task.id);
    const pid = await aAsleep(expect, lab);
    // A change to what its server runs with (a name alone is applied without a restart).
    writeConfig(dirname(lab.file), 'config.yaml', lab.yaml.replace('  a:\n', '  a:\n    env: ["RELOADED=1"]\n'));
    lab.run.child.kill('SIGHUP');
    await until(() => lab.run.stdout().includes(`config reloaded from ${lab.file}`), 'the reload');
    await until(() => !isAlive(pid), 'the sleeping a to be stopped by the reload');
    await served(expect, lab.url, 'a');
    expect(upstreamPid(lab.run, 'a')).not.toBe(pid);
  });

  it('a crash while sleeping is noticed; the next request starts the model cold', async ({ expect, task }) => {
    const lab = await start(task.id);
    const pid = await aAsleep(expect, lab);
    process.kill(pid, 'SIGKILL');
    await until(async () => !('a' in (await runningStates(lab.url))), 'a to leave /running after its crash');
    await served(expect, lab.url, 'a');
    expect(upstreamPid(lab.run, 'a')).not.toBe(pid);
    await until(() => starts(lab.run, 'a') === 2, 'the second start of a on stdout');
  });

  it('POST /api/models/sleep/<model> sleeps an idle model on demand; a model without sleep mode gets a 400', async ({ expect, task }) => {
    const lab = await start(task.id);
    await served(expect, lab.url, 'a');
    const pid = livePid(lab, 'a');
    const r = await fetch(`${lab.url}/api/models/sleep/a`, { method: 'POST' });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ msg: 'ok', model: 'a', state: 'sleeping' });
    expect(isAlive(pid)).toBe(true);
    expect(await runningStates(lab.url)).toEqual({ a: 'sleeping' });

    const plain = await fetch(`${lab.url}/api/models/sleep/b`, { method: 'POST' });
    expect(plain.status).toBe(400);
    expect((await plain.json()) as unknown).toMatchObject({ error: { message: 'model b does not have sleep mode enabled (sleepMode: enable)' } });
    expect((await fetch(`${lab.url}/api/models/sleep/nope`, { method: 'POST' })).status).toBe(404);

    await served(expect, lab.url, 'a');
    expect(upstreamPid(lab.run, 'a')).toBe(pid);
  });

  it('/api/state explains a wait on a wake: "model a is waking"', async ({ expect, task }) => {
    const lab = await start(task.id, '--wake-delay 2000');
    await aAsleep(expect, lab);
    const woken = chat(lab.url, 'a');
    type State = { waiting: Array<{ model: string; text: string; reason: { waking?: boolean } }>; processes: Array<{ model: string; state: string; sleepMode: boolean }> };
    let seen: State | null = null;
    await until(async () => {
      const s = await getJson<State>(`${lab.url}/api/state`);
      if (s.waiting.some((w) => w.model === 'a' && w.text.startsWith('model a is waking'))) seen = s;
      return seen !== null;
    }, 'a wait explained as a wake');
    expect(seen!.waiting.find((w) => w.model === 'a')!.reason.waking).toBe(true);
    expect(seen!.processes.map((p) => [p.model, p.sleepMode])).toEqual([['a', true], ['b', false]]);
    const r = await woken;
    expect(r.status, r.body).toBe(200);
    expect(starts(lab.run, 'a')).toBe(1);
  });

  it('TTL puts a sleep-enabled model to sleep instead of stopping it', async ({ expect, task }) => {
    const lab = await start(task.id, '', ['ttl: 1']);
    await served(expect, lab.url, 'a');
    const pid = livePid(lab, 'a');
    await until(async () => (await runningStates(lab.url))['a'] === 'sleeping' && lab.run.stdout().includes('a sleep level=1'), 'a to fall asleep after its TTL', 15_000);
    await printed(lab.run, 'a Sleeping model, TTL of 1s reached');
    expect(isAlive(pid)).toBe(true);
  });
});
