/**
 * Matrix routing (issue 14, reference 2.5 and 5.3-5.4) with real processes: swapstate's CLI
 * and demo upstreams. Which upstreams run is read from /proc and /running; the solver's
 * decision from llama-swap's log line and from /api/state while the swap runs.
 */
import { afterAll, afterEach, describe, it, type ExpectStatic } from 'vitest';
import {
  chat,
  demoModel,
  freePortPair,
  getJson,
  isAlive,
  killRuns,
  printed,
  removeTempDirs,
  runningIds,
  startCli,
  until,
  upstreamPid,
} from './cli-harness.ts';

afterEach((ctx) => killRuns(ctx.task.id));
afterAll(() => {
  killRuns();
  removeTempDirs();
});


async function start(tag: string, routing: string) {
  const startPort = await freePortPair();
  const yaml =
    `healthCheckTimeout: 15\nlogToStdout: both\nstartPort: ${startPort}\nmodels:\n` +
    demoModel('gemma') +
    demoModel('qwen', { args: '--load-delay 1500' }) +
    demoModel('voice') +
    demoModel('solo') +
    routing;
  return startCli(tag, yaml);
}

async function served(expect: ExpectStatic, url: string, model: string): Promise<void> {
  const r = await chat(url, model);
  expect(r.status, r.body).toBe(200);
}

const LEGACY = 'matrix:\n  vars:\n    g: gemma\n    q: qwen\n    v: voice\n  evict_costs:\n    v: 5\n  sets:\n    gv: "g & v"\n    qv: "q & v"\n';
const ROUTING =
  'routing:\n  router:\n    use: matrix\n    settings:\n      matrix:\n        vars:\n          g: gemma\n          q: qwen\n          v: voice\n        evict_costs:\n          v: 5\n        sets:\n          gv: "g & v"\n          qv: "q & v"\n';

describe.concurrent('matrix routing with real processes', () => {
  for (const [spelling, routing] of [
    ['legacy top-level matrix', LEGACY],
    ['routing.router.use: matrix', ROUTING],
  ] as const) {
    it(`${spelling}: models of one set run together; a swap evicts only what the chosen set leaves out`, async ({ expect, task }) => {
      const { run, url } = await start(task.id, routing);
      await served(expect, url, 'gemma');
      await served(expect, url, 'voice');
      expect((await runningIds(url)).sort()).toEqual(['gemma', 'voice']);
      const voice = upstreamPid(run, 'voice')!;
      const gemma = upstreamPid(run, 'gemma')!;

      // qwen is only in qv: gemma (cost 1) must stop, voice (cost 5) may stay.
      const q = chat(url, 'qwen');
      type State = { swaps: Array<{ target: string | null; why?: string }> };
      await until(async () => (await getJson<State>(`${url}/api/state`)).swaps.some((s) => s.target === 'qwen'), 'the swap to qwen');
      const state = await getJson<State>(`${url}/api/state`);
      expect(state.swaps.find((s) => s.target === 'qwen')?.why).toBe('set qv chosen: evicts gemma (cost 1)');
      expect((await q).status).toBe(200);
      expect((await runningIds(url)).sort()).toEqual(['qwen', 'voice']);
      expect(isAlive(gemma)).toBe(false);
      expect(upstreamPid(run, 'voice')).toBe(voice);
      await printed(run, 'matrix: model=qwen set=qv dsl="q & v" evict=[gemma] target=[qwen voice] cost=1');
    });
  }

  it('a model in no set runs alone: everything else stops', async ({ expect, task }) => {
    const { run, url } = await start(task.id, LEGACY);
    await served(expect, url, 'gemma');
    await served(expect, url, 'voice');
    await served(expect, url, 'solo');
    expect(await runningIds(url)).toEqual(['solo']);
    await printed(run, 'matrix: model=solo set= dsl="" evict=[gemma voice]');
  });
});
