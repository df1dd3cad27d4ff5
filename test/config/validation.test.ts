import { describe, expect, it } from 'vitest';
import { compileIgnorePath } from '../../src/config/ignore-paths.ts';
import { load, loadError, yaml } from './helpers.ts';

/** Every message is llama-swap's, prefixed with `config.yaml:<line>: `. */
describe('global validation (reference 2.2)', () => {
  it('logToStdout must be one of proxy, upstream, both, none', () => {
    expect(loadError('logToStdout: stderr\n').message).toBe('config.yaml:1: logToStdout must be one of: proxy, upstream, both, none');
    expect(load('logToStdout: both\n').logToStdout).toBe('both');
  });

  it('globalTTL must be >= 0', () => {
    expect(loadError('globalTTL: -1\n').message).toBe('config.yaml:1: globalTTL must be >= 0');
  });

  it('unloadTimeout must be >= 0', () => {
    expect(loadError('unloadTimeout: -5\n').message).toBe('config.yaml:1: unloadTimeout must be >= 0');
  });

  it('apiKeys entries must not be empty', () => {
    expect(loadError('apiKeys: ["a", ""]\n').message).toBe('config.yaml:1: empty api key found in apiKeys');
  });

  it('apiKeys entries must not contain spaces', () => {
    expect(loadError('apiKeys:\n  - ok\n  - "has space"\n').message).toBe('config.yaml:3: apiKeys[1]: api key cannot contain spaces');
  });

  it('healthCheckInterval must be a positive integer (swapstate key)', () => {
    expect(loadError('healthCheckInterval: 0\n').message).toBe('config.yaml:1: healthCheckInterval must be a positive integer (milliseconds)');
  });

  it('maxRequestBodyBytes must be a positive integer (swapstate key)', () => {
    expect(loadError('maxRequestBodyBytes: -1\n').message).toBe('config.yaml:1: maxRequestBodyBytes must be a positive integer (bytes)');
  });

  it('upstream.ignorePaths entries must be valid regular expressions', () => {
    const err = loadError('upstream:\n  ignorePaths:\n    - "^/ok$"\n    - "(unclosed"\n');
    expect(err.message).toMatch(/^config\.yaml:4: upstream\.ignorePaths: invalid regular expression "\(unclosed": /);
  });

  it('upstream.ignorePaths accepts RE2 leading flags (compileIgnorePath turns them into JS flags)', () => {
    expect(load('upstream:\n  ignorePaths: ["(?i)\\\\.png$"]\n').ignorePaths).toEqual(['(?i)\\.png$']);
    expect(compileIgnorePath('(?i)\\.PNG$').test('/img/a.png')).toBe(true);
    expect(compileIgnorePath('.*\\.js$').test('/app.js')).toBe(true);
    expect(() => compileIgnorePath('(?U)a+')).toThrow(SyntaxError);
  });
});

