/**
 * `performance` (reference 2.2): llama-swap's system monitor, which feeds `/metrics`.
 *
 * - `disabled` (default false): no system sampling. llama-swap then answers `/metrics` with
 *   503; swapstate still serves its own lifecycle metrics there and drops only the system
 *   gauges (README, Differences).
 * - `every`: a Go duration (`5s`, `1m30s`), the sampling interval; 0 or absent means 5s, and
 *   anything shorter than 5s fails the load with llama-swap's words.
 */
import type { Field } from './field.ts';
import { block, boolean, type JsonSchema } from './schema-shapes.ts';

export interface PerformanceConfig {
  disabled: boolean;
  /** Sampling interval of the system gauges, in ms (at least 5000). */
  everyMs: number;
}

export const DEFAULT_PERFORMANCE_EVERY_MS = 5_000;
const MIN_EVERY_MS = 5_000;

export const DEFAULT_PERFORMANCE: PerformanceConfig = { disabled: false, everyMs: DEFAULT_PERFORMANCE_EVERY_MS };

/** `performance` in config-schema.json. */
export const PERFORMANCE_SCHEMA: JsonSchema = block('The system monitor behind /metrics.', {
  disabled: boolean('Sample no system statistics: /metrics then serves only swapstate\'s lifecycle metrics.', { default: false }),
  every: {
    description: 'Sampling interval, a Go duration (5s, 1m); at least 5s; 0 means 5s.',
    default: '5s',
    type: ['string', 'integer', 'null'],
  },
});

const UNIT_NS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3,
  'μs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/**
 * Go's `time.ParseDuration`, in ms: a sign, then decimal numbers each with a unit
 * (`1h30m`, `1.5s`, `300ms`); `0` alone needs none. Null when the text is not one.
 *
 * @example parseGoDuration('1m30s') // 90000
 */
export function parseGoDuration(text: string): number | null {
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return null;
  let ns = 0;
  const part = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (s.length > 0) {
    const m = part.exec(s);
    if (!m) return null;
    ns += Number(m[1]) * UNIT_NS[m[2]!]!;
    s = s.slice(m[0].length);
  }
  return (sign * ns) / 1e6;
}

/** Go's `Duration.String()` for whole-ish ms values, for the error message (`4s`, `1.5s`, `500ms`). */
function goDurationText(ms: number): string {
  if (ms === 0) return '0s';
  if (Math.abs(ms) < 1000) return `${+ms.toFixed(6)}ms`;
  return `${+(ms / 1000).toFixed(9)}s`;
}

/**
 * @throws ConfigError `performance.every: invalid duration "x"`, or llama-swap's
 *   `performance: every must be at least 5s, got 2s`.
 */
export function decodePerformance(field: Field): PerformanceConfig {
  const perf = field.keys(['disabled', 'every']);
  const disabled = perf.get('disabled').bool(false);
  const every = perf.get('every');
  if (!every.isSet) return { disabled, everyMs: DEFAULT_PERFORMANCE_EVERY_MS };
  // Go's YAML decoder takes a bare integer as nanoseconds.
  const ms = typeof every.value === 'number' ? every.int(0) / 1e6 : parseGoDuration(every.string());
  if (ms === null) return every.fail(`${every.name}: invalid duration ${JSON.stringify(every.value)}`);
  if (ms === 0) return { disabled, everyMs: DEFAULT_PERFORMANCE_EVERY_MS };
  if (ms < MIN_EVERY_MS) every.fail(`performance: every must be at least 5s, got ${goDurationText(ms)}`);
  return { disabled, everyMs: ms };
}
