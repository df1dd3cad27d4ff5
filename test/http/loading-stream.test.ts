/**
 * The loading-state stream's frames (src/http/loading-stream.ts), byte for byte, on a fake
 * clock and a scripted random source: the header typed 5 runes at a time at 75 a second, the
 * 750 ms ticks (queue update, wait reason, remark, dot), `Done! (X.XXs)`, and no write or timer
 * after the end. Ports llama-swap's internal/router/loading_test.go cases.
 */
import { describe, expect, it } from 'vitest';
import { errorFrame, goSeconds, isLoadingPath, LoadingStream, loadingFrame, type LoadingClock } from '../../src/http/loading-stream.ts';
import { waitText } from '../../src/http/loading-serve.ts';

/** Timers run in time order (then in the order set) as the test moves the clock. */
class FakeClock implements LoadingClock {
  private t = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  pending(): number {
    return this.timers.size;
  }
  advanceTo(t: number): void {
    for (;;) {
      let next: { id: number; at: number; fn: () => void } | null = null;
      for (const [id, timer] of this.timers) if (timer.at <= t && (next === null || timer.at < next.at)) next = { id, ...timer };
      if (next === null) break;
      this.timers.delete(next.id);
      this.t = next.at;
      next.fn();
    }
    this.t = t;
  }
}

/** A random source that answers `values` in turn (then 0.5). */
function scripted(values: number[]): () => number {
  let i = 0;
  return () => values[i++] ?? 0.5;
}

/** The reasoning texts of a run of frames, one per frame; fails on anything that is no frame. */
function texts(frames: string[]): string[] {
  return frames.map((f) => {
    const m = /^data: (.*)\n\n$/s.exec(f);
    expect(m, `not one SSE frame: ${JSON.stringify(f)}`).not.toBeNull();
    const doc = JSON.parse(m![1]!) as { choices: Array<{ delta: { reasoning_content: string } }> };
    expect(Object.keys(doc)).toEqual(['choices']);
    return doc.choices[0]!.delta.reasoning_content;
  });
}

function setup(opts: { remarks?: string[]; random?: () => number; waitReason?: () => string | null; charsPerSecond?: number; model?: string } = {}) {
  const clock = new FakeClock();
  const frames: string[] = [];
  const stream = new LoadingStream({
    model: opts.model ?? 'm',
    write: (f) => frames.push(f),
    clock,
    random: opts.random ?? scripted([]),
    remarks: opts.remarks ?? ['alpha', 'beta', 'gamma'],
    ...(opts.waitReason ? { waitReason: opts.waitReason } : {}),
    ...(opts.charsPerSecond !== undefined ? { charsPerSecond: opts.charsPerSecond } : {}),
  });
  return { clock, frames, stream };
}

const HEADER = ['━━━━━', '\n', 'llama', '-swap', ' load', 'ing m', 'odel:', ' m', '\n'];

