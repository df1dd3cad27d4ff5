/**
 * Selectors (reference 2.8, 5.6) with real processes: swapstate's CLI and demo upstreams,
 * whose answers name the upstream that served them (`model` is its `--id`). Which upstreams
 * run is read from /running and /proc.
 */
import { afterAll, afterEach, describe, it } from 'vitest';
import { chat, demoModel, freePortPair, killRuns, removeTempDirs, runningIds, startCli, upstreamPid } from './cli-harness.ts';

afterEach((ctx) => killRuns(ctx.task.id));
afterAll(() => {
  killRuns();
  removeTempDirs();
});

/** Opens a slow chat stream through `model` and resolves with the upstream that answers its first chunk. */
async function openStream(url: string, model: string, signal: AbortSignal): Promise<{ servedBy: string; status: number }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    // 100 chunks 100 ms apart: the stream lasts far longer than the test needs it open.
    body: JSON.stringify({ model, stream: true, chunks: 100, chunk_delay_ms: 100, messages: [{ role: 'user', content: 'hi' }] }),
    signal,
  });
  if (res.status !== 200 || !res.body) return { servedBy: await res.text(), status: res.status };
  const reader = res.body.getReader();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString('utf8');
    const line = /data: (\{.*\})\n/.exec(text)?.[1];
    if (line) return { servedBy: (JSON.parse(line) as { model: string }).model, status: 200 };
  }
  return { servedBy: text, status: res.status };
}

describe.concurrent('selectors with real processes', () => {
  it('warm: the target already running serves; the first target is not started', async ({ expect, task }) => {
    const startPort = await freePortPair();
    const { run, url } = await startCli(
      task.id,
      `startPort: ${startPort}\nmodels:\n${demoModel('a')}${demoModel('b')}` +
        'selectors:\n  fast:\n    strategy: warm\n    targets: [a, b]\n',
    );
    const direct = await chat(url, 'b');
    expect(direct.status, direct.body).toBe(200);
    expect(await runningIds(url)).toEqual(['b']);

    const viaSelector = await chat(url, 'fast');
    expect(viaSelector.status, viaSelector.body).toBe(200);
    expect((JSON.parse(viaSelector.body) as { model: string }).model).toBe('b');
    expect(await runningIds(url)).toEqual(['b']);
    expect(upstreamPid(run, 'a')).toBeNull();
  });

  it('spillover (1 per target): a second concurrent stream goes to the second target, which runs beside the first', async ({ expect, task }) => {
    const startPort = await freePortPair();
    const { url } = await startCli(
      task.id,
      `startPort: ${startPort}\nmodels:\n${demoModel('a')}${demoModel('b')}` +
        'groups:\n  pool:\n    swap: false\n    members: [a, b]\n' +
        'selectors:\n  pool:\n    strategy: spillover\n    targets: [a, b]\n    settings:\n      spillover: 1\n',
    );
    const streams = new AbortController();
    try {
      const first = await openStream(url, 'pool', streams.signal);
      expect(first).toEqual({ servedBy: 'a', status: 200 });
      const second = await openStream(url, 'pool', streams.signal);
      expect(second).toEqual({ servedBy: 'b', status: 200 });
      expect((await runningIds(url)).sort()).toEqual(['a', 'b']);
    } finally {
      streams.abort();
    }
  });
});
