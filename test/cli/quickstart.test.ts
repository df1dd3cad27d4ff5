/**
 * The README's "Try it", done for real: `npm start` (`tsx src/main.ts --config
 * config/config.example.yaml`, from the repository root: the demo config runs
 * `node src/demo/upstream.mjs` relative to the working directory) on a free port instead of
 * 8080, then the README's requests: list the models, chat with chat-small (and its alias),
 * stream from chat-large (a swap), embed beside it, /running, /logs, then Ctrl-C / SIGTERM.
 *
 * The demo config hands out the fixed ports 5800-5803, which another run (or anything else
 * on a busy machine) may hold: the test runs the demo config as written but for its
 * `startPort`, which it points at a block of free ports, so it never has to skip itself.
 */
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, describe, it } from 'vitest';
import { freePortBlock } from '../helpers/real-upstreams.ts';
import {
  chat,
  freePort,
  getText,
  killRuns,
  modelIds,
  removeTempDirs,
  portFree,
  runningIds,
  spawnCli,
  upstreamPid,
  upstreamsOf,
  tempDir,
  waitHealthy,
  writeConfig,
} from './cli-harness.ts';

afterEach(() => killRuns());
afterAll(() => {
  killRuns();
  removeTempDirs();
});

describe('quickstart with config/config.example.yaml', () => {
  it('list, chat, swap, embed, logs, SIGTERM', async ({ expect }) => {
    const example = readFileSync('config/config.example.yaml', 'utf8');
    expect(example).toMatch(/^startPort: 5800$/m);
    const startPort = await freePortBlock(4);
    const demoPorts = [startPort, startPort + 1, startPort + 2, startPort + 3];
    const config = writeConfig(tempDir(), 'config.yaml', example.replace(/^startPort: 5800$/m, `startPort: ${startPort}`));

    const port = await freePort();
    // The README's curl lines say localhost.
    const url = `http://localhost:${port}`;
    // From the repository root, as `npm start` runs: the demo cmd is a path relative to it.
    const run = spawnCli(['--config', config, '--listen', `127.0.0.1:${port}`]);
    await waitHealthy(run, url);

    // 1. The models (sorted by id, as llama-swap lists them).
    expect(await modelIds(url)).toEqual(['chat-large', 'chat-small', 'chat-vllm', 'embed']);

    // 2. A chat completion loads chat-small; its alias reaches the same server.
    const small = await chat(url, 'chat-small', 'hello');
    expect(small.status, small.body).toBe(200);
    expect(JSON.parse(small.body).choices[0].message.content).toBe('Hello from chat-small. You said: hello');
    const smallPid = upstreamPid(run, 'chat-small');
    expect(smallPid).not.toBeNull();
    const viaAlias = await chat(url, 'small', 'again');
    expect(viaAlias.status, viaAlias.body).toBe(200);
    expect(viaAlias.body).toContain('Hello from chat-small. You said: again');
    expect(upstreamPid(run, 'chat-small')).toBe(smallPid);
    expect(await runningIds(url)).toEqual(['chat-small']);

    // 3. chat-large (streamed, as the README shows it) swaps chat-small out: one chat model at a time.
    const res3 = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat-large', stream: true, messages: [{ role: 'user', content: 'hello' }] }),
    });
    expect(res3.status).toBe(200);
    expect(res3.headers.get('content-type')).toContain('text/event-stream');
    const events = (await res3.text()).split('\n\n').filter((e) => e.startsWith('data: '));
    expect(events.at(-1)).toBe('data: [DONE]');
    const deltas = events.slice(0, -1).map((e) => JSON.parse(e.slice('data: '.length)) as { model: string; choices: Array<{ delta: { content: string } }> });
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.every((d) => d.model === 'chat-large')).toBe(true);
    expect(deltas.map((d) => d.choices[0]?.delta.content).join('')).toMatch(/^Hello from chat-large\./);
    expect(await runningIds(url)).toEqual(['chat-large']);
    expect(upstreamPid(run, 'chat-small')).toBeNull();

    // 4. embed runs beside the chat model.
    const res = await fetch(`${url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'embed', input: 'hello' }),
    });
    expect(res.status).toBe(200);
    const emb = (await res.json()) as { data: Array<{ embedding: number[] }>; model: string };
    expect(emb.model).toBe('embed');
    expect(emb.data[0]?.embedding).toHaveLength(8);
    expect(await runningIds(url)).toEqual(['chat-large', 'embed']);

    // 5. The logs show the swaps and every request.
    const logs = await getText(`${url}/logs`);
    expect(logs).toMatch(/\[INFO\] swap to chat-small: running \[\], evicting \[\]\n/);
    expect(logs).toMatch(/\[INFO\] swap to chat-large: running \[[^\]]*\], evicting \[chat-small\]\n/);
    expect(logs).toMatch(/\[INFO\] swap to embed: running \[chat-large\], evicting \[\]\n/);
    expect(logs.match(/\[INFO\] Request 127\.0\.0\.1 "POST \/v1\/chat\/completions HTTP\/1\.1" 200 \d+ "[^"]*" \S+\n/g)).toHaveLength(3);
    expect(logs).toMatch(/\[INFO\] Request 127\.0\.0\.1 "POST \/v1\/embeddings HTTP\/1\.1" 200 \d+ "[^"]*" \S+\n/);
    expect(logs).toMatch(/\[INFO\] Request 127\.0\.0\.1 "GET \/v1\/models HTTP\/1\.1" 200 /);

    // 6. Ctrl-C / SIGTERM: exit 0, no demo upstream left behind.
    run.child.kill('SIGTERM');
    expect(await run.waitExit(20_000)).toEqual({ code: 0, signal: null });
    expect(upstreamsOf(run)).toEqual([]);
    for (const p of demoPorts) expect(await portFree(p)).toBe(true);
  });
});
