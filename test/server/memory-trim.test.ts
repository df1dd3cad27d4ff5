/**
 * The idle memory trim through a real server (src/runtime/memory-trim.ts, wired in
 * server.ts): no collection while a stream is in progress; one once the server has been quiet,
 * logged at debug level. A 1 s quiet and no growth threshold, so the test needs no load.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../helpers/real-upstreams.ts';
import { chat, demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';

const V8_MAJOR = Number(process.versions.v8.split('.')[0]);
const TRIMMED = 'memory trim after a quiet spell: RSS ';

let srv: RunningServer | null = null;
afterEach(async () => {
  await srv?.stop();
  srv = null;
});

const trims = (s: RunningServer) => s.logs.proxy.history().split(TRIMMED).length - 1;

describe('idle memory trim', () => {
  it.runIf(V8_MAJOR < 12)('is off on V8 before 12 (Node 20): its own memory reducer gives the pages back', async () => {
    srv = await startServer(`logLevel: debug\nmodels:\n${demoModel('a')}`);
    expect(srv.server.memoryTrim).toBeNull();
  });

  it.runIf(V8_MAJOR >= 12)('waits out a stream, then collects once the server is quiet, and logs it', async () => {
    srv = await startServer(`logLevel: debug\nmodels:\n${demoModel('a')}`, { trim: { quietMs: 1_000, checkMs: 25, minGrowthBytes: 0 } });
    expect(srv.server.memoryTrim).not.toBeNull();
    const s = srv;
    // A 1.8 s stream: its request is open all along, so no quiet spell can begin. (The quiet
    // is 1 s: the client would have to stall that long between the stream's end and reading
    // its last chunk to see the trim "during" the stream.)
    const res = await chat(s.url, 'a', { stream: true, chunks: 60, chunk_delay_ms: 30 });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let atFirstChunk = -1;
    let during = 0;
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
      if (atFirstChunk === -1) atFirstChunk = trims(s);
      during = trims(s);
    }
    expect(during).toBe(atFirstChunk);
    // Quiet from here: one trim, in the log with RSS before and after.
    await until(() => trims(s) === atFirstChunk + 1, 'a trim after the stream', 15_000);
    expect(s.logs.proxy.history()).toMatch(/memory trim after a quiet spell: RSS [\d.]+ -> [\d.]+ MB \(a memory-reducing GC, \d+ ms\)/);
  });
});
