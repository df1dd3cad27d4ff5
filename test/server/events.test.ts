/**
 * GET /api/events through the real server and real demo upstreams: llama-swap's headers,
 * frame format and initial burst, live model states and logs, our `state` messages, moving
 * to the new actor tree on reload, and the stream's end on shutdown.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ModelStatusRecord } from '../../src/http/model-status.ts';
import type { StateSnapshot } from '../../src/runtime/state-view.ts';
import { freePortBlock, until } from '../helpers/real-upstreams.ts';
import { chat, demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';
import { SseReader, type SseFrame } from '../helpers/sse.ts';

let srv: RunningServer | null = null;
let events: SseReader | null = null;
let dir: string | null = null;
afterEach(async () => {
  events?.close();
  events = null;
  await srv?.stop();
  srv = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

/** The state of model `id` in a modelStatus frame. */
const stateOf = (f: SseFrame, id: string) => (f.data as ModelStatusRecord[]).find((m) => m.id === id)?.state;
const logData = (f: SseFrame) => (f.type === 'logData' ? (f.data as { source: string; data: string }) : null);
const processOf = (f: SseFrame, model: string) =>
  f.type === 'state' ? (f.data as StateSnapshot).processes.find((p) => p.model === model) : undefined;

describe('GET /api/events', () => {
  it("sends llama-swap's headers and initial burst, in order, double-encoded", async () => {
    srv = await startServer(
      `models:\n${demoModel('a', 'name: Model A\ndescription: the first\naliases: [a-alias]')}${demoModel('b', 'unlisted: true')}`,
    );
    events = await SseReader.open(srv.url);
    const res = events.response;
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('connection')).toBe('keep-alive');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-accel-buffering')).toBe('no');

    await events.waitFor('the state message', (f) => f.type === 'state');
    const burst = events.frames.slice(0, 7);
    expect(burst.map((f) => f.type)).toEqual(['logData', 'logData', 'modelStatus', 'uiConfig', 'profileChanged', 'inflight', 'state']);
    expect(events.malformed).toEqual([]);
    // The exact bytes: `event:message`, then `data:` and an envelope whose data is a string.
    expect(burst[0]!.raw.startsWith('event:message\ndata:{"type":"logData","data":"{\\"source\\":\\"proxy\\",\\"data\\":')).toBe(true);
    expect(burst[0]!.raw).toBe(`event:message\ndata:${JSON.stringify({ type: 'logData', data: burst[0]!.dataText })}`);
    expect(burst[0]!.dataText).toBe(JSON.stringify(burst[0]!.data));
    expect(logData(burst[0]!)?.source).toBe('proxy');
    expect(burst[1]!.data).toEqual({ source: 'upstream', data: '', spans: [] });
    expect(burst[2]!.data).toEqual([
      { id: 'a', name: 'Model A', description: 'the first', state: 'stopped', unlisted: false, peerID: '', aliases: ['a-alias'] },
      { id: 'b', name: '', description: '', state: 'stopped', unlisted: true, peerID: '' },
    ]);
    expect(burst[3]!.data).toEqual({ activity: { session_id: [] } });
    expect(burst[4]!.data).toEqual({ active: null });
    expect(burst[5]!.data).toEqual({ operation: 'snapshot', requests: [] });
    expect(burst[6]!.data).toMatchObject({
      processes: [
        { model: 'a', state: 'stopped', inFlight: 0 },
        { model: 'b', state: 'stopped', inFlight: 0 },
      ],
      swaps: [],
      waiting: [],
    });
  });

  it('follows a model loading: modelStatus starting then ready, its output, and state', async () => {
    srv = await startServer(`models:\n${demoModel('a')}${demoModel('b')}`);
    events = await SseReader.open(srv.url);
    await events.waitFor('the initial state', (f) => f.type === 'state');
    const from = events.frames.length;

    expect((await chat(srv.url, 'a')).status).toBe(200);
    await events.waitFor('a ready in modelStatus', (f) => f.type === 'modelStatus' && stateOf(f, 'a') === 'ready', from);
    // Sent on changes of a display state only: never for b, never twice for a's same state.
    expect(events.ofType('modelStatus', from).map((f) => stateOf(f, 'a'))).toEqual(['starting', 'ready']);
    expect(events.ofType('modelStatus', from).every((f) => stateOf(f, 'b') === 'stopped')).toBe(true);

    const output = await events.waitFor('the upstream output', (f) => logData(f)?.source === 'upstream' && logData(f)!.data.includes('upstream a listening'), from);
    // Each live chunk says which model wrote it (the UI prefixes its lines with it).
    expect(output.data).toMatchObject({ model: 'a' });
    await events.waitFor('the access log line', (f) => logData(f)?.source === 'proxy' && logData(f)!.data.includes('"POST /v1/chat/completions'), from);
    await events.waitFor('state: a ready and idle', (f) => processOf(f, 'a')?.state === 'ready' && processOf(f, 'a')?.inFlight === 0, from);

    // Coalesced and deduplicated: consecutive state messages always differ (beyond `at`).
    const keys = events.ofType('state', from).map((f) => JSON.stringify({ ...(f.data as StateSnapshot), at: null }));
    for (let i = 1; i < keys.length; i++) expect(keys[i]).not.toBe(keys[i - 1]);
    // At most one per 100 ms, by the server's clock (arrival times may bunch up).
    const times = events.ofType('state', from).map((f) => Date.parse((f.data as StateSnapshot).at));
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(99);
    expect(events.malformed).toEqual([]);
  });

  it("the upstream history says which model wrote which part; its data stays llama-swap's raw log", async () => {
    srv = await startServer(`models:\n${demoModel('a')}${demoModel('b')}`);
    for (const m of ['a', 'b', 'a']) expect((await chat(srv.url, m)).status).toBe(200);
    events = await SseReader.open(srv.url);
    await events.waitFor('the state message', (f) => f.type === 'state');
    const history = events.frames[1]!.data as { source: string; data: string; spans: Array<[string, number]> };
    expect(history.source).toBe('upstream');
    expect(history.data).toBe(srv.logs.hub.upstream.history());
    expect(history.spans.reduce((n, [, len]) => n + len, 0)).toBe(history.data.length);
    // a, then b (a swapped out), then a again: three runs, each the output of its model.
    expect(history.spans.map(([m]) => m)).toEqual(['a', 'b', 'a']);
    let at = 0;
    const texts = history.spans.map(([m, len]) => [m, history.data.slice(at, (at += len))] as const);
    expect(texts[0]![1]).toContain('upstream a listening');
    expect(texts[1]![1]).toContain('upstream b listening');
    expect(texts[1]![1]).not.toMatch(/upstream a /);
    expect(texts[2]![1]).toContain('upstream a listening');
  });

  it('on reload: a fresh modelStatus and state from the new config, then live ones of the same processes', async () => {
    dir = mkdtempSync(join(tmpdir(), 'swapstate-events-'));
    const configPath = join(dir, 'config.yaml');
    const yaml = (description: string) => `startPort: ${ports}\nmodels:\n${demoModel('a', `description: ${description}`)}`;
    const ports = await freePortBlock(20);
    writeFileSync(configPath, yaml('before'));
    srv = await startServer(yaml('before'), { configPath });
    events = await SseReader.open(srv.url);
    await events.waitFor('the initial state', (f) => f.type === 'state');
    expect((await chat(srv.url, 'a')).status).toBe(200);
    await events.waitFor('a ready', (f) => f.type === 'modelStatus' && stateOf(f, 'a') === 'ready');

    const from = events.frames.length;
    writeFileSync(configPath, yaml('after'));
    expect(await srv.server.reload()).toBe(true);
    const fresh = await events.waitFor('the new modelStatus', (f) => f.type === 'modelStatus', from);
    // Only its description changed: a keeps running (a reload keeps unchanged models).
    expect(fresh.data).toEqual([
      { id: 'a', name: '', description: 'after', state: 'ready', unlisted: false, peerID: '' },
    ]);
    await events.waitFor('the new state', (f) => f.type === 'state' && processOf(f, 'a')?.state === 'ready', from);

    // The process is still watched: unloading and loading it show up as before.
    const unloaded = events.frames.length;
    await srv.server.state().runtime.unload(['a']);
    await events.waitFor('a stopped', (f) => f.type === 'modelStatus' && stateOf(f, 'a') === 'stopped', unloaded);
    const again = events.frames.length;
    expect((await chat(srv.url, 'a')).status).toBe(200);
    await events.waitFor('a ready again', (f) => f.type === 'modelStatus' && stateOf(f, 'a') === 'ready', again);
    expect(events.ofType('modelStatus', again).map((f) => stateOf(f, 'a'))).toEqual(['starting', 'ready']);
  });

  it('ends the stream on shutdown', async () => {
    srv = await startServer(`models:\n${demoModel('a')}`);
    events = await SseReader.open(srv.url);
    await events.waitFor('the initial state', (f) => f.type === 'state');
    const stopping = srv.stop();
    srv = null;
    await until(() => events!.ended, 'the stream to end');
    await stopping;
  });
});
