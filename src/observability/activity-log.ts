/**
 * The activity store (reference 7.3): one row per metered request, newest `metricsMaxInMemory`
 * kept (default 1000), with llama-swap's paging, sorting and statistics over them, and the
 * capture cache beside it (capture-cache.ts). One per server for its whole life, like the
 * in-flight tracker: a reload changes its bounds, not its rows.
 *
 * llama-swap keeps the rows in SQLite (in memory unless `store.path` names a file); swapstate
 * keeps them in an array, and has no file store (`store` warns as not supported).
 *
 * Rows are told to listeners as they are added ({@link ActivityLog.onRecord}): `/api/events`
 * sends `activity` `{id}`, and counters (Prometheus) can add up tokens from them.
 */
import type { ActivityQuery, SortKey } from './activity-query.ts';
import { CaptureCache, type Capture } from './capture-cache.ts';
import { histogram, type Histogram } from './histogram.ts';
import type { TokenMetrics } from './usage-parse.ts';

/** One row, as llama-swap's JSON has it. */
export interface ActivityEntry {
  id: number;
  /** RFC 3339. */
  timestamp: string;
  /** The real model id, or the peer model's `peer/model`, or (unknown model) the name asked for. */
  model: string;
  req_path: string;
  resp_content_type: string;
  resp_status_code: number;
  tokens: TokenMetrics;
  duration_ms: number;
  has_capture: boolean;
  error_msg?: string;
  metadata?: Record<string, string>;
}

/** A row to add: all but its id (and has_capture, which the capture cache decides). */
export type NewActivity = Omit<ActivityEntry, 'id' | 'has_capture'>;

export interface ActivityPage {
  data: ActivityEntry[];
  page: number;
  limit: number;
  total: number;
  total_pages: number;
}

export interface ActivityStats {
  total_requests: number;
  total_input_tokens: number;
  total_output_tokens: number;
  total_cache_tokens: number;
  prompt_histogram: Histogram | null;
  gen_histogram: Histogram | null;
}

export type ActivityListener = (entry: ActivityEntry) => void;

/** llama-swap's default row bound, also for a bound of 0 or less. */
export const DEFAULT_MAX_IN_MEMORY = 1000;

interface Row {
  entry: ActivityEntry;
  /** Unix seconds of `timestamp`, what start/end compare against. */
  seconds: number;
}

const compareBy: Record<SortKey, (a: ActivityEntry, b: ActivityEntry) => number> = {
  id: (a, b) => a.id - b.id,
  time: (a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp),
  model: (a, b) => text(a.model, b.model),
  req_path: (a, b) => text(a.req_path, b.req_path),
  resp_status_code: (a, b) => a.resp_status_code - b.resp_status_code,
  resp_content_type: (a, b) => text(a.resp_content_type, b.resp_content_type),
  cached: (a, b) => a.tokens.cache_tokens - b.tokens.cache_tokens,
  prompt: (a, b) => a.tokens.input_tokens - b.tokens.input_tokens,
  generated: (a, b) => a.tokens.output_tokens - b.tokens.output_tokens,
  drafted: (a, b) => a.tokens.draft_tokens - b.tokens.draft_tokens,
  prompt_speed: (a, b) => a.tokens.prompt_per_second - b.tokens.prompt_per_second,
  gen_speed: (a, b) => a.tokens.tokens_per_second - b.tokens.tokens_per_second,
  duration: (a, b) => a.duration_ms - b.duration_ms,
};

/**
 * Unix seconds of an RFC 3339 time. A row's time is nearly always this second's: one
 * `Date.parse` per second, not per request.
 */
let lastSecond = '';
let lastSeconds = 0;
function unixSeconds(timestamp: string): number {
  // `toISOString()`'s "2026-12-03T22:00:24.123Z": its first 19 characters name the second.
  const utc = timestamp.length === 24 && timestamp.charCodeAt(23) === 0x5a; // Z
  if (utc && lastSecond !== '' && timestamp.startsWith(lastSecond)) return lastSeconds;
  const seconds = Math.floor(Date.parse(timestamp) / 1000);
  if (utc) {
    lastSecond = timestamp.slice(0, 19);
    lastSeconds = seconds;
  }
  return seconds;
}

