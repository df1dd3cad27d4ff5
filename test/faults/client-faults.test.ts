/**
 * Client faults: clients that leave while queued, while their model loads or mid-stream, one
 * that reads a long stream slowly, and one that sends its headers but never its body. Each
 * must cost the server nothing that outlives the client: no reservation, no queue entry, no
 * model started on its behalf, and the next request is served normally.
 *
 * One server: `busy` and `other` share a swap group (one runs at a time), the rest run side
 * by side. Only `slowload` takes time to load.
 */
import type http from 'node:http';
import { request as httpRequest } from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';
import { chatBody, fifo, rawHead, until, upstreamRequests } from './helpers.ts';

let srv: RunningServer;

beforeAll(async () => {
  srv = await startServer(`groups:
  swapping:
    swap: true
    exclusive: false
    members: [busy, other]
  free:
    swap: false
    exclusive: false
    members: [slowload, streamer, bodyless]
models:
${demoModel('busy', '', '--load-delay 0')}
${demoModel('other', '', '--load-delay 0')}
${demoModel('slowload', '', '--load-delay 1500')}
${demoModel('streamer', '', '--load-delay 0')}
${demoModel('bodyless', '', '--load-delay 0')}
`);
});

afterAll(async () => {
  await srv?.stop();
});

const proc = (id: string) => srv.server.state().runtime.process(id);

function chat(model: string, extra: Record<string, unknown> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${srv.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: chatBody(model, extra),
    ...(signal ? { signal } : {}),
  });
}

/** What a chat answer says its model is (the demo upstream names itself). */
async function answeredBy(res: Response): Promise<string> {
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return (JSON.parse(text) as { model: string }).model;
}

async function running(): Promise<string[]> {
  const body = (await (await fetch(`${srv.url}/running`)).json()) as { running: Array<{ model: string }> };
  return body.running.map((r) => r.model);
}

