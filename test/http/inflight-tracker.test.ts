/**
 * The in-flight tracker's timing rules with fake timers and fake sockets: the first upsert
 * at once, then at most one per 250 ms, a remove cancelling a pending upsert, body bytes
 * sampled as the response writes them, and no timer at all while nobody listens.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InflightTracker, type InflightEvent } from '../../src/observability/inflight.ts';

function fakeExchange(headers: string[] = ['Host', 'x', 'Authorization', 'Bearer k', 'Accept', 'a', 'accept', 'b']) {
  const socket = { remoteAddress: '10.0.0.1' };
  const req = { method: 'POST', rawHeaders: headers, headers: {}, socket } as unknown as IncomingMessage;
  const resHeaders: Record<string, unknown> = {};
  const res = {
    socket,
    headersSent: false,
    getHeaders: () => resHeaders,
    destroy: vi.fn(),
    write: (_chunk: unknown) => true,
    end: (_chunk?: unknown) => undefined,
  };
  return { req, res: res as unknown as ServerResponse & typeof res, socket, resHeaders };
}

const begin = (t: InflightTracker, x: ReturnType<typeof fakeExchange>, reqId = 'req-1') =>
  t.begin(x.req, x.res, { model: 'm', path: '/v1/chat/completions', reqId, remoteIp: x.socket.remoteAddress });

describe('InflightTracker', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends the first upsert at once, then at most one per 250 ms', () => {
    const t = new InflightTracker();
    const seen: InflightEvent[] = [];
    t.subscribe((e) => seen.push(e));
    const x = fakeExchange();
    const h = begin(t, x);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      operation: 'upsert',
      request: {
        id: '1',
        phase: 'waiting',
        req_id: 'req-1',
        remote_ip: '10.0.0.1',
        req_headers: { Authorization: '[REDACTED]', Accept: 'a' },
        resp_bytes: 0,
      },
    });
    expect(seen[0]!.operation === 'upsert' && 'Host' in seen[0]!.request.req_headers).toBe(false);

    vi.advanceTimersByTime(10);
    h.serving();
    expect(seen).toHaveLength(1);
    vi.advanceTimersByTime(239);
    expect(seen).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(seen).toHaveLength(2);
    expect(seen[1]).toMatchObject({ operation: 'upsert', request: { phase: 'serving', elapsed_ms: 250 } });

    // Bytes written and headers sent show up at the next sample.
    x.res.headersSent = true;
    x.resHeaders['content-type'] = 'text/event-stream';
    x.resHeaders['set-cookie'] = ['s=1', 's=2'];
    x.res.write(Buffer.alloc(4000));
    x.res.write('é'.repeat(48)); // 96 bytes in UTF-8
    vi.advanceTimersByTime(500);
    const last = seen.at(-1)!;
    expect(last).toMatchObject({
      operation: 'upsert',
      request: { resp_bytes: 4096, resp_headers: { 'Content-Type': 'text/event-stream', 'Set-Cookie': '[REDACTED]' } },
    });
    const count = seen.length;
    vi.advanceTimersByTime(1000); // nothing changed: nothing sent
    expect(seen).toHaveLength(count);

    h.end();
    h.end();
    expect(seen.at(-1)).toEqual({ operation: 'remove', id: '1' });
    expect(seen).toHaveLength(count + 1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a remove cancels a pending upsert', () => {
    const t = new InflightTracker();
    const seen: InflightEvent[] = [];
    t.subscribe((e) => seen.push(e));
    const h = begin(t, fakeExchange());
    h.serving(); // within 250 ms of the first: pending
    h.end();
    vi.advanceTimersByTime(1000);
    expect(seen.map((e) => e.operation)).toEqual(['upsert', 'remove']);
  });

  it('holds no timer while nobody listens', () => {
    const t = new InflightTracker();
    const h = begin(t, fakeExchange());
    h.serving();
    expect(vi.getTimerCount()).toBe(0);
    const off = t.subscribe(() => {});
    expect(vi.getTimerCount()).toBeGreaterThan(0); // the byte sampler
    off();
    expect(vi.getTimerCount()).toBe(0);
    h.end();
    expect(t.size).toBe(0);
  });

  it('snapshots by id, and cancels by destroying the response', () => {
    const t = new InflightTracker();
    const a = fakeExchange();
    const b = fakeExchange();
    begin(t, a, 'req-1');
    const hb = begin(t, b, 'req-2');
    hb.serving();
    vi.advanceTimersByTime(42);
    const snap = t.snapshot();
    expect(snap.map((r) => [r.id, r.req_id, r.phase, r.elapsed_ms])).toEqual([
      ['1', 'req-1', 'waiting', 42],
      ['2', 'req-2', 'serving', 42],
    ]);
    expect(t.cancel('2')).toBe(true);
    expect(b.res.destroy).toHaveBeenCalledOnce();
    expect(a.res.destroy).not.toHaveBeenCalled();
    expect(t.cancel('3')).toBe(false);
  });
});
