/**
 * The whole `/metrics` exposition, every metric with samples, passes `promtool check metrics`
 * (Prometheus's own linter: names, types, units, label syntax). Skipped, with a warning, when
 * promtool is missing (Debian: apt-get install prometheus; .ci/run installs it).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PERFORMANCE } from '../../src/config/performance.ts';
import { SwapstateMetrics, type MetricsState } from '../../src/observability/metrics.ts';
import { ModelLifecycle } from '../../src/runtime/model-lifecycle.ts';
import { parseExposition, value } from '../helpers/prom-text.ts';

function findPromtool(): string | null {
  try {
    return execFileSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}
const PROMTOOL = findPromtool();
if (!PROMTOOL) console.warn('test/observability/metrics-exposition.test.ts: promtool checks skipped, promtool not found (apt-get install prometheus)');

/** A state with two models, `b` backing off and one request of `a` queued. */
function fakeState(lifecycle: ModelLifecycle): MetricsState {
  return {
    config: { models: { a: {} as never, b: {} as never }, performance: DEFAULT_PERFORMANCE },
    runtime: {
      lifecycle,
      process: (model) => ({ backoff: model === 'b' ? { error: 'exit 1', retryAfterMs: 4000 } : null }),
      queued: (model) => (model === 'a' ? 1 : 0),
    },
  };
}

/** An exposition with a sample in every metric: the real system reader, a start, a stop, requests and tokens. */
async function fullExposition(): Promise<string> {
  const lifecycle = new ModelLifecycle();
  const metrics = new SwapstateMetrics(() => state);
  const state = fakeState(lifecycle);
  metrics.follow(state);
  const snap = (value: unknown, starts: number) => ({ value, context: { starts, crashes: 0 }, hasTag: () => false, can: () => true }) as never;
  lifecycle.observe('a', snap({ running: { starting: 'probing' } }, 1));
  lifecycle.observe('a', snap({ running: { ready: 'idle' } }, 1));
  lifecycle.stopping('a', 'ttl');
  lifecycle.observe('a', snap('stopped', 1));
  const r = metrics.beginRequest('a', '/v1/chat/completions', 0);
  r.granted(100);
  r.end(200, 150, 400);
  metrics.beginRequest('a', '/v1/chat/completions', 0).end(499, 0, 5);
  metrics.observeTokens('a', 12, 34);
  const { body } = await metrics.exposition();
  metrics.close();
  return body;
}

describe('the /metrics exposition', () => {
  it('has a sample in every swapstate metric, and the values fed in', async () => {
    const m = parseExposition(await fullExposition());
    expect(value(m, 'swapstate_model_starts_total', { model: 'a', outcome: 'ok' })).toBe(1);
    expect(value(m, 'swapstate_model_stops_total', { model: 'a', reason: 'ttl' })).toBe(1);
    expect(value(m, 'swapstate_model_backoff', { model: 'b' })).toBe(1);
    expect(value(m, 'swapstate_model_backoff_seconds', { model: 'b' })).toBe(4);
    expect(value(m, 'swapstate_model_backoff', { model: 'a' })).toBe(0);
    expect(value(m, 'swapstate_queue_depth', { model: 'a' })).toBe(1);
    expect(value(m, 'swapstate_requests_total', { model: 'a', route: '/v1/chat/completions', status: '200' })).toBe(1);
    expect(value(m, 'swapstate_requests_total', { model: 'a', route: '/v1/chat/completions', status: '499' })).toBe(1);
    expect(value(m, 'swapstate_queue_wait_seconds_sum', { model: 'a' })).toBeCloseTo(0.1);
    expect(value(m, 'swapstate_request_ttfb_seconds_sum', { model: 'a' })).toBeCloseTo(0.15);
    expect(value(m, 'swapstate_request_ttfb_seconds_count', { model: 'a' })).toBe(1);
    expect(value(m, 'swapstate_request_duration_seconds_count', { model: 'a' })).toBe(2);
    expect(value(m, 'swapstate_requests_in_flight', { model: 'a' })).toBe(0);
    expect(value(m, 'swapstate_tokens_total', { model: 'a', type: 'input' })).toBe(12);
    expect(value(m, 'swapstate_tokens_total', { model: 'a', type: 'output' })).toBe(34);
    const names = new Set(m.map((s) => s.name.replace(/_(bucket|sum|count)$/, '')));
    for (const name of ['swapstate_model_load_seconds', 'llamaswap_cpu_util_percent', 'llamaswap_memory_used_bytes', 'llamaswap_load_average']) {
      expect(names, name).toContain(name);
    }
  });

  it.skipIf(!PROMTOOL)('passes promtool check metrics', async () => {
    const text = await fullExposition();
    const run = spawnSync(PROMTOOL!, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${run.stdout}${run.stderr}`.trim()).toBe('');
    expect(run.status).toBe(0);
  });
});
