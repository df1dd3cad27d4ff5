/**
 * Misspelt keys (issue 11): a top-level key one edit from a known one fails the load at its
 * line, since `model:` for `models:` would serve zero models; other unknown keys stay
 * warnings (llama-swap ignores them), with a "did you mean" where a known key is close.
 */
import { describe, expect, it } from 'vitest';
import { closestFirst, editDistance, nearestName } from '../../src/config/did-you-mean.ts';
import { load, loadError, yaml } from './helpers.ts';

describe('edit distance', () => {
  it.each([
    ['models', 'models', 0],
    ['model', 'models', 1], // deletion
    ['modelss', 'models', 1], // insertion
    ['modals', 'models', 1], // substitution
    ['modles', 'models', 1], // neighbours swapped: one edit, not two
    ['tll', 'ttl', 1],
    ['', 'abc', 3],
    ['kitten', 'sitting', 3],
    ['groups', 'models', 5],
  ])('%s -> %s is %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });

  it('stops at the limit: a long name against a short one costs little and says "more"', () => {
    expect(editDistance('x'.repeat(60_000), 'models', 2)).toBe(3);
    expect(editDistance('abcdef', 'uvwxyz', 2)).toBe(3);
  });

  it('nearestName ignores case, prefers the closest, then the alphabetically first', () => {
    expect(nearestName('Models', ['models', 'groups'], 1)).toBe('models');
    expect(nearestName('ab', ['ac', 'aa'], 1)).toBe('aa');
    expect(nearestName('zzz', ['models'], 2)).toBeNull();
    expect(nearestName('models', ['models', 'model'], 1)).toBeNull(); // a known name is no typo
  });

  it('closestFirst ranks by distance, ties by name, and caps the list', () => {
    expect(closestFirst('lama-3', ['qwen', 'llama-3-8b', 'llama-3', 'gemma'], 10)).toEqual(['llama-3', 'llama-3-8b', 'gemma', 'qwen']);
    expect(closestFirst('x', ['c', 'b', 'a'], 2)).toEqual(['a', 'b']);
  });
});

describe('top-level keys one edit from a known key fail the load', () => {
  it.each([
    ['model', 'models'],
    ['modles', 'models'],
    ['Models', 'models'],
    ['group', 'groups'],
    ['healthchecktimeout', 'healthCheckTimeout'],
    ['globalTTl', 'globalTTL'],
    ['apiKey', 'apiKeys'],
    ['macro', 'macros'],
    ['profile', 'profiles'],
  ])('"%s" -> did you mean "%s"?', (typo, meant) => {
    const err = loadError(`logLevel: info\n${typo}: {}\n`);
    expect(err.message).toBe(`config.yaml:2: unknown key "${typo}" (did you mean "${meant}"?)`);
  });

  it('names the key and its line: the whole models section under model: is not silently dropped', () => {
    const err = loadError(yaml`
      healthCheckTimeout: 30
      model:
        llama:
          cmd: llama-server --port \${PORT}
    `);
    expect(err.message).toBe('config.yaml:2: unknown key "model" (did you mean "models"?)');
    expect(err.where).toBe('config.yaml:2');
  });

  it('is checked before macros are expanded, so a misspelt macros: is named as such', () => {
    const err = loadError(yaml`
      macro:
        port: "8080"
      models:
        m:
          cmd: server --port \${port}
          proxy: http://h:8080
    `);
    expect(err.message).toBe('config.yaml:1: unknown key "macro" (did you mean "macros"?)');
  });

  it('keys two or more edits away stay warnings, with a hint when one is close', () => {
    const cfg = load(yaml`
      modelz2: {}
      x-defaults: {}
      models:
        m:
          proxy: http://h:1
    `);
    expect(cfg.warnings).toEqual([
      'config.yaml:1: unknown key "modelz2" ignored (did you mean "models"?)',
      'config.yaml:2: unknown key "x-defaults" ignored',
    ]);
    expect(Object.keys(cfg.models)).toEqual(['m']);
  });
});

describe('per-model keys get a hint, as warnings only', () => {
  it('a misspelt model key loads with a "did you mean" warning', () => {
    const cfg = load(yaml`
      models:
        m:
          proxy: http://h:1
          alias: [mm]
          checkendpoint: /ready
          unlistd: true
    `);
    expect(cfg.warnings).toEqual([
      'config.yaml:4: unknown key "models.m.alias" ignored (did you mean "aliases"?)',
      'config.yaml:5: unknown key "models.m.checkendpoint" ignored (did you mean "checkEndpoint"?)',
      'config.yaml:6: unknown key "models.m.unlistd" ignored (did you mean "unlisted"?)',
    ]);
  });
});