/** Byte order, as SQLite compares text. */
function text(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class ActivityLog {
  /** Oldest first; trimmed from the front. */
  private rows: Row[] = [];
  private nextId = 1;
  private readonly listeners = new Set<ActivityListener>();
  readonly captures: CaptureCache;

  /**
   * @param bounds read on every add, so a reloaded config's bounds apply at once:
   *   `maxInMemory` rows (<= 0: 1000) and `captureBytes` for the capture cache (0: none).
   */
  constructor(private readonly bounds: () => { maxInMemory: number; captureBytes: number }) {
    this.captures = new CaptureCache(() => this.bounds().captureBytes);
  }

  /** Bytes the capture cache holds at most (0: captures off). */
  captureLimit(): number {
    return Math.max(0, this.bounds().captureBytes);
  }

  /**
   * Adds a row and, when `capture` returns one for the row's id, its capture; then tells
   * listeners. Returns the row as stored.
   */
  record(row: NewActivity, capture?: (id: number) => Capture | null): ActivityEntry {
    // Built field by field in the JSON's order: a spread of `row` cost a dictionary-mode copy per request.
    const entry: ActivityEntry = {
      id: this.nextId++,
      timestamp: row.timestamp,
      model: row.model,
      req_path: row.req_path,
      resp_content_type: row.resp_content_type,
      resp_status_code: row.resp_status_code,
      tokens: row.tokens,
      duration_ms: row.duration_ms,
    } as ActivityEntry;
    // The optional fields in the order the row has them, then has_capture: the JSON is as before.
    if (row.metadata !== undefined || row.error_msg !== undefined) {
      for (const key in row) if (key === 'metadata' || key === 'error_msg') (entry as unknown as Record<string, unknown>)[key] = row[key];
    }
    entry.has_capture = false;
    const stored = capture?.(entry.id);
    if (stored) entry.has_capture = this.captures.add(stored);
    this.rows.push({ entry, seconds: unixSeconds(row.timestamp) });
    const max = this.bounds().maxInMemory;
    const keep = max > 0 ? max : DEFAULT_MAX_IN_MEMORY;
    // Trimmed in batches: splicing one row off a 1000-row array on every request would move them all.
    if (this.rows.length > keep + Math.max(16, keep >> 4)) this.rows.splice(0, this.rows.length - keep);
    for (const listener of this.listeners) {
      try {
        listener(entry);
      } catch {
        /* a listener's failure is its own */
      }
    }
    return entry;
  }

  /** Calls `listener` with every row added from now on; returns the unsubscribe. */
  onRecord(listener: ActivityListener): () => void {
    const entry: ActivityListener = (e) => listener(e);
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  /** The rows kept now (the newest `metricsMaxInMemory`), oldest first. */
  private kept(): Row[] {
    const max = this.bounds().maxInMemory;
    const keep = max > 0 ? max : DEFAULT_MAX_IN_MEMORY;
    return this.rows.length > keep ? this.rows.slice(this.rows.length - keep) : this.rows;
  }

  /** One page of the rows matching `q`, `has_capture` as the capture cache says now. */
  list(q: ActivityQuery): ActivityPage {
    const models = q.models.length > 0 ? new Set(q.models) : null;
    const matching = this.kept()
      .filter(
        (r) =>
          (models === null || models.has(r.entry.model)) &&
          (q.start === null || r.seconds >= q.start) &&
          (q.end === null || r.seconds <= q.end) &&
          (q.minId === 0 || r.entry.id >= q.minId) &&
          (q.maxId === 0 || r.entry.id <= q.maxId),
      )
      .map((r) => r.entry);
    const by = compareBy[q.sort];
    const sign = q.order === 'asc' ? 1 : -1;
    // Ties (and the id sort itself) by id, in the same direction.
    matching.sort((a, b) => sign * (by(a, b) || a.id - b.id));
    const from = (q.page - 1) * q.limit;
    const data = matching.slice(from, from + q.limit).map((e) => ({ ...e, has_capture: this.captures.has(e.id) }));
    return { data, page: q.page, limit: q.limit, total: matching.length, total_pages: matching.length === 0 ? 0 : Math.ceil(matching.length / q.limit) };
  }

  /** Totals and speed histograms over the rows kept, of one model when `model` is not ''. */
  stats(model: string): ActivityStats {
    const rows = this.kept().filter((r) => model === '' || r.entry.model === model);
    let input = 0;
    let output = 0;
    let cache = 0;
    const prompt: number[] = [];
    const gen: number[] = [];
    for (const { entry } of rows) {
      const t = entry.tokens;
      input += t.input_tokens;
      output += t.output_tokens;
      if (t.cache_tokens > 0) cache += t.cache_tokens;
      if (t.prompt_per_second > 0) prompt.push(t.prompt_per_second);
      if (t.tokens_per_second > 0) gen.push(t.tokens_per_second);
    }
    return {
      total_requests: rows.length,
      total_input_tokens: input,
      total_output_tokens: output,
      total_cache_tokens: cache,
      prompt_histogram: histogram(prompt),
      gen_histogram: histogram(gen),
    };
  }
}
