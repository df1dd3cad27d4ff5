/**
 * The idle memory trim's rules (src/runtime/memory-trim.ts) on a virtual clock and fake
 * sources, and the collection it uses, on this process's real heap.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryTrim, memoryReducingGc, TRIM_CHECK_MS, TRIM_QUIET_MS, type Trimmed } from '../../src/runtime/memory-trim.ts';

const MB = 1024 * 1024;

/** A trim with the default timing on a virtual clock, whose sources the test sets. */
function rig() {
  const s = { arrived: 0, open: 0, rss: 80 * MB, t: 0, collected: 0, afterCollect: 90 * MB, trims: [] as Trimmed[] };
  const trim = new MemoryTrim(
    { arrived: () => s.arrived, open: () => s.open, rss: () => s.rss },
    () => {
      s.collected++;
      s.rss = s.afterCollect;
    },
    (t) => s.trims.push(t),
    { now: () => s.t },
  );
  /** Advances the clock in check-sized steps, checking at each; the trims made. */
  const run = (ms: number, step = 2_000) => {
    let made = 0;
    for (let end = s.t + ms; s.t < end; ) {
      s.t = Math.min(end, s.t + step);
      if (trim.check()) made++;
    }
    return made;
  };
  return { s, trim, run };
}

describe('MemoryTrim', () => {
  afterEach(() => vi.useRealTimers());

  it('collects once, after a quiet spell that follows a load, and logs before and after', () => {
    const { s, trim } = rig();
    s.afterCollect = 91 * MB;
    // A load: requests arrive, RSS grows.
    s.arrived = 5000;
    s.rss = 118 * MB;
    s.t = 1_000;
    expect(trim.check()).toBeNull(); // activity: the quiet starts now
    s.t = 1_000 + TRIM_QUIET_MS - 1;
    expect(trim.check()).toBeNull();
    s.t = 1_000 + TRIM_QUIET_MS;
    expect(trim.check()).toMatchObject({ rssBefore: 118 * MB, rssAfter: 91 * MB });
    expect(s.trims).toHaveLength(1);
    s.t += 60_000;
    expect(trim.check()).toBeNull(); // once per quiet spell
    expect(s.trims).toHaveLength(1);
  });

  it('never while a request is open: a stream in progress is not quiet', () => {
    const { s, run } = rig();
    s.arrived = 1;
    s.open = 1;
    s.rss = 120 * MB;
    expect(run(60_000)).toBe(0);
    s.open = 0; // the stream ends: the quiet starts at the next check
    expect(run(9_000)).toBe(0);
    expect(run(4_000)).toBe(1);
    expect(s.collected).toBe(1);
  });

  it('each arrival starts the quiet again', () => {
    const { s, run } = rig();
    s.rss = 120 * MB;
    for (let i = 0; i < 10; i++) {
      s.arrived++;
      expect(run(8_000)).toBe(0); // a request every 8 s: never 10 s of quiet
    }
    expect(run(12_000)).toBe(1);
  });

  it('does not collect when RSS has not grown enough since it settled, and lowers the baseline when it fell', () => {
    const { s, run } = rig();
    s.arrived = 1;
    s.rss = 95 * MB; // +15 MB: under the threshold
    expect(run(12_000)).toBe(0);
    s.rss = 70 * MB; // V8's own reducer released it
    s.arrived = 2;
    expect(run(12_000)).toBe(0); // the new baseline is 70
    s.arrived = 3;
    s.rss = 87 * MB; // +17 from 70
    expect(run(12_000)).toBe(1);
  });

  it('measures the next growth from where the last trim left RSS', () => {
    const { s, run } = rig();
    s.arrived = 1;
    s.rss = 130 * MB;
    s.afterCollect = 100 * MB; // live memory grew: the trim leaves 100
    expect(run(12_000)).toBe(1);
    s.arrived = 2;
    s.rss = 110 * MB; // +10 from 100: not worth it
    expect(run(12_000)).toBe(0);
    s.arrived = 3;
    s.rss = 120 * MB;
    expect(run(12_000)).toBe(1);
    expect(s.collected).toBe(2);
  });

  it('RSS grown with no model request (management routes, a reload): once in the spell', () => {
    const { s, run } = rig();
    s.rss = 200 * MB;
    expect(run(60_000)).toBe(1); // grew while idle (e.g. a reload): once
    expect(run(60_000)).toBe(0);
  });

  it('start() checks on its own timer, every TRIM_CHECK_MS, until stop()', () => {
    vi.useFakeTimers();
    let collected = 0;
    let rss = 80 * MB;
    const trim = new MemoryTrim(
      { arrived: () => 1, open: () => 0, rss: () => rss },
      () => collected++,
      () => {},
      { now: () => Date.now() },
    ).start();
    rss = 120 * MB;
    vi.advanceTimersByTime(TRIM_QUIET_MS + 2 * TRIM_CHECK_MS);
    expect(collected).toBe(1);
    trim.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('memoryReducingGc', () => {
  it('is none on V8 before 12 (Node 20), whose own memory reducer releases the pages', () => {
    expect(memoryReducingGc('11.3.244.8-node.33')).toBeNull();
  });

  it.runIf(Number(process.versions.v8.split('.')[0]) >= 12)('collects this heap, without putting gc on the global object', () => {
    const hadGc = 'gc' in globalThis;
    const collect = memoryReducingGc()!;
    expect(collect).toBeTypeOf('function');
    collect();
    expect('gc' in globalThis).toBe(hadGc);
    let garbage: number[][] | null = Array.from({ length: 200 }, () => Array.from({ length: 20_000 }, (_, i) => i + 0.5));
    const withGarbage = process.memoryUsage().heapUsed;
    expect(garbage.length).toBe(200);
    garbage = null;
    collect();
    // ~32 MB of doubles were unreachable: a collection frees most of them.
    expect(withGarbage - process.memoryUsage().heapUsed).toBeGreaterThan(20 * MB);
  });
});