describe('model validation (reference 2.12, 2.14, 2.15)', () => {
  it('aliases are globally unique', () => {
    const err = loadError(yaml`
      models:
        a: {proxy: "http://h:1", aliases: [x]}
        b:
          proxy: http://h:2
          aliases:
            - x
    `);
    expect(err.message).toBe('config.yaml:6: duplicate alias x found in model: b');
  });

  it('a model id wins over a same-named alias without an error', () => {
    const cfg = load(yaml`
      models:
        a: {proxy: "http://h:1", aliases: [b]}
        b: {proxy: "http://h:2"}
    `);
    expect(cfg.aliases).toEqual({ b: 'a' });
  });

  it('ttl below -1 is invalid', () => {
    const err = loadError('models:\n  m:\n    proxy: http://h:1\n    ttl: -2\n');
    expect(err.message).toBe('config.yaml:4: model m: invalid TTL value -2');
  });

  it('model unloadTimeout below 0 is invalid', () => {
    const err = loadError('models:\n  m:\n    proxy: http://h:1\n    unloadTimeout: -1\n');
    expect(err.message).toBe('config.yaml:4: model m: invalid unloadTimeout value -1');
  });

  it('proxy must be an absolute http(s) URL', () => {
    expect(loadError('models:\n  m:\n    proxy: "127.0.0.1:8080"\n').message).toMatch(
      /^config\.yaml:3: model m: invalid proxy URL "127\.0\.0\.1:8080": /,
    );
    expect(loadError('models:\n  m:\n    proxy: "ftp://h/"\n').message).toMatch(/^config\.yaml:3: model m: invalid proxy URL/);
  });

  it('capabilities.in and out only take text, audio, image', () => {
    const err = loadError('models:\n  m:\n    proxy: http://h:1\n    capabilities:\n      in: [text, video]\n');
    expect(err.message).toBe('config.yaml:5: model m: capabilities.in: invalid modality "video", must be one of: text, audio, image');
    const out = loadError('models:\n  m:\n    proxy: http://h:1\n    capabilities:\n      out: [smell]\n');
    expect(out.message).toBe('config.yaml:5: model m: capabilities.out: invalid modality "smell", must be one of: text, audio, image');
  });

  it('capabilities.context must be >= 0', () => {
    const err = loadError('models:\n  m:\n    proxy: http://h:1\n    capabilities:\n      context: -1\n');
    expect(err.message).toBe('config.yaml:5: model m: capabilities.context: must be >= 0');
  });

  describe('filters.setParamsByID', () => {
    it('keys other than the model id become aliases', () => {
      const cfg = load(yaml`
        models:
          m:
            proxy: http://h:1
            aliases: [m-explicit]
            filters:
              setParamsByID:
                m: {temperature: 1}
                m-explicit: {temperature: 0.5}
                m-fast: {temperature: 0}
      `);
      expect(cfg.models.m!.aliases).toEqual(['m-explicit', 'm-fast']);
      expect(cfg.aliases).toEqual({ 'm-explicit': 'm', 'm-fast': 'm' });
    });

    it('a key may not be another model id', () => {
      const err = loadError(yaml`
        models:
          a:
            proxy: http://h:1
            filters:
              setParamsByID:
                b: {x: 1}
          b: {proxy: "http://h:2"}
      `);
      expect(err.message).toBe("config.yaml:6: model a filters.setParamsByID: key 'b' conflicts with an existing model ID");
    });

    it("a key may not be another model's alias", () => {
      const err = loadError(yaml`
        models:
          a:
            proxy: http://h:1
            filters:
              setParamsByID:
                shared: {x: 1}
          b: {proxy: "http://h:2", aliases: [shared]}
      `);
      expect(err.message).toBe("config.yaml:6: duplicate alias 'shared' in model a filters.setParamsByID, already used by model b");
    });

    it('two models may not claim the same key', () => {
      const err = loadError(yaml`
        models:
          a:
            proxy: http://h:1
            filters: {setParamsByID: {same: {x: 1}}}
          b:
            proxy: http://h:2
            filters: {setParamsByID: {same: {x: 2}}}
      `);
      expect(err.message).toBe("config.yaml:7: duplicate alias 'same' in model b filters.setParamsByID, already used by model a");
    });
  });
});

describe('type errors name the key path', () => {
  it('an integer field given a string', () => {
    expect(loadError('healthCheckTimeout: soon\n').message).toBe(
      'config.yaml:1: healthCheckTimeout: expected an integer, got string "soon"',
    );
  });

  it('a model integer field given a fraction', () => {
    expect(loadError('models:\n  m:\n    proxy: http://h:1\n    ttl: 1.5\n').message).toBe(
      'config.yaml:4: models.m.ttl: expected an integer, got number 1.5',
    );
  });

  it('a boolean field given a string', () => {
    expect(loadError('models:\n  m:\n    proxy: http://h:1\n    unlisted: "yes"\n').message).toBe(
      'config.yaml:4: models.m.unlisted: expected a boolean (true or false), got string "yes"',
    );
  });

  it('a list field given a scalar, a mapping field given a list', () => {
    expect(loadError('models:\n  m:\n    proxy: http://h:1\n    aliases: x\n').message).toBe(
      'config.yaml:4: models.m.aliases: expected a list, got string "x"',
    );
    expect(loadError('models:\n  m:\n    proxy: http://h:1\n    metadata: [1]\n').message).toBe(
      'config.yaml:4: models.m.metadata: expected a mapping, got a list',
    );
    expect(loadError('models: [a]\n').message).toBe('config.yaml:1: models: expected a mapping, got a list');
  });

  it('a string list item given a mapping', () => {
    expect(loadError('apiKeys:\n  - {a: 1}\n').message).toBe('config.yaml:2: apiKeys[0]: expected a string, got a mapping');
  });

  it('a quoted number is a string, as in llama-swap', () => {
    expect(loadError('globalTTL: "60"\n').message).toBe('config.yaml:1: globalTTL: expected an integer, got string "60"');
  });

  it('startPort given a string', () => {
    expect(loadError('startPort: high\n').message).toBe('config.yaml:1: startPort: expected an integer, got string "high"');
  });
});
