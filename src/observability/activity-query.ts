/**
 * The query of `GET /api/metrics/activity` (reference 7.3), read and checked as llama-swap
 * does, with its 400 messages: `model` (repeatable, exact), `start`/`end` (RFC 3339,
 * inclusive), `min_id`/`max_id`, `limit` (1-999, default 25), `page` (default 1), `sort`
 * and `order` (default `id` `desc`). Pure.
 */

export const SORT_KEYS = [
  'id',
  'time',
  'model',
  'req_path',
  'resp_status_code',
  'resp_content_type',
  'cached',
  'prompt',
  'generated',
  'drafted',
  'prompt_speed',
  'gen_speed',
  'duration',
] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface ActivityQuery {
  /** Exact model names; empty: every model. */
  models: string[];
  /** Unix seconds, inclusive; null: unbounded (the store keeps seconds, as llama-swap's SQLite table). */
  start: number | null;
  end: number | null;
  /** Inclusive; 0: unbounded. */
  minId: number;
  maxId: number;
  limit: number;
  page: number;
  sort: SortKey;
  order: 'asc' | 'desc';
}

export const DEFAULT_LIMIT = 25;

/** Go's time.RFC3339 layout as time.Parse accepts it: fractional seconds optional, `Z` or an offset. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Go's strconv.Atoi: an optional sign and decimal digits, nothing else. */
function atoi(raw: string): number | null {
  if (!/^[+-]?\d+$/.test(raw)) return null;
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : null;
}

/** The first value of `name`, trimmed ('' when absent). */
const first = (q: URLSearchParams, name: string): string => (q.get(name) ?? '').trim();

function time(q: URLSearchParams, name: string): number | null | Error {
  const raw = first(q, name);
  if (raw === '') return null;
  const ms = RFC3339.test(raw) ? Date.parse(raw) : NaN;
  if (Number.isNaN(ms)) return new Error(`invalid '${name}' timestamp, use RFC3339 format`);
  return Math.floor(ms / 1000);
}

function rowId(q: URLSearchParams, name: string): number | Error {
  const raw = first(q, name);
  if (raw === '') return 0;
  const id = atoi(raw);
  return id === null || id < 1 ? new Error(`${name} must be >= 1`) : id;
}

/** The query, or the message of the 400 it gets. */
export function parseActivityQuery(q: URLSearchParams): ActivityQuery | Error {
  const models = q
    .getAll('model')
    .map((m) => m.trim())
    .filter((m) => m !== '');
  const start = time(q, 'start');
  if (start instanceof Error) return start;
  const end = time(q, 'end');
  if (end instanceof Error) return end;
  if (start !== null && end !== null && start > end) return new Error('start must be before end');
  const minId = rowId(q, 'min_id');
  if (minId instanceof Error) return minId;
  const maxId = rowId(q, 'max_id');
  if (maxId instanceof Error) return maxId;
  if (minId > 0 && maxId > 0 && minId > maxId) return new Error('min_id must be <= max_id');

  let limit = DEFAULT_LIMIT;
  const rawLimit = first(q, 'limit');
  if (rawLimit !== '') {
    const n = atoi(rawLimit);
    if (n === null) return new Error('invalid limit');
    if (n < 1 || n > 999) return new Error('limit must be between 1 and 999');
    limit = n;
  }
  let page = 1;
  const rawPage = first(q, 'page');
  if (rawPage !== '') {
    const n = atoi(rawPage);
    if (n === null || n < 1) return new Error('page must be >= 1');
    page = n;
  }
  let sort: SortKey = 'id';
  const rawSort = first(q, 'sort');
  if (rawSort !== '') {
    if (!(SORT_KEYS as readonly string[]).includes(rawSort)) return new Error('invalid sort column');
    sort = rawSort as SortKey;
  }
  let order: 'asc' | 'desc' = 'desc';
  const rawOrder = first(q, 'order').toLowerCase();
  if (rawOrder !== '') {
    if (rawOrder !== 'asc' && rawOrder !== 'desc') return new Error('order must be asc or desc');
    order = rawOrder;
  }
  return { models, start, end, minId, maxId, limit, page, sort, order };
}