describe('the loading stream, frame by frame', () => {
  it('a short load with a remark, a queue update, dots and Done!, byte for byte', async () => {
    // Shuffle of 3 remarks: i=2 takes j=0 (gamma to the front), i=1 takes j=1 (stays).
    const { clock, frames, stream } = setup({ random: scripted([0, 0.99]) });
    stream.start();
    // The first chunk at once, then one chunk per 5/75 s.
    expect(texts(frames)).toEqual(['━━━━━', '\n', 'llama']);
    clock.advanceTo(333.34);
    expect(texts(frames)).toEqual(HEADER);

    // The ticker starts once the header is typed: the first tick at 333.33 + 750 ms, and the
    // first idle tick is a remark.
    clock.advanceTo(1083);
    expect(frames).toHaveLength(HEADER.length);
    clock.advanceTo(1084);
    expect(texts(frames).slice(HEADER.length)).toEqual(['\n', 'gamma', ' ']);

    clock.advanceTo(1500);
    stream.setPosition(1);
    clock.advanceTo(2600); // the update is typed from 1833.33, then a dot at 2583.33
    clock.advanceTo(3500);
    const done = stream.finish();
    clock.advanceTo(3700);
    await done;

    expect(frames.join('')).toBe(
      [
        ...HEADER,
        '\n', 'gamma', ' ',
        '\n', 'Queue', ' posi', 'tion:', ' #1', ' ',
        '.', '.',
        '\n', 'Done!', ' (3.5', '0s)', '\n', '━━━━━', '\n', ' ', '\n',
      ]
        .map(loadingFrame)
        .join(''),
    );
    expect(frames[0]).toBe('data: {"choices":[{"delta":{"reasoning_content":"━━━━━"}}]}\n\n');
    expect(clock.pending()).toBe(0);
  });

  it('after a remark or an update the next remark waits 5 to 9 s (dots meanwhile)', () => {
    // No typing pauses: ticks at exact multiples of 750 ms. Shuffle [0, 0] makes alpha, beta,
    // gamma into beta, gamma, alpha; after the first remark 0.99 draws 9 s.
    const { clock, frames, stream } = setup({ random: scripted([0, 0, 0.99]), charsPerSecond: 0 });
    stream.start();
    const header = frames.length;
    clock.advanceTo(9000); // the remark at 750, then dots: 9 s have not passed yet
    expect(texts(frames.slice(header)).join('')).toBe(`\nbeta ${'.'.repeat(11)}`);
    clock.advanceTo(9750);
    expect(texts(frames.slice(header)).join('')).toBe(`\nbeta ${'.'.repeat(11)}\ngamma `);
    stream.abort();
    expect(clock.pending()).toBe(0);
  });

  it('the wait reason is typed as a Status: update when it changes; plain loading is not repeated', () => {
    let reason: string | null = 'model m is loading';
    const { clock, frames, stream } = setup({ waitReason: () => reason, remarks: [], charsPerSecond: 0 });
    stream.start();
    const header = frames.length;
    clock.advanceTo(750);
    expect(texts(frames.slice(header))).toEqual(['.']);
    reason = 'would evict model a, which is serving 1 request';
    clock.advanceTo(1500);
    expect(texts(frames.slice(header)).join('')).toBe('.\nStatus: would evict model a, which is serving 1 request ');
    const before = frames.length;
    clock.advanceTo(6000); // unchanged: dots only
    expect(texts(frames.slice(before)).join('')).toBe('.'.repeat(6));
    reason = 'model m is waking';
    clock.advanceTo(6750);
    expect(texts(frames).join('')).toMatch(/\.\nStatus: model m is waking $/);
    reason = null; // granted: nothing more to say
    clock.advanceTo(7500);
    expect(texts(frames).join('')).toMatch(/waking \.$/);
    stream.abort();
  });

  it('a queue position outranks a changed reason: the reason follows at the next tick', () => {
    const { clock, frames, stream } = setup({ waitReason: () => 'model m is loading (evicting a)', remarks: [], charsPerSecond: 0 });
    stream.setPosition(2);
    stream.start();
    clock.advanceTo(750);
    expect(texts(frames).join('')).toMatch(/: m\n\nQueue position: #2 $/);
    clock.advanceTo(1500);
    expect(texts(frames).join('')).toMatch(/#2 \nStatus: model m is loading \(evicting a\) $/);
    stream.abort();
  });

  it('a tick that comes while a remark is typed waits for it (Go: a buffered ticker), and only one', () => {
    const long = 'x'.repeat(150); // 2 s of typing: two ticks come meanwhile, one is kept
    const { clock, frames, stream } = setup({ remarks: [long] });
    stream.start();
    // 30 chunks, 29 pauses: typed from 1083.33 to 3016.67, while ticks came at 1833 and 2583.
    clock.advanceTo(3000);
    expect(texts(frames).slice(HEADER.length).join('')).toBe(`\n${'x'.repeat(145)}`);
    clock.advanceTo(3300);
    // The kept tick at once (a dot), no second one before the next tick at 3333.33.
    expect(texts(frames).slice(HEADER.length).join('')).toBe(`\n${'x'.repeat(150)} .`);
    stream.abort();
  });

  it('finish() during the header: the header is typed out, then Done! with the time taken', async () => {
    const { clock, frames, stream } = setup();
    stream.start();
    clock.advanceTo(100);
    const done = stream.finish();
    clock.advanceTo(1000);
    await done;
    expect(texts(frames).join('')).toBe('━━━━━\nllama-swap loading model: m\n\nDone! (0.33s)\n━━━━━\n \n');
    expect(clock.pending()).toBe(0);
  });

  it('finish() while a remark is typed: the remark ends first, the time is taken after it', async () => {
    const { clock, frames, stream } = setup({ remarks: ['0123456789'] });
    stream.start();
    clock.advanceTo(1090); // remark started at 1083.33; its second chunk comes at 1150
    const done = stream.finish();
    clock.advanceTo(2000);
    await done;
    expect(texts(frames).join('')).toContain('\n0123456789 \nDone! (1.15s)\n');
  });

  it('abort(): no frame and no timer after it, wherever it comes; finish() then resolves at once', async () => {
    for (const at of [0, 50, 400, 1100, 1900]) {
      const { clock, frames, stream } = setup({ random: scripted([0, 0]) });
      stream.start();
      clock.advanceTo(at);
      stream.abort();
      const n = frames.length;
      expect(clock.pending(), `timers left after an abort at ${at} ms`).toBe(0);
      clock.advanceTo(at + 20_000);
      await stream.finish();
      expect(frames).toHaveLength(n);
    }
  });

  it('model ids with HTML characters are escaped as Go does; runes are never split', () => {
    const { clock, frames, stream } = setup({ model: 'a<b>&ü💡', charsPerSecond: 0 });
    stream.start();
    clock.advanceTo(1);
    expect(frames.slice(4, 6)).toEqual([
      'data: {"choices":[{"delta":{"reasoning_content":"odel: a\\u003cb\\u003e"}}]}\n\n',
      'data: {"choices":[{"delta":{"reasoning_content":"\\u0026ü💡"}}]}\n\n',
    ]);
    stream.abort();
  });

  // llama-swap's loading_test.go: TestLoadingWriter_SendLine, SendDataFormat, StartShowsSetUpdate.
  it('with no typing delay a line is one chunk of up to 10 runes per frame, then its newline', () => {
    const { clock, frames, stream } = setup({ charsPerSecond: 0, remarks: [] });
    stream.setPosition(3);
    stream.start();
    expect(texts(frames)).toEqual(['━━━━━', '\n', 'llama-swap', ' loading m', 'odel: m', '\n']);
    clock.advanceTo(750);
    expect(texts(frames).slice(6)).toEqual(['\n', 'Queue posi', 'tion: #3', ' ']);
    stream.abort();
  });
});

describe('helpers', () => {
  it("goSeconds is Go's %.2f: exact ties to even, everything else by the exact value", () => {
    expect(goSeconds(3500)).toBe('3.50');
    expect(goSeconds(125)).toBe('0.12'); // exact tie: even
    expect(goSeconds(375)).toBe('0.38');
    expect(goSeconds(1625)).toBe('1.62');
    expect(goSeconds(5)).toBe('0.01'); // 0.005 is a little above the tie in binary
    expect(goSeconds(1999)).toBe('2.00');
    expect(goSeconds(0)).toBe('0.00');
    expect(goSeconds(123456)).toBe('123.46');
  });

  it('isLoadingPath: chat completions by prefix only (llama-swap TestIsLoadingPath)', () => {
    expect(isLoadingPath('/v1/chat/completions')).toBe(true);
    expect(isLoadingPath('/v1/chat/completions/extra')).toBe(true);
    expect(isLoadingPath('/v1/chat/completions?stream=true')).toBe(true);
    expect(isLoadingPath('/v1/completions')).toBe(false);
    expect(isLoadingPath('/v1/embeddings')).toBe(false);
    expect(isLoadingPath('/chat/completions')).toBe(false);
    expect(isLoadingPath('/health')).toBe(false);
    expect(isLoadingPath('')).toBe(false);
  });

  it('errorFrame: one data frame with the JSON, then [DONE] (llama-swap TestLoadingWriter_SendError)', () => {
    const frame = errorFrame('{"error":{"message":"x"}}');
    expect(frame).toBe('data: {"error":{"message":"x"}}\n\ndata: [DONE]\n\n');
    for (const line of frame.split('\n').filter(Boolean)) expect(line.startsWith('data: ')).toBe(true);
  });

  it('waitText drops the position (shown by its own line), keeps the rest', () => {
    const base = { reqId: 'r', model: 'b' };
    expect(waitText(null)).toBeNull();
    expect(
      waitText({ ...base, position: 2, reason: { kind: 'evicts-busy', model: 'a', inFlight: 1 }, text: 'would evict model a, which is serving 1 request, position 2' }),
    ).toBe('would evict model a, which is serving 1 request');
    expect(waitText({ ...base, position: null, reason: { kind: 'loading', model: 'b', swapId: 's' }, text: 'model b is loading (evicting a)' })).toBe(
      'model b is loading (evicting a)',
    );
  });
});