describe('client faults', () => {
  it('abort while queued', async () => {
    // busy holds its model with a slow request; other would have to evict it, so it queues.
    const hold = new AbortController();
    const held = chat('busy', { delay_ms: 30_000 }, hold.signal).catch(() => 'aborted');
    await until(() => upstreamRequests(srv, 'busy').length === 1, 'busy to get its request');

    const ac = new AbortController();
    const queued = chat('other', {}, ac.signal).catch((e: unknown) => e);
    await until(() => fifo(srv).queue.length === 1, 'other to queue');
    expect(fifo(srv).reserved).toEqual({ busy: 1, other: 1 });

    ac.abort();
    expect(await queued).toBeInstanceOf(Error);
    await until(() => fifo(srv).queue.length === 0 && fifo(srv).reserved.other === undefined, 'other to leave the queue');
    expect(fifo(srv).reserved).toEqual({ busy: 1 });
    expect(proc('other')?.starts).toBe(0);
    expect(await running()).toEqual(['busy']);

    hold.abort();
    expect(await held).toBe('aborted');
    await until(() => Object.keys(fifo(srv).reserved).length === 0, 'busy to be released');
    expect(proc('other')?.starts).toBe(0);

    // The next request for other swaps busy out and is served.
    expect(await answeredBy(await chat('other'))).toBe('other');
  });

  it('abort while the model loads', async () => {
    const ac = new AbortController();
    const waiting = chat('slowload', {}, ac.signal).catch((e: unknown) => e);
    await until(() => proc('slowload')?.state === 'starting', 'slowload to start loading');
    expect(fifo(srv).reserved.slowload).toBe(1);

    ac.abort();
    expect(await waiting).toBeInstanceOf(Error);
    // The slot is given back at once, not when the load ends (it takes 1.5 s).
    await until(() => fifo(srv).reserved.slowload === undefined, 'the reservation to be released', 1_000);
    expect(proc('slowload')?.state).toBe('starting');
    expect(fifo(srv).queue).toEqual([]);

    expect(await answeredBy(await chat('slowload'))).toBe('slowload');
    expect(fifo(srv).reserved).toEqual({});
  });

  it('abort while streaming', async () => {
    const ac = new AbortController();
    const res = await chat('streamer', { stream: true, chunks: 1000, chunk_delay_ms: 10 }, ac.signal);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while ((text.match(/^data: /gm) ?? []).length < 3) {
      const { value, done } = await reader.read();
      if (done) throw new Error('the stream ended early');
      text += decoder.decode(value, { stream: true });
    }
    ac.abort();
    await reader.read().catch(() => undefined);

    // The upstream sees its client close: http-proxy-3 destroys the upstream request.
    const closedLine = /^streamer client closed stream after (\d+) chunks$/m;
    await until(() => closedLine.test(srv.logs.hub.forModel('streamer').history()), 'the upstream to see the close');
    const chunks = Number(closedLine.exec(srv.logs.hub.forModel('streamer').history())![1]);
    expect(chunks).toBeGreaterThanOrEqual(3);
    expect(chunks).toBeLessThan(1000);
    await until(() => fifo(srv).reserved.streamer === undefined, 'streamer to be released');

    expect(await answeredBy(await chat('streamer'))).toBe('streamer');
  });

  it('a slow client reading a long stream slowly', async () => {
    // 200 chunks, two in three of them 100 kB (the demo repeats the prompt's words): ~13 MB,
    // more than the kernel's socket buffers hold, so a server that did not apply
    // backpressure would have to hold megabytes while the client pauses.
    const words = Array.from({ length: 10 }, (_, i) => String.fromCharCode(97 + i).repeat(100_000));
    const body = JSON.stringify({
      model: 'streamer',
      messages: [{ role: 'user', content: words.join(' ') }],
      stream: true,
      chunks: 200,
      chunk_delay_ms: 1,
    });
    const httpServer = srv.server['server'];
    if (!httpServer) throw new Error('not listening');
    let serverRes: http.ServerResponse | null = null;
    const spot = (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (req.headers['x-fault-test'] === 'slow-client') serverRes = res;
    };
    httpServer.on('request', spot);
    try {
      const { port } = new URL(srv.url);
      const { events, maxBuffered } = await new Promise<{ events: string[]; maxBuffered: number }>((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port: Number(port),
            method: 'POST',
            path: '/v1/chat/completions',
            headers: { 'content-type': 'application/json', 'x-fault-test': 'slow-client' },
            agent: false,
          },
          (res) => {
            let text = '';
            let maxBuffered = 0;
            res.setEncoding('utf8');
            res.once('data', (first: string) => {
              text += first;
              // Stop reading for a while; meanwhile the upstream produces the whole stream.
              res.pause();
              const sampler = setInterval(() => {
                maxBuffered = Math.max(maxBuffered, serverRes?.writableLength ?? 0);
              }, 20);
              setTimeout(() => {
                clearInterval(sampler);
                res.on('data', (d: string) => (text += d));
                res.resume();
              }, 1_500);
            });
            res.on('end', () => {
              const events = text
                .split('\n\n')
                .filter((f) => f.startsWith('data: '))
                .map((f) => f.slice(6));
              resolve({ events, maxBuffered });
            });
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      expect(serverRes).not.toBeNull();
      // Everything arrived, in order, and the stream finished.
      expect(events).toHaveLength(201);
      expect(events.at(-1)).toBe('[DONE]');
      const text = events.slice(0, 200).map((e) => (JSON.parse(e) as { choices: Array<{ delta: { content: string } }> }).choices[0]!.delta.content).join('');
      expect(text.length).toBeGreaterThan(13_000_000);
      // What swapstate held for the paused client stayed far below the stream's size.
      expect(maxBuffered).toBeLessThan(1024 * 1024);
    } finally {
      httpServer.off('request', spot);
    }
    await until(() => fifo(srv).reserved.streamer === undefined, 'streamer to be released');
    expect(await answeredBy(await chat('streamer'))).toBe('streamer');
  });

  it('a client that sends headers and then never sends its body', async () => {
    const { port } = new URL(srv.url);
    const connect = (bytes: string) => {
      const s = net.connect(Number(port), '127.0.0.1');
      s.on('error', () => {});
      s.write(bytes);
      return s;
    };
    // A declared length with part of the body, a chunked body without a chunk, and the same on
    // /upstream: each handler waits for a body that never comes.
    const partial = connect(
      `${rawHead('POST', '/v1/chat/completions', { 'Content-Type': 'application/json', 'Content-Length': '1000' })}{"model":"bodyless",`,
    );
    const chunked = connect(rawHead('POST', '/v1/chat/completions', { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }));
    const upstream = connect(rawHead('POST', '/upstream/bodyless/v1/chat/completions', { 'Content-Length': '100' }));
    // Time for a server that would ask for a slot on headers alone to do so.
    await new Promise((r) => setTimeout(r, 300));

    // No slot is granted (or even asked for) before the body is read.
    expect(fifo(srv).reserved).toEqual({});
    expect(fifo(srv).queue).toEqual([]);
    expect(proc('bodyless')?.starts).toBe(0);
    // The waiting handlers hold nobody else up.
    const listing = await fetch(`${srv.url}/v1/models`);
    expect(listing.status).toBe(200);

    const logBefore = srv.logs.proxy.history().length;
    for (const s of [partial, chunked, upstream]) s.destroy();
    // Each request ends when its client goes: its access log line is written then.
    await until(() => (srv.logs.proxy.history().slice(logBefore).match(/^.*"POST \/(v1|upstream)\/.*$/gm) ?? []).length === 3, 'the three requests to end');
    // A client leaving is not a server error.
    expect(srv.logs.proxy.history().slice(logBefore)).not.toMatch(/\[ERROR\]|aborted/);
    expect(fifo(srv).reserved).toEqual({});
    expect(proc('bodyless')?.starts).toBe(0);

    expect(await answeredBy(await chat('bodyless'))).toBe('bodyless');
  });
});
