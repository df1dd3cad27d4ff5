import { describe, expect, it } from 'vitest';
import { load, loadError, yaml } from './helpers.ts';

const MODELS = yaml`
  models:
    a: {proxy: "http://h:1", aliases: [alpha]}
    b: {proxy: "http://h:2"}
    c: {proxy: "http://h:3"}
`;

describe('groups (reference 2.3, 2.4)', () => {
  it('reads legacy top-level groups with defaults swap/exclusive true, persistent false', () => {
    const cfg = load(
      MODELS +
        yaml`
          groups:
            pair:
              swap: false
              members: [a, b]
            solo:
              persistent: true
              members: [c]
        `,
    );
    expect(cfg.groups).toEqual({
      pair: { swap: false, exclusive: true, persistent: false, members: ['a', 'b'] },
      solo: { swap: true, exclusive: true, persistent: true, members: ['c'] },
    });
  });

  it('reads routing.router.settings.groups the same way', () => {
    const cfg = load(
      MODELS +
        yaml`
          routing:
            router:
              use: group
              settings:
                groups:
                  g: {exclusive: false, members: [a]}
        `,
    );
    expect(cfg.groups).toEqual({ g: { swap: true, exclusive: false, persistent: false, members: ['a'] } });
  });

  it('does not add the implicit (default) group (the scheduler does)', () => {
    expect(load(MODELS).groups).toEqual({});
    expect(Object.keys(load(MODELS + 'groups:\n  g: {members: [a]}\n').groups)).toEqual(['g']);
  });

  it('rejects legacy groups together with routing.router', () => {
    const err = loadError(MODELS + 'groups:\n  g: {members: [a]}\nrouting:\n  router:\n    use: group\n');
    expect(err.message).toBe(
      "config.yaml:8: config uses both the legacy top-level 'matrix'/'groups' keys and the new 'routing.router' block; " +
        "please migrate the top-level keys into 'routing.router' and remove them",
    );
  });

  it('an empty legacy groups block does not count as legacy', () => {
    expect(load(MODELS + 'groups: {}\nrouting:\n  router:\n    settings:\n      groups:\n        g: {members: [b]}\n').groups).toEqual({
      g: { swap: true, exclusive: true, persistent: false, members: ['b'] },
    });
  });

  it('rejects an unknown router', () => {
    expect(loadError('routing:\n  router:\n    use: random\n').message).toBe(
      'config.yaml:3: routing.router.use: unknown router "random" (valid: group, matrix)',
    );
  });

  it('rejects use: matrix without settings.matrix', () => {
    expect(loadError('routing:\n  router:\n    use: matrix\n').message).toBe(
      "config.yaml:3: routing.router.use is 'matrix' but routing.router.settings.matrix is not set",
    );
  });

  it('rejects legacy groups together with legacy matrix', () => {
    expect(loadError(MODELS + 'groups:\n  g: {members: [a]}\nmatrix:\n  sets: {s: a}\n').message).toBe(
      "config.yaml:7: config cannot use both 'groups' and 'matrix'",
    );
  });

  it('rejects a member listed twice in a group', () => {
    expect(loadError(MODELS + 'groups:\n  g:\n    members: [a, b, a]\n').message).toBe(
      'config.yaml:7: duplicate model member a found in group: g',
    );
  });

  it('rejects a member used in two groups', () => {
    expect(loadError(MODELS + 'groups:\n  g1: {members: [a]}\n  g2: {members: [b, a]}\n').message).toBe(
      'config.yaml:7: model member a is used in multiple groups: g1 and g2',
    );
  });

  it('rejects an unknown member at load time (also an alias)', () => {
    expect(loadError(MODELS + 'groups:\n  g: {members: [zz]}\n').message).toBe('config.yaml:6: no model config for "zz"');
    expect(loadError(MODELS + 'groups:\n  g: {members: [alpha]}\n').message).toBe('config.yaml:6: no model config for "alpha"');
  });
});

describe('routing.scheduler (reference 2.3)', () => {
  it('rejects a scheduler other than fifo', () => {
    expect(loadError('routing:\n  scheduler:\n    use: lifo\n').message).toBe(
      'config.yaml:3: routing.scheduler.use: unknown scheduler "lifo" (valid: fifo)',
    );
    expect(load('routing:\n  scheduler:\n    use: fifo\n').priority).toEqual({});
  });

  it('rejects a priority for an unknown model', () => {
    const err = loadError(MODELS + 'routing:\n  scheduler:\n    settings:\n      fifo:\n        priority:\n          nope: 1\n');
    expect(err.message).toBe('config.yaml:10: routing.scheduler.settings.fifo.priority references unknown model "nope"');
  });

  it('keys priorities by model id, resolving aliases (an id entry wins over an alias entry)', () => {
    const cfg = load(MODELS + 'routing:\n  scheduler:\n    settings:\n      fifo:\n        priority: {alpha: 5, b: 2}\n');
    expect(cfg.priority).toEqual({ a: 5, b: 2 });
    const both = load(MODELS + 'routing:\n  scheduler:\n    settings:\n      fifo:\n        priority: {alpha: 5, a: 1}\n');
    expect(both.priority).toEqual({ a: 1 });
  });
});

describe('hooks.on_startup.preload (reference 2.9)', () => {
  it('trims, resolves aliases and silently drops unknown names', () => {
    const cfg = load(MODELS + 'hooks:\n  on_startup:\n    preload: [" alpha ", "", nope, c]\n');
    expect(cfg.preload).toEqual(['a', 'c']);
    expect(cfg.warnings).toEqual([]);
  });

  it('resolves the automatic aliases of setParamsByID', () => {
    const cfg = load('models:\n  m:\n    proxy: http://h:1\n    filters: {setParamsByID: {m-fast: {x: 1}}}\nhooks: {on_startup: {preload: [m-fast]}}\n');
    expect(cfg.preload).toEqual(['m']);
  });
});
