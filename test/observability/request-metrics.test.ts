/** RequestMetrics: what one request adds, with an injected clock; tokens fed directly (the activity parser's hook). */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RequestMetrics } from '../../src/observability/request-metrics.ts';
import { parseExposition, sum, value } from '../helpers/prom-text.ts';

async function samples(registry: Registry) {
  return parseExposition(await registry.metrics());
}

describe('RequestMetrics', () => {
  it('a served request: queue wait to its grant, TTFB to its first byte, duration to its end, in flight in between', async () => {
    const registry = new Registry();
    const metrics = new RequestMetrics(registry);
    const r = metrics.begin('m', '/v1/embeddings', 1000);
    r.granted(1250);
    expect(value(await samples(registry), 'swapstate_requests_in_flight', { model: 'm' })).toBe(1);
    r.end(200, 1300, 3000);
    const m = await samples(registry);
    expect(value(m, 'swapstate_requests_in_flight', { model: 'm' })).toBe(0);
    expect(value(m, 'swapstate_queue_wait_seconds_sum', { model: 'm' })).toBeCloseTo(0.25);
    expect(value(m, 'swapstate_request_ttfb_seconds_sum', { model: 'm' })).toBeCloseTo(0.3);
    expect(value(m, 'swapstate_request_duration_seconds_sum', { model: 'm' })).toBeCloseTo(2);
    expect(value(m, 'swapstate_request_duration_seconds_bucket', { model: 'm', le: '2.5' })).toBe(1);
    expect(value(m, 'swapstate_request_duration_seconds_bucket', { model: 'm', le: '1' })).toBe(0);
    expect(value(m, 'swapstate_requests_total', { model: 'm', route: '/v1/embeddings', status: '200' })).toBe(1);
  });

  it('a refused request: counted and timed, never in flight, no TTFB nor queue wait; a second end is ignored', async () => {
    const registry = new Registry();
    const metrics = new RequestMetrics(registry);
    const r = metrics.begin('m', '/v1/chat/completions', 0);
    r.end(503, 10, 20);
    r.end(503, 10, 20);
    r.granted(30); // too late: the request has ended
    const m = await samples(registry);
    expect(value(m, 'swapstate_requests_total', { model: 'm', route: '/v1/chat/completions', status: '503' })).toBe(1);
    expect(value(m, 'swapstate_request_duration_seconds_count', { model: 'm' })).toBe(1);
    expect(value(m, 'swapstate_request_ttfb_seconds_count', { model: 'm' })).toBe(0);
    expect(value(m, 'swapstate_queue_wait_seconds_count', { model: 'm' })).toBe(0);
    expect(value(m, 'swapstate_requests_in_flight', { model: 'm' })).toBe(0);
  });

  it('statuses and routes are separate series of one model', async () => {
    const registry = new Registry();
    const metrics = new RequestMetrics(registry);
    for (const [route, status] of [['/a', 200], ['/a', 200], ['/a', 499], ['/b', 200]] as const) metrics.begin('m', route, 0).end(status, 0, 1);
    const m = await samples(registry);
    expect(value(m, 'swapstate_requests_total', { route: '/a', status: '200' })).toBe(2);
    expect(value(m, 'swapstate_requests_total', { route: '/a', status: '499' })).toBe(1);
    expect(value(m, 'swapstate_requests_total', { route: '/b', status: '200' })).toBe(1);
  });

  it('observeTokens adds input and output tokens per model; nothing for negatives (unknown)', async () => {
    const registry = new Registry();
    const metrics = new RequestMetrics(registry);
    metrics.observeTokens('m', 10, 20);
    metrics.observeTokens('m', 5, -1);
    metrics.observeTokens('n', 0, 7);
    const m = await samples(registry);
    expect(value(m, 'swapstate_tokens_total', { model: 'm', type: 'input' })).toBe(15);
    expect(value(m, 'swapstate_tokens_total', { model: 'm', type: 'output' })).toBe(20);
    expect(value(m, 'swapstate_tokens_total', { model: 'n', type: 'output' })).toBe(7);
    expect(sum(m, 'swapstate_tokens_total')).toBe(42);
  });
});
