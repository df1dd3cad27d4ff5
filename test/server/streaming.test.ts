/**
 * The streaming proxy through a real server and real upstreams: SSE chunk by chunk, a client
 * that leaves mid-stream, upstream failures, and the body size bound.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { chat, demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';
import { until } from '../helpers/real-upstreams.ts';

const GATED = fileURLToPath(new URL('../fixtures/gated-upstream.mjs', import.meta.url));

let srv: RunningServer | null = null;
afterEach(async () => {
  await srv?.stop();
  srv = null;
});

/** Reads an SSE body, calling `onEvent` with each `data:` payload as it arrives. */
async function readEvents(res: Response, onEvent: (data: string) => void | Promise<void>): Promise<void> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) !== -1) {
      const frame = buf.slice(0, i);
      buf = buf.slice(i + 2);
      for (const line of frame.split('\n')) if (line.startsWith('data: ')) await onEvent(line.slice(6));
    }
  }
}

/** Port of a model whose cmd was given `${PORT}` (read back from its proxy URL). */
function portOf(s: RunningServer, model: string): number {
  return Number(new URL(s.server.config.models[model]!.proxy).port);
}

describe('streaming proxy', () => {
  it('an SSE stream of 20 chunks 50 ms apart reaches the client chunk by chunk', async () => {
    srv = await startServer(`models:\n${demoModel('a')}`);
    const started = Date.now();
    const res = await chat(srv.url, 'a', { stream: true, chunks: 20, chunk_delay_ms: 50 });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    const arrivals: number[] = [];
    await readEvents(res, (data) => {
      if (data !== '[DONE]') arrivals.push(Date.now() - started);
    });
    expect(arrivals).toHaveLength(20);
    // Buffered delivery would bunch the chunks at the end; streamed ones spread over ~950 ms.
    expect(arrivals[19]! - arrivals[0]!).toBeGreaterThan(500);
  });

  it('the first chunk reaches the client before the upstream has sent the second', async () => {
    srv = await startServer(`models:\n  g:\n    cmd: ${process.execPath} ${GATED} \${PORT}\n`);
    const upstream = `http://127.0.0.1:${portOf(srv, 'g')}`;
    const res = await chat(srv.url, 'g', { stream: true });
    const seen: string[] = [];
    const release = () => fetch(`${upstream}/release`, { method: 'POST' }).then((r) => r.text());
    await until(async () => (await release()) === 'released', 'the upstream to wait for chunk 1');
    await readEvents(res, async (data) => {
      seen.push(data);
      const events = (await (await fetch(`${upstream}/events`)).json()) as Array<{ what: string }>;
      if (data === '{"chunk":1}') {
        // The upstream has not sent chunk 2: it waits for our release.
        expect(events.map((e) => e.what)).toEqual(['sent 1']);
      }
      if (data !== '[DONE]') await release();
    });
    expect(seen).toEqual(['{"chunk":1}', '{"chunk":2}', '{"chunk":3}', '[DONE]']);
  });

  it('a client abort mid-stream closes the upstream within 100 ms and a queued swap proceeds', async () => {
    const eventsFile = join(mkdtempSync(join(tmpdir(), 'swapstate-gated-')), 'events.jsonl');
    const readUpstreamEvents = (): Array<{ what: string; at: number }> =>
      existsSync(eventsFile)
        ? readFileSync(eventsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { what: string; at: number })
        : [];
    srv = await startServer(
      `models:\n  g:\n    cmd: ${process.execPath} ${GATED} \${PORT} ${eventsFile}\n${demoModel('b')}`,
    );
    const upstream = `http://127.0.0.1:${portOf(srv, 'g')}`;
    const abort = new AbortController();
    const res = await chat(srv.url, 'g', { stream: true }, { signal: abort.signal });
    await until(async () => (await (await fetch(`${upstream}/release`, { method: 'POST' })).text()) === 'released', 'chunk 1');
    const reader = res.body!.getReader();
    await reader.read(); // chunk 1 is here: the stream is live

    // b is in the same (default) swap group: it must wait until g's request is over.
    const queued = chat(srv.url, 'b');
    let bDone = false;
    void queued.then(() => (bDone = true));
    // b waits in the queue: it would evict g, which is still serving.
    await until(() => srv!.server.state().runtime.actor.getSnapshot().context.fifo.queue.length === 1, 'b to queue');
    expect(bDone).toBe(false);

    const abortedAt = Date.now();
    abort.abort();
    // The upstream may be stopped right after (b evicts it), so its events come from its file.
    await until(() => readUpstreamEvents().some((e) => e.what === 'client closed'), 'the upstream to see its client close');
    const closedAt = readUpstreamEvents().find((e) => e.what === 'client closed')!.at;
    // Prompt, not 'when the stream would have ended' (never, for the gated upstream). The bound
    // leaves room for a loaded 2-core CI machine; the propagation itself takes about 1 ms.
    expect(closedAt - abortedAt).toBeLessThan(1_000);

    const b = await queued;
    expect(b.status).toBe(200);
    expect(((await b.json()) as { model: string }).model).toBe('b');
  });

  it('an upstream that refuses connections after the grant gives a 502 in the error envelope', async () => {
    srv = await startServer(`models:
  dead:
    cmd: ${process.execPath} -e "setInterval(() => {}, 1000)"
    proxy: http://127.0.0.1:9
    checkEndpoint: none
`);
    const res = await chat(srv.url, 'dead');
    expect(res.status).toBe(502);
    const body = (await res.json()) as { src: string; error: { type: string } };
    expect(body.src).toBe('swapstate');
    expect(body.error.type).toBe('server_error');
    // The server keeps serving.
    expect((await fetch(`${srv.url}/health`)).status).toBe(200);
  });

  it('a body over maxRequestBodyBytes gets 413 in the envelope, and the server keeps serving', async () => {
    srv = await startServer(`maxRequestBodyBytes: 1000\nmodels:\n${demoModel('a')}`);
    const res = await chat(srv.url, 'a', { padding: 'x'.repeat(5_000) });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('1000');
    const ok = await chat(srv.url, 'a');
    expect(ok.status).toBe(200);
  });
});
