import { describe, expect, it } from 'vitest';
import { load, loadError, yaml } from './helpers.ts';

describe('unknown and unsupported keys', () => {
  it('ignores unknown keys with a warning naming the path and line', () => {
    const cfg = load(yaml`
      healthCheckTimeout: 30
      foo: 1
      models:
        m:
          proxy: http://h:1
          tll: 60
          filters:
            stripParam: x
          capabilities:
            vision: true
      routing:
        router:
          sttings: {}
      groups:
        g:
          members: [m]
          exclusve: false
    `);
    expect(cfg.warnings).toEqual([
      'config.yaml:2: unknown key "foo" ignored',
      'config.yaml:6: unknown key "models.m.tll" ignored (did you mean "ttl"?)',
      'config.yaml:8: unknown key "models.m.filters.stripParam" ignored (did you mean "stripParams"?)',
      'config.yaml:10: unknown key "models.m.capabilities.vision" ignored',
      'config.yaml:13: unknown key "routing.router.sttings" ignored (did you mean "settings"?)',
      'config.yaml:17: unknown key "groups.g.exclusve" ignored (did you mean "exclusive"?)',
    ]);
    expect(cfg.healthCheckTimeout).toBe(30);
  });

  it('warns that llama-swap keys swapstate lacks are not supported yet', () => {
    const cfg = load(yaml`
      peers:
        p: {proxy: "http://x", models: [a]}
      profiles: {}
      selectors: {}
      store: {path: /tmp/x.db}
      captureBuffer: 5
      metricsMaxInMemory: 10
      ui: {activity: {session_id: []}}
      models:
        m:
          proxy: http://h:1
          timeouts: {connect: 5}
          compat: {ignoreWebsockets: true}
      routing:
        router:
          settings:
            matrix: {sets: {s: m}}
    `);
    const unsupported = (line: number, path: string): string => `config.yaml:${line}: "${path}" is not supported yet by swapstate; ignored`;
    expect(cfg.warnings).toEqual([
      unsupported(5, 'store'),
      unsupported(8, 'ui'),
    ]);
    // Activity rows and captures are supported (reference 7.3, 7.4): read, not warned about.
    expect(cfg.captureBuffer).toBe(5);
    expect(cfg.metricsMaxInMemory).toBe(10);
  });

  it('metricsMaxInMemory of 0 or less is 1000; captureBuffer below 0 is no captures; a non-integer fails', () => {
    expect(load('metricsMaxInMemory: 0\ncaptureBuffer: -3\n')).toMatchObject({ metricsMaxInMemory: 1000, captureBuffer: 0, warnings: [] });
    expect(() => load('captureBuffer: lots\n')).toThrow(/captureBuffer/);
  });

  it('does not look inside free-form blocks (metadata, setParams)', () => {
    const cfg = load('models:\n  m:\n    proxy: http://h:1\n    metadata: {anything: 1}\n    filters: {setParams: {whatever: 2}}\n');
    expect(cfg.warnings).toEqual([]);
  });
});

describe('parsing and line numbers', () => {
  it('reports a YAML syntax error with file:line', () => {
    const err = loadError('models:\n  m:\n    cmd: [unclosed\n');
    expect(err.where).toMatch(/^config\.yaml:\d+$/);
    expect(err.message).toMatch(/^config\.yaml:\d+: invalid YAML: /);
  });

  it('rejects duplicate keys, as Go yaml.v3 does', () => {
    expect(loadError('globalTTL: 1\nglobalTTL: 2\n').message).toBe('config.yaml:2: invalid YAML: Map keys must be unique');
  });

  it('rejects a top level that is not a mapping', () => {
    expect(loadError('- a\n- b\n').message).toBe('config.yaml:1: the top level of the config must be a mapping');
  });

  it('materializes anchors, aliases and << merge keys per model', () => {
    const cfg = load(yaml`
      x-base: &base
        cmd: server --port \${PORT} --name \${MODEL_ID}
        ttl: 60
      models:
        a:
          <<: *base
        b:
          <<: *base
          ttl: 5
    `);
    expect(cfg.models.a!.cmd).toBe('server --port 5800 --name a');
    expect(cfg.models.b!.cmd).toBe('server --port 5801 --name b');
    expect(cfg.models.a!.ttl).toBe(60);
    expect(cfg.models.b!.ttl).toBe(5);
    expect(cfg.warnings).toEqual(['config.yaml:1: unknown key "x-base" ignored']);
  });

  it('points errors inside merged blocks at the anchor', () => {
    const err = loadError('base: &b\n  ttl: -7\n  proxy: http://h:1\nmodels:\n  m:\n    <<: *b\n');
    expect(err.message).toBe('config.yaml:2: model m: invalid TTL value -7');
  });
});
