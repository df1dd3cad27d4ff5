/**
 * Reload keeps unchanged models running (llama-swap stops every model on reload, reference
 * 1.4): real demo upstreams, a real config file, `server.reload()` as SIGHUP and the watcher
 * call it. A stream running across the reload finishes intact on the same process; a changed
 * model is replaced once its request in flight has ended, and a request meanwhile is served
 * by the new process; a removed model finishes its request, then stops, and is unknown to new
 * requests; a changed model still loading is started again from the new config for the
 * requests waiting for it; new groups that forbid two running models together stop one of
 * them; a broken config leaves everything as it was.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePortBlock, isAlive, until } from '../helpers/real-upstreams.ts';
import { chat, demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';

let srv: RunningServer | null = null;
let dir: string | null = null;
afterEach(async () => {
  await srv?.stop();
  srv = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

/** A server on a config file that `rewrite` changes before each reload. */
async function lab(body: string) {
  dir = mkdtempSync(join(tmpdir(), 'swapstate-reload-keeps-'));
  const path = join(dir, 'config.yaml');
  const head = `startPort: ${await freePortBlock(8)}\nhealthCheckTimeout: 15\nhealthCheckInterval: 50\nlogToStdout: none\n`;
  writeFileSync(path, head + body);
  srv = await startServer(head + body, { configPath: path });
  const s = srv;
  return {
    srv: s,
    rewrite: (next: string) => writeFileSync(path, head + next),
    pid: (model: string) => s.server.state().runtime.process(model)?.pid ?? null,
    log: () => s.logs.proxy.history(),
  };
}

/** A slow stream (`chunks` chunks, 50 ms apart) whose first chunk has arrived. */
async function openStream(url: string, model: string, chunks: number) {
  const res = await chat(url, model, { stream: true, chunks, chunk_delay_ms: 50 });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!text.includes('data: ')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  const rest = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    return { text, at: Date.now() };
  })();
  return { rest };
}

/** The stream's content chunks, and whether it ended with [DONE]. */
function chunksOf(text: string) {
  const frames = text.split('\n\n').filter((f) => f.startsWith('data: '));
  return { content: frames.filter((f) => f !== 'data: [DONE]').length, done: frames.at(-1) === 'data: [DONE]' };
}

const TIMEOUT = { timeout: 60_000 };

