/**
 * `GET /metrics` against real model processes (demo upstreams): a scripted sequence of
 * swaps, a TTL unload, an API unload, a crash and a failed start, after which every
 * lifecycle and request counter says exactly what happened. Also: auth, content type, the
 * access log, and llama-swap's system gauges.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chat, demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';
import { parseExposition, sum, value } from '../helpers/prom-text.ts';
import { freeStartPort, until } from './helpers.ts';

let srv: RunningServer | null = null;
let dir = '';

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'swapstate-metrics-'));
});

afterEach(async () => {
  await srv?.stop();
  srv = null;
  rmSync(dir, { recursive: true, force: true });
});

const KEY = 'metrics-key';
const auth = { authorization: `Bearer ${KEY}` };

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`, { headers: auth });
  expect(res.status).toBe(200);
  return res.text();
}

const CHAT = '/v1/chat/completions';

describe('/metrics', () => {
  it('counts swaps, a TTL unload, an API unload, a crash and a failed start exactly', async () => {
    const crashFaults = join(dir, 'c.json');
    const failFaults = join(dir, 'f.json');
    writeFileSync(failFaults, '{"crash": true}');
    srv = await startServer(`apiKeys: [${KEY}]
groups:
  ab: {swap: true, exclusive: false, members: [a, b]}
  t: {exclusive: false, members: [t]}
  u: {exclusive: false, members: [u]}
  c: {exclusive: false, members: [c]}
  f: {exclusive: false, members: [f]}
models:
${demoModel('a')}${demoModel('b')}${demoModel('t', 'ttl: 1')}${demoModel('u')}${demoModel('c', '', `--faults ${crashFaults}`)}${demoModel('f', '', `--faults ${failFaults}`)}`);
    const { url } = srv;
    const ok = async (model: string) => {
      const res = await chat(url, model, {}, { headers: auth });
      expect(res.status, model).toBe(200);
      await res.arrayBuffer();
    };

    await ok('a');
    await ok('b'); // same swap group: a is evicted
    await ok('t');
    await until(async () => value(await scrape(url), 'swapstate_model_stops_total', { model: 't' }) === 1, 't unloaded by its TTL', 15_000);
    await ok('u');
    const unload = await fetch(`${url}/api/models/unload/u`, { method: 'POST', headers: auth });
    expect(await unload.text()).toBe('OK');
    await ok('c');
    writeFileSync(crashFaults, '{"crash": true}');
    await until(async () => value(await scrape(url), 'swapstate_model_stops_total', { model: 'c' }) === 1, 'c crashed', 15_000);
    const failed = await chat(url, 'f', {}, { headers: auth });
    expect(failed.status).toBeGreaterThanOrEqual(500);
    await failed.arrayBuffer();
    const unknown = await chat(url, 'nobody', {}, { headers: auth });
    expect(unknown.status).toBe(404);
    await unknown.arrayBuffer();

    const m = parseExposition(await scrape(url));
    // Starts: five became ready, f failed; none aborted.
    for (const model of ['a', 'b', 't', 'u', 'c']) {
      expect(value(m, 'swapstate_model_starts_total', { model, outcome: 'ok' }), model).toBe(1);
      expect(value(m, 'swapstate_model_load_seconds_count', { model }), model).toBe(1);
    }
    expect(value(m, 'swapstate_model_starts_total', { model: 'f', outcome: 'failed' })).toBe(1);
    expect(sum(m, 'swapstate_model_starts_total')).toBe(6);
    expect(value(m, 'swapstate_model_load_seconds_count', { model: 'f' })).toBe(0);
    // Stops, each with its reason; b is still loaded, f never was.
    expect(value(m, 'swapstate_model_stops_total', { model: 'a', reason: 'swap' })).toBe(1);
    expect(value(m, 'swapstate_model_stops_total', { model: 't', reason: 'ttl' })).toBe(1);
    expect(value(m, 'swapstate_model_stops_total', { model: 'u', reason: 'unload' })).toBe(1);
    expect(value(m, 'swapstate_model_stops_total', { model: 'c', reason: 'crash' })).toBe(1);
    expect(sum(m, 'swapstate_model_stops_total')).toBe(4);
    // Requests by model, route and status; the unknown model never reached the scheduler.
    for (const model of ['a', 'b', 't', 'u', 'c']) {
      expect(value(m, 'swapstate_requests_total', { model, route: CHAT, status: '200' }), model).toBe(1);
      expect(value(m, 'swapstate_request_ttfb_seconds_count', { model }), model).toBe(1);
      expect(value(m, 'swapstate_queue_wait_seconds_count', { model }), model).toBe(1);
      expect(value(m, 'swapstate_request_duration_seconds_count', { model }), model).toBe(1);
      // Tokens come from the activity rows, which read the demo upstream's `usage`.
      expect(value(m, 'swapstate_tokens_total', { model, type: 'input' }), model).toBeGreaterThan(0);
      expect(value(m, 'swapstate_tokens_total', { model, type: 'output' }), model).toBeGreaterThan(0);
    }
    expect(m.some((s) => s.name === 'swapstate_tokens_total' && s.labels['model'] === 'f')).toBe(false);
    expect(value(m, 'swapstate_requests_total', { model: 'f', route: CHAT, status: String(failed.status) })).toBe(1);
    expect(value(m, 'swapstate_request_duration_seconds_count', { model: 'f' })).toBe(1);
    expect(value(m, 'swapstate_request_ttfb_seconds_count', { model: 'f' })).toBe(0); // never granted
    expect(sum(m, 'swapstate_requests_total')).toBe(6);
    expect(m.some((s) => s.labels['model'] === 'nobody')).toBe(false);
    expect(sum(m, 'swapstate_requests_in_flight')).toBe(0);
    expect(sum(m, 'swapstate_queue_depth')).toBe(0);
    // A load takes time, and its request waited for it.
    expect(value(m, 'swapstate_model_load_seconds_sum', { model: 'a' })).toBeGreaterThan(0);
    expect(value(m, 'swapstate_queue_wait_seconds_sum', { model: 'a' })).toBeGreaterThanOrEqual(value(m, 'swapstate_model_load_seconds_sum', { model: 'a' }) * 0.5);

    // Shutdown stops b, the one model still loaded.
    const server = srv.server;
    await srv.stop();
    srv = null;
    const after = parseExposition((await server.metrics.exposition()).body);
    expect(value(after, 'swapstate_model_stops_total', { model: 'b', reason: 'shutdown' })).toBe(1);
    expect(sum(after, 'swapstate_model_stops_total')).toBe(5);
  }, 60_000);

  it('asks for the API key, answers in the Prometheus text format, and is not in the access log', async () => {
    srv = await startServer(`apiKeys: [${KEY}]\nmodels:\n${demoModel('a')}`);
    const refused = await fetch(`${srv.url}/metrics`);
    expect(refused.status).toBe(401);
    await refused.arrayBuffer();
    const res = await fetch(`${srv.url}/metrics`, { headers: auth });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const m = parseExposition(await res.text());
    // llama-swap's system gauges, with its names and labels.
    expect(value(m, 'llamaswap_memory_total_bytes')).toBeGreaterThan(0);
    expect(value(m, 'llamaswap_load_average', { interval: '1m' })).toBeGreaterThanOrEqual(0);
    expect(m.filter((s) => s.name === 'llamaswap_cpu_util_percent').length).toBeGreaterThan(0);
    expect(value(m, 'llamaswap_network_bytes_total', { interface: 'lo', direction: 'recv' })).toBeGreaterThan(0);
    // Lifecycle gauges for every configured model, before anything ran.
    expect(m.find((s) => s.name === 'swapstate_model_backoff' && s.labels['model'] === 'a')?.value).toBe(0);
    await (await fetch(`${srv.url}/running`, { headers: { ...auth, 'user-agent': 'marker/1' } })).arrayBuffer();
    await until(() => srv!.logs.proxy.history().includes('marker/1'), 'the marker line');
    expect(srv.logs.proxy.history()).not.toContain('/metrics');
  });

  it('performance.disabled: no system gauges, the lifecycle metrics still served', async () => {
    srv = await startServer(`performance: {disabled: true}\nmodels:\n${demoModel('a')}`);
    const text = await (await fetch(`${srv.url}/metrics`)).text();
    expect(text).not.toContain('llamaswap_');
    expect(text).toContain('# TYPE swapstate_model_starts_total counter');
  });

  it('a reload keeps every counter; the models it stops count as reload', async () => {
    const path = join(dir, 'config.yaml');
    // A changed command line: a reload keeps an unchanged model (and applies a new ttl live),
    // but must replace this one, stopping its process.
    const config = (delay: number) => `startPort: ${port}\nmodels:\n${demoModel('a', '', `--load-delay ${delay}`)}`;
    const port = await freeStartPort();
    writeFileSync(path, config(0));
    srv = await startServer(config(0), { configPath: path });
    const ok = async () => {
      const res = await chat(srv!.url, 'a');
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    };
    await ok();
    writeFileSync(path, config(1));
    expect(await srv.server.reload()).toBe(true);
    await ok();
    const m = parseExposition((await srv.server.metrics.exposition()).body);
    expect(value(m, 'swapstate_model_stops_total', { model: 'a', reason: 'reload' }), JSON.stringify(m.filter((s) => s.name.startsWith('swapstate_model_st')))).toBe(1);
    expect(value(m, 'swapstate_model_starts_total', { model: 'a', outcome: 'ok' })).toBe(2);
    expect(value(m, 'swapstate_requests_total', { model: 'a', status: '200' })).toBe(2);
  });
});
