import { describe, expect, it } from 'vitest';
import { load, yaml } from './helpers.ts';

describe('defaults (reference 2.2, 2.12)', () => {
  it('an empty file is a valid config with every global default', () => {
    const cfg = load('');
    expect(cfg).toEqual({
      healthCheckTimeout: 120,
      healthCheckInterval: 50,
      logLevel: 'info',
      logTimeFormat: '',
      logToStdout: 'proxy',
      startPort: 5800,
      globalTTL: 0,
      unloadTimeout: 10,
      sleepRequestTimeout: 10,
      wakeRequestTimeout: 10,
      includeAliasesInList: false,
      sendLoadingState: false,
      // llama-swap's row bound; captures off (llama-swap: 5 MB).
      metricsMaxInMemory: 1000,
      captureBuffer: 0,
      apiKeys: [],
      maxRequestBodyBytes: 67108864,
      maxBufferedRequestBytes: 268435456,
      allowedHosts: [],
      allowedOrigins: [],
      trustProxy: false,
      abandonedLoadGraceMs: 2000,
      inspect: 'off',
      models: {},
      groups: {},
      router: 'group',
      matrix: null,
      peers: {},
      profiles: {},
      selectors: {},
      priority: {},
      preload: [],
      ignorePaths: ['.*\\.(js|json|css|png|gif|jpg|jpeg|ico|txt)$'],
      performance: { disabled: false, everyMs: 5000 },
      aliases: {},
      warnings: [],
    });
  });

  it('a config with models: {} (zero models) is valid', () => {
    expect(load('models: {}\n').models).toEqual({});
  });

  it('gives a model every per-model default', () => {
    const cfg = load('models:\n  m:\n    cmd: server --port ${PORT}\n');
    expect(cfg.models.m).toEqual({
      id: 'm',
      cmd: 'server --port 5800',
      cmdStop: '',
      proxy: 'http://localhost:5800',
      checkEndpoint: '/health',
      ttl: 0,
      unloadTimeout: 10,
      aliases: [],
      env: [],
      useModelName: '',
      unlisted: false,
      name: '',
      description: '',
      metadata: {},
      concurrencyLimit: 10,
      sendLoadingState: false,
      timeouts: { connect: 30, keepalive: 30, responseHeader: 0, tlsHandshake: 10, expectContinue: 1, idleConn: 90 },
      compat: { ignoreWebsockets: false },
      filters: { stripParams: [], setParams: {}, setParamsByID: {} },
      capabilities: null,
      sleepMode: 'disable',
      sleepEndpoints: [],
      wakeEndpoints: [],
    });
  });

  it('clamps healthCheckTimeout below 15 to 15', () => {
    expect(load('healthCheckTimeout: 5\n').healthCheckTimeout).toBe(15);
    expect(load('healthCheckTimeout: 16\n').healthCheckTimeout).toBe(16);
  });

  it('turns unloadTimeout 0 into 10', () => {
    expect(load('unloadTimeout: 0\n').unloadTimeout).toBe(10);
    expect(load('unloadTimeout: 3\n').unloadTimeout).toBe(3);
  });

  it('ttl -1 (the default) means globalTTL, 0 never, >0 itself', () => {
    const cfg = load(yaml`
      globalTTL: 600
      models:
        inherit: {proxy: "http://h:1"}
        never: {proxy: "http://h:1", ttl: 0}
        own: {proxy: "http://h:1", ttl: 30}
        explicit: {proxy: "http://h:1", ttl: -1}
    `);
    expect(cfg.models.inherit!.ttl).toBe(600);
    expect(cfg.models.never!.ttl).toBe(0);
    expect(cfg.models.own!.ttl).toBe(30);
    expect(cfg.models.explicit!.ttl).toBe(600);
  });

  it('model unloadTimeout 0 means the global one', () => {
    const cfg = load(yaml`
      unloadTimeout: 4
      models:
        a: {proxy: "http://h:1"}
        b: {proxy: "http://h:1", unloadTimeout: 2}
    `);
    expect(cfg.models.a!.unloadTimeout).toBe(4);
    expect(cfg.models.b!.unloadTimeout).toBe(2);
  });

  it('concurrencyLimit 0 or less means 10; comfyui_auto gets at least 50', () => {
    const cfg = load(yaml`
      models:
        zero: {proxy: "http://h:1", concurrencyLimit: 0}
        negative: {proxy: "http://h:1", concurrencyLimit: -3}
        two: {proxy: "http://h:1", concurrencyLimit: 2}
        comfyui_auto: {proxy: "http://h:1", concurrencyLimit: 5}
    `);
    expect(cfg.models.zero!.concurrencyLimit).toBe(10);
    expect(cfg.models.negative!.concurrencyLimit).toBe(10);
    expect(cfg.models.two!.concurrencyLimit).toBe(2);
    expect(cfg.models.comfyui_auto!.concurrencyLimit).toBe(50);
  });

  it('trims checkEndpoint, so " none " disables the check', () => {
    const cfg = load(yaml`
      models:
        a: {proxy: "http://h:1", checkEndpoint: " none "}
        b: {proxy: "http://h:1", checkEndpoint: /v1/models}
    `);
    expect(cfg.models.a!.checkEndpoint).toBe('none');
    expect(cfg.models.b!.checkEndpoint).toBe('/v1/models');
  });

  it('per-model sendLoadingState overrides the global one', () => {
    const cfg = load(yaml`
      sendLoadingState: true
      models:
        inherit: {proxy: "http://h:1"}
        off: {proxy: "http://h:1", sendLoadingState: false}
    `);
    expect(cfg.models.inherit!.sendLoadingState).toBe(true);
    expect(cfg.models.off!.sendLoadingState).toBe(false);
  });

  it('reads swapstate keys healthCheckInterval, maxRequestBodyBytes and abandonedLoadGraceMs', () => {
    const cfg = load('healthCheckInterval: 250\nmaxRequestBodyBytes: 1024\nabandonedLoadGraceMs: 0\n');
    expect(cfg.healthCheckInterval).toBe(250);
    expect(cfg.maxRequestBodyBytes).toBe(1024);
    expect(cfg.abandonedLoadGraceMs).toBe(0);
    expect(() => load('abandonedLoadGraceMs: -1\n')).toThrow('config.yaml:1: abandonedLoadGraceMs must be >= 0 (milliseconds)');
  });

  it('logLevel is case-insensitive; an unknown level means info, with a warning', () => {
    expect(load('logLevel: DEBUG\n').logLevel).toBe('debug');
    const cfg = load('logLevel: verbose\n');
    expect(cfg.logLevel).toBe('info');
    expect(cfg.warnings).toEqual(['config.yaml:1: logLevel "verbose" is not one of debug, info, warn, error; using info']);
  });

  it('logTimeFormat keeps Go layout names; anything else means no timestamp', () => {
    expect(load('logTimeFormat: rfc3339\n').logTimeFormat).toBe('rfc3339');
    expect(load('logTimeFormat: iso\n').logTimeFormat).toBe('');
  });

  it('trims name and description; keeps numbers as written', () => {
    const cfg = load('models:\n  m:\n    proxy: http://h:1\n    name: "  Llama  "\n    description: 1.10\n');
    expect(cfg.models.m!.name).toBe('Llama');
    expect(cfg.models.m!.description).toBe('1.10');
  });

  it('normalizes filters: stripParams sorted and de-duplicated without model; model never set', () => {
    const cfg = load(yaml`
      models:
        m:
          proxy: http://h:1
          filters:
            stripParams: " top_k, model,temperature , top_k,, "
            setParams: {model: x, temperature: 0.2, "a.b": [1]}
            setParamsByID:
              m: {model: y, top_p: 0.9}
    `);
    expect(cfg.models.m!.filters).toEqual({
      stripParams: ['temperature', 'top_k'],
      setParams: { temperature: 0.2, 'a.b': [1] },
      setParamsByID: { m: { top_p: 0.9 } },
    });
    expect(cfg.models.m!.aliases).toEqual([]);
  });

  it('reads the legacy filters.strip_params when stripParams is empty', () => {
    const cfg = load('models:\n  m:\n    proxy: http://h:1\n    filters:\n      strip_params: b,a\n');
    expect(cfg.models.m!.filters.stripParams).toEqual(['a', 'b']);
  });

  it('capabilities: an all-zero block is null, otherwise every field is kept', () => {
    const cfg = load(yaml`
      models:
        none: {proxy: "http://h:1", capabilities: {tools: false, context: 0}}
        some:
          proxy: http://h:1
          capabilities: {in: [text, image], out: [text], tools: true, context: 4096}
    `);
    expect(cfg.models.none!.capabilities).toBeNull();
    expect(cfg.models.some!.capabilities).toEqual({ in: ['text', 'image'], out: ['text'], tools: true, reranker: false, context: 4096 });
  });

  it('upstream.ignorePaths: a non-empty list replaces the default, an empty one keeps it', () => {
    expect(load('upstream:\n  ignorePaths: ["^/static/"]\n').ignorePaths).toEqual(['^/static/']);
    expect(load('upstream:\n  ignorePaths: []\n').ignorePaths).toEqual(['.*\\.(js|json|css|png|gif|jpg|jpeg|ico|txt)$']);
  });

  it('parses logRequests without a warning (llama-swap never uses it)', () => {
    expect(load('logRequests: true\n').warnings).toEqual([]);
  });

  it('a bare `id:` entry is a model with every default (so its default proxy needs ${PORT} in cmd)', () => {
    expect(load('models:\n  n:\n    proxy: http://h:1\n').models.n!.cmd).toBe('');
    expect(() => load('models:\n  n:\n')).toThrow('model n: cmd does not use ${PORT} and no proxy is set');
  });
});