describe('reload keeps unchanged models running', () => {
  it('a stream running across the reload finishes intact, and the unchanged model keeps its pid', TIMEOUT, async () => {
    const l = await lab(`models:\n${demoModel('a')}`);
    const s = await openStream(l.srv.url, 'a', 40);
    const pid = l.pid('a')!;
    // A model added, sorting after a: a's ${PORT}, and so its cmd, are unchanged.
    l.rewrite(`models:\n${demoModel('a')}${demoModel('b')}`);
    expect(await l.srv.server.reload()).toBe(true);
    expect(l.log()).toContain('reload: keeping [a], replacing [], removing [], adding [b]');
    const { text } = await s.rest;
    expect(chunksOf(text)).toEqual({ content: 40, done: true });
    expect(l.pid('a')).toBe(pid);
    expect(isAlive(pid)).toBe(true);
    // Served by the same process, without a start.
    const res = await chat(l.srv.url, 'a');
    expect(res.status).toBe(200);
    expect(l.pid('a')).toBe(pid);
    expect(l.srv.server.state().runtime.process('b')?.state).toBe('stopped');
    expect(l.srv.logs.hub.forModel('a').history().match(/upstream a listening/g)).toHaveLength(1);
  });

  it('a changed model is replaced once its request in flight ends; a request meanwhile is served by the new process', TIMEOUT, async () => {
    const l = await lab(`models:\n${demoModel('a')}`);
    const s = await openStream(l.srv.url, 'a', 30);
    const oldPid = l.pid('a')!;
    l.rewrite(`models:\n${demoModel('a', 'env: ["RELOADED=1"]')}`);
    expect(await l.srv.server.reload()).toBe(true);
    expect(l.log()).toContain('reload: keeping [], replacing [a], removing [], adding []');
    const waiting = chat(l.srv.url, 'a').then(async (res) => ({ status: res.status, body: await res.text(), at: Date.now() }));
    const streamed = await s.rest;
    expect(chunksOf(streamed.text)).toEqual({ content: 30, done: true });
    const reply = await waiting;
    expect(reply.status, reply.body).toBe(200);
    expect(reply.body).toContain('Hello from a.');
    expect(reply.at).toBeGreaterThanOrEqual(streamed.at);
    const newPid = l.pid('a')!;
    expect(newPid).not.toBe(oldPid);
    expect(isAlive(oldPid)).toBe(false);
    expect(l.srv.server.state().runtime.process('a')?.starts).toBe(1);
    expect(l.log()).toContain('reload: a stopped, its new config runs from its next start');
  });

  it('a changed model still loading at the reload: the old start is abandoned, and its waiting request is served by the new config', TIMEOUT, async () => {
    // The demo answers "Hello from <--id>.": the new config's process says a2.
    const l = await lab(`models:\n${demoModel('a', '', '--load-delay 4000')}`);
    const waiting = chat(l.srv.url, 'a').then(async (res) => ({ status: res.status, body: await res.text() }));
    await until(() => l.srv.server.state().runtime.process('a')?.state === 'starting' && l.pid('a') !== null, 'a to be loading');
    const oldPid = l.pid('a')!;
    l.rewrite(`models:\n${demoModel('a', '', '--load-delay 200 --id a2')}`);
    expect(await l.srv.server.reload()).toBe(true);
    expect(l.log()).toContain('reload: keeping [], replacing [a], removing [], adding []');
    const reply = await waiting;
    expect(reply.status, reply.body).toBe(200);
    expect(reply.body).toContain('Hello from a2.');
    expect(isAlive(oldPid)).toBe(false);
    expect(l.pid('a')).not.toBe(oldPid);
  });

  it('a removed model finishes its request in flight, then stops; new requests get the unknown-model error', TIMEOUT, async () => {
    const l = await lab(`models:\n${demoModel('a')}${demoModel('b')}`);
    const s = await openStream(l.srv.url, 'b', 30);
    const pid = l.pid('b')!;
    expect(l.srv.server.state().runtime.upstreams.pooled('b')).toBe(true);
    l.rewrite(`models:\n${demoModel('a')}`);
    expect(await l.srv.server.reload()).toBe(true);
    expect(l.log()).toContain('reload: keeping [a], replacing [], removing [b], adding []');
    const unknown = await chat(l.srv.url, 'b');
    const never = await chat(l.srv.url, 'never-configured');
    expect(unknown.status).toBe(never.status);
    expect(await unknown.text()).toBe((await never.text()).replaceAll('never-configured', 'b'));
    expect(isAlive(pid)).toBe(true);
    expect(chunksOf((await s.rest).text)).toEqual({ content: 30, done: true });
    await until(() => !isAlive(pid), 'the removed model to stop');
    await until(() => l.log().includes('reload: b stopped and removed'), 'the removal in the log');
    expect(l.srv.server.state().runtime.process('b')).toBeNull();
    expect(l.srv.server.state().runtime.upstreams.pooled('b')).toBe(false); // its connection pool is gone too
  });

  it('new groups that forbid two running models together stop one of them (the idle one), the other keeps running', TIMEOUT, async () => {
    const together = (swap: boolean) => `groups:\n  g:\n    swap: ${swap}\n    members: [a, b]\nmodels:\n${demoModel('a')}${demoModel('b')}`;
    const l = await lab(together(false));
    expect((await chat(l.srv.url, 'a')).status).toBe(200);
    const s = await openStream(l.srv.url, 'b', 20);
    const [pa, pb] = [l.pid('a')!, l.pid('b')!];
    expect(isAlive(pa) && isAlive(pb)).toBe(true);
    l.rewrite(together(true));
    expect(await l.srv.server.reload()).toBe(true);
    // b is serving: it is the one kept; a, idle, is stopped.
    expect(l.log()).toContain('reload: keeping [a, b], replacing [], removing [], adding [], stopping [a]');
    await until(() => !isAlive(pa), 'a to be stopped');
    expect(chunksOf((await s.rest).text)).toEqual({ content: 20, done: true });
    expect(l.pid('b')).toBe(pb);
    expect(isAlive(pb)).toBe(true);
    // And the new rules hold from now on: a request for a swaps b out.
    expect((await chat(l.srv.url, 'a')).status).toBe(200);
    await until(() => !isAlive(pb), 'b to be evicted by a');
  });

  it('a broken config: the reload fails, and the running model is untouched', TIMEOUT, async () => {
    const l = await lab(`models:\n${demoModel('a')}`);
    expect((await chat(l.srv.url, 'a')).status).toBe(200);
    const pid = l.pid('a')!;
    l.rewrite(`models:\n  a: [not, a, model\n`);
    expect(await l.srv.server.reload()).toBe(false);
    expect(l.log()).toContain('failed to reload config');
    expect((await chat(l.srv.url, 'a')).status).toBe(200);
    expect(l.pid('a')).toBe(pid);
  });
});
