import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, resolveModel } from '../../src/config/load.ts';
import { parseEnv, processConfigFor, schedulerInputFor } from '../../src/runtime/scheduler-input.ts';
import { load, yaml } from '../config/helpers.ts';

const CONFIG = yaml`
  healthCheckTimeout: 30
  healthCheckInterval: 50
  models:
    a:
      cmd: server --port \${PORT}
      cmdStop: kill \${PID}
      env: ["A=1", "B=x=y", "A=2", "NOEQUALS"]
      ttl: 60
      unloadTimeout: 3
      concurrencyLimit: 4
      aliases: [alpha]
    b:
      proxy: http://127.0.0.1:9000
      checkEndpoint: none
  routing:
    scheduler:
      settings:
        fifo:
          priority: {alpha: 7}
`;

describe('processConfigFor / schedulerInputFor / resolveModel', () => {
  const cfg = load(CONFIG);

  it('builds a ProcessConfig with milliseconds and parsed env', () => {
    expect(processConfigFor(cfg, 'a')).toEqual({
      model: 'a',
      cmd: 'server --port 5800',
      cmdStop: 'kill ${PID}',
      env: { A: '2', B: 'x=y' },
      proxy: 'http://localhost:5800',
      checkEndpoint: '/health',
      healthCheckTimeoutMs: 30_000,
      healthCheckIntervalMs: 50,
      ttlMs: 60_000,
      unloadGraceMs: 3_000,
    });
    expect(processConfigFor(cfg, 'b')).toMatchObject({ cmdStop: undefined, checkEndpoint: 'none', ttlMs: 0, unloadGraceMs: 10_000 });
  });

  it('carries sleep mode into the ProcessConfig only when enabled, timeouts in ms', () => {
    const sleepy = load(`sleepRequestTimeout: 7
models:
  v:
    cmd: server --port \${PORT}
    sleepMode: enable
    sleepEndpoints:
      - endpoint: /sleep?level=1
    wakeEndpoints:
      - endpoint: /wake_up
        timeout: 30
      - endpoint: /collective_rpc
        method: post
        body: '{"method": "reload_weights", "model": "\${MODEL_ID}"}'
  off:
    cmd: server --port \${PORT}
    sleepMode: disable
    sleepEndpoints: [{ endpoint: /sleep }]
    wakeEndpoints: [{ endpoint: /wake_up }]
`);
    expect(processConfigFor(sleepy, 'v').sleepMode).toEqual({
      sleep: [{ endpoint: '/sleep?level=1', method: 'POST', body: '', timeoutMs: 7_000 }],
      wake: [
        { endpoint: '/wake_up', method: 'POST', body: '', timeoutMs: 30_000 },
        { endpoint: '/collective_rpc', method: 'POST', body: '{"method": "reload_weights", "model": "v"}', timeoutMs: 10_000 },
      ],
    });
    expect(processConfigFor(sleepy, 'off').sleepMode).toBeUndefined();
  });

  it('throws for an unknown model id', () => {
    expect(() => processConfigFor(cfg, 'alpha')).toThrow('no model config for "alpha"');
  });

  it('builds the scheduler input with limits, priorities and the eviction grace', () => {
    const input = schedulerInputFor(cfg);
    expect(Object.keys(input.models)).toEqual(['a', 'b']);
    expect(input.models.a).toMatchObject({ concurrencyLimit: 4, priority: 7 });
    expect(input.models.b).toMatchObject({ concurrencyLimit: 10, priority: undefined });
    expect(input.groups).toEqual({});
    expect(input.evictGraceMs).toBe(30_000);
  });

  it('passes configured groups through without (default)', () => {
    const grouped = load(CONFIG + 'groups:\n  g: {members: [a]}\n');
    expect(schedulerInputFor(grouped).groups).toEqual({ g: { swap: true, exclusive: true, persistent: false, members: ['a'] } });
  });

  it('resolves a model id first, then an alias', () => {
    const shadow = load('models:\n  a: {proxy: "http://h:1", aliases: [b]}\n  b: {proxy: "http://h:2"}\n');
    expect(resolveModel(shadow, 'b')).toBe('b');
    expect(resolveModel(shadow, 'a')).toBe('a');
    expect(resolveModel(cfg, 'alpha')).toBe('a');
    expect(resolveModel(cfg, 'nope')).toBeNull();
    expect(resolveModel(cfg, 'constructor')).toBeNull();
  });

  it('parseEnv: later entries win, entries without a name are skipped', () => {
    expect(parseEnv(['X=1', '=bad', 'X=3', 'Y='])).toEqual({ X: '3', Y: '' });
  });
});

describe('loadConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swapstate-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a file and uses its path in locations', () => {
    const path = join(dir, 'config.yaml');
    writeFileSync(path, 'models:\n  m:\n    proxy: http://h:1\n    oops: 1\n');
    expect(loadConfigFile(path).warnings).toEqual([`${path}:4: unknown key "models.m.oops" ignored`]);
    writeFileSync(path, 'globalTTL: -1\n');
    expect(() => loadConfigFile(path)).toThrow(`${path}:1: globalTTL must be >= 0`);
  });

  it('reports an unreadable file as a ConfigError', () => {
    expect(() => loadConfigFile(join(dir, 'missing.yaml'))).toThrow(ConfigError);
  });
});
