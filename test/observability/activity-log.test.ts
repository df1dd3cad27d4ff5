/**
 * The activity store and its queries (reference 7.3): query validation with llama-swap's 400
 * messages, filters, paging, sorting, the row bound, statistics with Sturges histograms and
 * interpolated percentiles, the capture cache (FIFO by bytes) and the onRecord hook.
 */
import { describe, expect, it } from 'vitest';
import { ActivityLog, type NewActivity } from '../../src/observability/activity-log.ts';
import { parseActivityQuery, type ActivityQuery } from '../../src/observability/activity-query.ts';
import { CaptureCache, captureFieldsFor, type Capture } from '../../src/observability/capture-cache.ts';
import { histogram, percentile } from '../../src/observability/histogram.ts';
import { ZERO_TOKENS } from '../../src/observability/usage-parse.ts';

const query = (qs: string): ActivityQuery => {
  const q = parseActivityQuery(new URLSearchParams(qs));
  if (q instanceof Error) throw q;
  return q;
};
const refusal = (qs: string): string => {
  const q = parseActivityQuery(new URLSearchParams(qs));
  return q instanceof Error ? q.message : 'accepted';
};

function row(over: Partial<Omit<NewActivity, 'tokens'>> & { tokens?: Partial<NewActivity['tokens']> } = {}): NewActivity {
  return {
    timestamp: '2025-01-01T12:00:00.000Z',
    model: 'a',
    req_path: '/v1/chat/completions',
    resp_content_type: 'application/json',
    resp_status_code: 200,
    duration_ms: 100,
    ...over,
    tokens: { ...ZERO_TOKENS, ...over.tokens },
  };
}

describe('the activity query', () => {
  it('defaults: page 1 of 25, newest first by id', () => {
    expect(query('')).toEqual({ models: [], start: null, end: null, minId: 0, maxId: 0, limit: 25, page: 1, sort: 'id', order: 'desc' });
    expect(query('model=a&model=%20b%20&model=&order=ASC&sort=gen_speed&limit=999&page=3')).toMatchObject({
      models: ['a', 'b'],
      order: 'asc',
      sort: 'gen_speed',
      limit: 999,
      page: 3,
    });
  });

  it("refuses what llama-swap refuses, in its words", () => {
    expect(refusal('limit=0')).toBe('limit must be between 1 and 999');
    expect(refusal('limit=1000')).toBe('limit must be between 1 and 999');
    expect(refusal('limit=ten')).toBe('invalid limit');
    expect(refusal('page=0')).toBe('page must be >= 1');
    expect(refusal('page=x')).toBe('page must be >= 1');
    expect(refusal('sort=tokens')).toBe('invalid sort column');
    expect(refusal('order=up')).toBe('order must be asc or desc');
    expect(refusal('start=yesterday')).toBe("invalid 'start' timestamp, use RFC3339 format");
    expect(refusal('end=2025-01-01')).toBe("invalid 'end' timestamp, use RFC3339 format");
    expect(refusal('start=2025-01-02T00:00:00Z&end=2025-01-01T00:00:00Z')).toBe('start must be before end');
    expect(refusal('start=2025-01-01T00:00:00Z&end=2025-01-01T00:00:00Z')).toBe('accepted');
    expect(refusal('min_id=0')).toBe('min_id must be >= 1');
    expect(refusal('max_id=-2')).toBe('max_id must be >= 1');
    expect(refusal('min_id=5&max_id=4')).toBe('min_id must be <= max_id');
    expect(refusal('start=2025-01-01T10:00:00.5%2B02:00')).toBe('accepted');
    // A bare `+` in a query is a space, in Go's query parsing too.
    expect(refusal('start=2025-01-01T10:00:00+02:00')).toBe("invalid 'start' timestamp, use RFC3339 format");
  });
});

describe('the activity log', () => {
  const log = (maxInMemory = 1000, captureBytes = 0) => new ActivityLog(() => ({ maxInMemory, captureBytes }));

  it('numbers rows from 1 and tells listeners; unsubscribed listeners hear nothing', () => {
    const l = log();
    const heard: number[] = [];
    const off = l.onRecord((e) => heard.push(e.id));
    expect(l.record(row()).id).toBe(1);
    expect(l.record(row()).id).toBe(2);
    off();
    l.record(row());
    expect(heard).toEqual([1, 2]);
  });

  it('filters by model, time (whole seconds, inclusive) and id; pages; total_pages', () => {
    const l = log();
    for (let i = 0; i < 7; i++) l.record(row({ model: i % 2 ? 'b' : 'a', timestamp: `2025-01-01T12:00:0${i}.400Z` }));
    const page = l.list(query('limit=2&page=2'));
    expect(page).toMatchObject({ page: 2, limit: 2, total: 7, total_pages: 4 });
    expect(page.data.map((e) => e.id)).toEqual([5, 4]);
    expect(l.list(query('model=b')).data.map((e) => e.id)).toEqual([6, 4, 2]);
    expect(l.list(query('model=a&model=b')).total).toBe(7);
    expect(l.list(query('start=2025-01-01T12:00:02Z&end=2025-01-01T12:00:04Z')).data.map((e) => e.id)).toEqual([5, 4, 3]);
    expect(l.list(query('min_id=3&max_id=4&order=asc')).data.map((e) => e.id)).toEqual([3, 4]);
    expect(l.list(query('model=zzz'))).toEqual({ data: [], page: 1, limit: 25, total: 0, total_pages: 0 });
  });

  it('sorts by each key, ties by id in the same direction', () => {
    const l = log();
    l.record(row({ model: 'b', tokens: { tokens_per_second: 30, input_tokens: 5 }, duration_ms: 9 }));
    l.record(row({ model: 'a', tokens: { tokens_per_second: 10, input_tokens: 5 }, duration_ms: 7 }));
    l.record(row({ model: 'c', tokens: { tokens_per_second: 20, input_tokens: 1 }, duration_ms: 8 }));
    const ids = (qs: string) => l.list(query(qs)).data.map((e) => e.id);
    expect(ids('sort=gen_speed')).toEqual([1, 3, 2]);
    expect(ids('sort=gen_speed&order=asc')).toEqual([2, 3, 1]);
    expect(ids('sort=model&order=asc')).toEqual([2, 1, 3]);
    expect(ids('sort=duration')).toEqual([1, 3, 2]);
    expect(ids('sort=prompt')).toEqual([2, 1, 3]);
    expect(ids('sort=prompt&order=asc')).toEqual([3, 1, 2]);
    expect(ids('')).toEqual([3, 2, 1]);
  });

  it('keeps the newest metricsMaxInMemory rows; 0 or less means 1000', () => {
    const l = log(3);
    for (let i = 0; i < 50; i++) l.record(row());
    expect(l.list(query('order=asc')).data.map((e) => e.id)).toEqual([48, 49, 50]);
    expect(l.stats('').total_requests).toBe(3);
    const d = log(0);
    for (let i = 0; i < 1005; i++) d.record(row());
    expect(d.list(query('')).total).toBe(1000);
  });

  it('stats: totals (cache only where > 0) and histograms over speeds > 0, per model', () => {
    const l = log();
    l.record(row({ tokens: { input_tokens: 10, output_tokens: 2, cache_tokens: -1, prompt_per_second: -1, tokens_per_second: 10 } }));
    l.record(row({ tokens: { input_tokens: 5, output_tokens: 3, cache_tokens: 4, prompt_per_second: 100, tokens_per_second: 20 } }));
    l.record(row({ model: 'b', tokens: { input_tokens: 1, output_tokens: 1, cache_tokens: 6, tokens_per_second: 0 } }));
    const all = l.stats('');
    expect(all).toMatchObject({ total_requests: 3, total_input_tokens: 16, total_output_tokens: 6, total_cache_tokens: 10 });
    expect(all.prompt_histogram).toEqual({ bins: [1], min: 100, max: 100, binSize: 0, p50: 100, p95: 100, p99: 100 });
    expect(all.gen_histogram).toMatchObject({ min: 10, max: 20, binSize: 2, bins: [1, 0, 0, 0, 1], p50: 15 });
    expect(l.stats('b')).toMatchObject({ total_requests: 1, prompt_histogram: null, gen_histogram: null });
  });
});

describe('histograms', () => {
  it('Sturges: ceil(log2 n) + 1 bins, at least 5 and at most 20; the maximum in the last bin', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    const h = histogram(values)!;
    expect(h.bins).toHaveLength(8); // ceil(log2 100) + 1
    expect(h.bins.reduce((a, b) => a + b, 0)).toBe(100);
    expect(h.binSize).toBeCloseTo(99 / 8);
    expect(histogram(Array.from({ length: 2_000_000 }, (_, i) => i))!.bins).toHaveLength(20);
    expect(histogram([])).toBeNull();
  });

  it('percentiles interpolate linearly between ranks', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([10, 20], 95)).toBeCloseTo(19.5);
    expect(percentile([7], 99)).toBe(7);
    const h = histogram([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])!;
    expect(h.p50).toBe(5.5);
    expect(h.p95).toBeCloseTo(9.55);
    expect(h.p99).toBeCloseTo(9.91);
  });
});

describe('captures', () => {
  const capture = (id: number, bytes: number): Capture => ({
    id,
    req_path: '/x',
    req_headers: null,
    req_body: Buffer.alloc(bytes),
    resp_headers: null,
    resp_body: null,
  });

  it('FIFO by bytes: the oldest leave to make room; one larger than the whole cache is not kept', () => {
    const cache = new CaptureCache(() => 100);
    expect(cache.add(capture(1, 38))).toBe(true);
    expect(cache.add(capture(2, 38))).toBe(true);
    expect(cache.add(capture(3, 38))).toBe(true); // 3 x 40 > 100: 1 goes
    expect([cache.has(1), cache.has(2), cache.has(3)]).toEqual([false, true, true]);
    expect(cache.add(capture(4, 200))).toBe(false);
    expect(cache.has(2) && cache.has(3)).toBe(true);
    expect(cache.size).toBeLessThanOrEqual(100);
  });

  it('off at 0 bytes; has_capture follows the cache when rows are listed', () => {
    expect(new CaptureCache(() => 0).add(capture(1, 1))).toBe(false);
    const l = new ActivityLog(() => ({ maxInMemory: 10, captureBytes: 100 }));
    const first = l.record(row(), (id) => capture(id, 60));
    expect(first.has_capture).toBe(true);
    l.record(row(), (id) => capture(id, 60)); // evicts the first capture
    expect(l.list(query('order=asc')).data.map((e) => e.has_capture)).toEqual([false, true]);
  });

  it("route masks: image and audio routes keep less, others everything", () => {
    expect(captureFieldsFor('/v1/chat/completions')).toBe(15);
    expect(captureFieldsFor('/v1/audio/speech')).toBe(1 | 2 | 4);
    expect(captureFieldsFor('/v1/images/edits')).toBe(1 | 4);
    expect(captureFieldsFor('/v1/audio/transcriptions')).toBe(1 | 4 | 8);
  });
});
