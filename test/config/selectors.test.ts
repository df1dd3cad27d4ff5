/**
 * `selectors.<id>` (reference 2.8): decoding, defaults, and every rule, with llama-swap's
 * messages at the offending key's file:line. The cases of llama-swap's
 * internal/config/selectors_test.go are here (its `balance` strategy is today's `spillover`,
 * `balance.spillover` is `settings.spillover`).
 *
 * Peers are decoded elsewhere (Config.peers); the peer cases give the selector rules a config
 * with peers in it directly.
 */
import { describe, expect, it } from 'vitest';
import { Field } from '../../src/config/field.ts';
import { decodeSelectors, resolveSelectorTargets, validateSelectors } from '../../src/config/selectors.ts';
import type { Config, PeerConfig } from '../../src/config/types.ts';
import { ConfigError } from '../../src/config/types.ts';
import { parseYamlTree } from '../../src/config/yaml-tree.ts';
import { load, loadError, yaml } from './helpers.ts';

/** llama-swap's test base: a (alias alias-a, setParamsByID alias variant) and b, ungrouped. */
const BASE = yaml`
  models:
    a:
      cmd: echo \${PORT}
      aliases: [alias-a]
      filters:
        setParamsByID:
          variant:
            temperature: 0
    b:
      cmd: echo \${PORT}
`;

describe('selectors: decoding', () => {
  it('reads every key, with the defaults (spillover 1, empty name, description and metadata)', () => {
    const cfg = load(
      BASE +
        yaml`
          selectors:
            public:
              strategy: pin
              targets: [variant, b]
              name: Public Model
              description: Public selector
              unlisted: true
              metadata: {purpose: testing, n: 1}
            plain:
              strategy: warm
              targets: [a]
        `,
    );
    expect(cfg.selectors).toEqual({
      public: {
        id: 'public',
        strategy: 'pin',
        targets: ['variant', 'b'],
        spillover: 1,
        name: 'Public Model',
        description: 'Public selector',
        unlisted: true,
        metadata: { purpose: 'testing', n: 1 },
      },
      plain: { id: 'plain', strategy: 'warm', targets: ['a'], spillover: 1, name: '', description: '', unlisted: false, metadata: {} },
    });
    expect(cfg.warnings).toEqual([]);
  });

  it('warns about unknown keys (with a hint), inside settings too', () => {
    const cfg = load(BASE + 'selectors:\n  s:\n    strategy: pin\n    targets: [a]\n    target: [b]\n    settings: {spilover: 2}\n');
    expect(cfg.warnings).toEqual([
      'config.yaml:15: unknown key "selectors.s.target" ignored (did you mean "targets"?)',
      'config.yaml:16: unknown key "selectors.s.settings.spilover" ignored (did you mean "spillover"?)',
    ]);
  });

  it('checks types at the key', () => {
    expect(loadError(BASE + 'selectors:\n  s:\n    strategy: spillover\n    targets: a\n').message).toBe(
      'config.yaml:14: selectors.s.targets: expected a list, got string "a"',
    );
    expect(loadError(BASE + 'selectors:\n  s:\n    strategy: spillover\n    targets: [a]\n    settings: {spillover: two}\n').message).toBe(
      'config.yaml:15: selectors.s.settings.spillover: expected an integer, got string "two"',
    );
  });

  it('accepts an empty selectors block', () => {
    expect(load(BASE + 'selectors: {}\n').selectors).toEqual({});
  });
});

describe('selectors: rules (llama-swap selectors_test.go)', () => {
  const cases: Array<[string, string, string]> = [
    ['missing strategy', 'selectors:\n  public:\n    targets: [a]\n', 'config.yaml:12: selectors.public.strategy is required'],
    [
      'unknown strategy',
      'selectors:\n  public:\n    strategy: random\n    targets: [a]\n',
      'config.yaml:13: selectors.public.strategy: unknown strategy "random" (valid: warm, pin, spillover)',
    ],
    ['missing targets', 'selectors:\n  public:\n    strategy: pin\n', 'config.yaml:12: selectors.public.targets must contain at least one entry'],
    ['empty targets', 'selectors:\n  public:\n    strategy: pin\n    targets: []\n', 'config.yaml:14: selectors.public.targets must contain at least one entry'],
    [
      'unknown target',
      'selectors:\n  public:\n    strategy: pin\n    targets:\n      - a\n      - missing\n',
      'config.yaml:16: selectors.public.targets[1] references unknown model "missing"',
    ],
    [
      'selector chaining',
      'selectors:\n  first:\n    strategy: pin\n    targets: [a]\n  second:\n    strategy: pin\n    targets: [first]\n',
      'config.yaml:17: selectors.second.targets[0] references selector "first"; selector chaining is not supported',
    ],
    ['model id collision', 'selectors:\n  a:\n    strategy: pin\n    targets: [b]\n', 'config.yaml:12: selectors.a: name conflicts with model ID "a"'],
    [
      'explicit alias collision',
      'selectors:\n  alias-a:\n    strategy: pin\n    targets: [a]\n',
      'config.yaml:12: selectors.alias-a: name conflicts with model alias "alias-a"',
    ],
    [
      'generated alias collision (setParamsByID)',
      'selectors:\n  variant:\n    strategy: pin\n    targets: [a]\n',
      'config.yaml:12: selectors.variant: name conflicts with model alias "variant"',
    ],
    [
      'invalid spillover',
      'selectors:\n  public:\n    strategy: spillover\n    targets: [a]\n    settings:\n      spillover: 0\n',
      'config.yaml:16: selectors.public.settings.spillover must be >= 1',
    ],
    [
      'duplicate resolved spillover target',
      'selectors:\n  public:\n    strategy: spillover\n    targets: [a, alias-a]\n',
      'config.yaml:14: selectors.public.targets contains duplicate resolved model "a"',
    ],
    [
      'spillover targets in the implicit (default) group, which swaps',
      'selectors:\n  public:\n    strategy: spillover\n    targets: [a, b]\n',
      'config.yaml:14: selectors.public spillover targets must share a group with swap: false',
    ],
    [
      'spillover targets in a swapping group',
      'groups:\n  g:\n    members: [a, b]\nselectors:\n  public:\n    strategy: spillover\n    targets: [a, b]\n',
      'config.yaml:17: selectors.public spillover targets must share a group with swap: false',
    ],
    [
      'spillover targets in two groups',
      'groups:\n  g:\n    swap: false\n    members: [a]\n  h:\n    swap: false\n    members: [b]\nselectors:\n  public:\n    strategy: spillover\n    targets: [a, b]\n',
      'config.yaml:21: selectors.public spillover targets must share one routing group',
    ],
    [
      'spillover target outside the non-swapping group of the first',
      'groups:\n  g:\n    swap: false\n    members: [a]\nselectors:\n  public:\n    strategy: spillover\n    targets: [a, b]\n',
      'config.yaml:18: selectors.public spillover targets must share one routing group',
    ],
    [
      'spillover targets in no common matrix set',
      'matrix:\n  sets:\n    one: "a"\n    two: "b"\nselectors:\n  public:\n    strategy: spillover\n    targets: [a, b]\n',
      'config.yaml:18: selectors.public.targets must all appear together in one expanded matrix set',
    ],
    [
      'spillover targets in no common matrix set (routing.router)',
      'routing:\n  router:\n    use: matrix\n    settings:\n      matrix:\n        sets: {one: "a | b"}\nselectors:\n  public:\n    strategy: spillover\n    targets: [a, b]\n',
      'config.yaml:20: selectors.public.targets must all appear together in one expanded matrix set',
    ],
    [
      'the spillover range is checked only once the targets resolve',
      'selectors:\n  public:\n    strategy: spillover\n    targets: [nope]\n    settings: {spillover: 0}\n',
      'config.yaml:14: selectors.public.targets[0] references unknown model "nope"',
    ],
  ];

  it.each(cases)('%s', (_name, selectors, message) => {
    const err = loadError(BASE + selectors);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe(message);
  });

  it('an empty selector name is refused', () => {
    expect(loadError(BASE + 'selectors:\n  " ":\n    strategy: pin\n    targets: [a]\n').message).toBe(
      'config.yaml:12: selectors: selector names cannot be empty',
    );
  });

  it('selectors are checked after everything else: a model error wins', () => {
    expect(loadError(BASE + 'selectors:\n  s: {strategy: nope, targets: [a]}\nglobalTTL: -1\n').message).toMatch(/globalTTL/);
  });
});

describe('selectors: what is accepted', () => {
  it('pin and warm accept aliases, setParamsByID aliases and targets that swap each other', () => {
    const cfg = load(BASE + 'selectors:\n  p:\n    strategy: pin\n    targets: [variant, b]\n  w:\n    strategy: warm\n    targets: [alias-a, b, a]\n');
    expect(Object.keys(cfg.selectors)).toEqual(['p', 'w']);
  });

  it('spillover: the targets share a group with swap: false', () => {
    const cfg = load(
      BASE + 'groups:\n  pool:\n    swap: false\n    members: [a, b]\nselectors:\n  s:\n    strategy: spillover\n    targets: [alias-a, b]\n    settings: {spillover: 3}\n',
    );
    expect(cfg.selectors['s']).toMatchObject({ strategy: 'spillover', targets: ['alias-a', 'b'], spillover: 3 });
  });

  it('spillover: the targets appear together in one expanded matrix set (here the second of "(a | b) & b")', () => {
    const cfg2 = load(BASE + 'matrix:\n  sets:\n    solo: "a"\n    both: "(a | b) & b"\nselectors:\n  s:\n    strategy: spillover\n    targets: [b, a]\n');
    expect(cfg2.selectors['s']?.targets).toEqual(['b', 'a']);
  });

  it('spillover over one local target needs no coexistence (any group)', () => {
    expect(load(BASE + 'selectors:\n  s:\n    strategy: spillover\n    targets: [a]\n').selectors['s']?.spillover).toBe(1);
  });

  it('settings.spillover is not checked for other strategies, as in llama-swap', () => {
    expect(load(BASE + 'selectors:\n  s:\n    strategy: pin\n    targets: [a]\n    settings: {spillover: 0}\n').selectors['s']?.spillover).toBe(0);
  });

  it('resolves targets to real model ids', () => {
    const cfg = load(BASE + 'selectors:\n  p:\n    strategy: pin\n    targets: [variant, b]\n');
    expect(resolveSelectorTargets(cfg, cfg.selectors['p']!)).toEqual([
      { name: 'variant', key: 'a', local: true },
      { name: 'b', key: 'b', local: true },
    ]);
  });
});

describe('selectors: peer targets (Config.peers given directly)', () => {
  const peer = (id: string, models: string[]): PeerConfig => ({
    id,
    proxy: 'http://example.com',
    apiKey: '',
    models,
    filters: { stripParams: [], setParams: {}, setParamsByID: {} },
    timeouts: { connect: 30, keepalive: 30, responseHeader: 60, tlsHandshake: 10, expectContinue: 1, idleConn: 90 },
  });
  const withPeers = (extra = ''): Config => ({
    ...load(BASE + 'groups:\n  pool:\n    swap: false\n    members: [a, b]\n' + extra),
    peers: { remote: peer('remote', ['remote-model', 'shared']), other: peer('other', ['shared']) },
  });
  const check = (cfg: Config, selectorsYaml: string) => {
    const parsed = parseYamlTree(selectorsYaml, 'selectors.yaml');
    return validateSelectors(decodeSelectors(Field.root(parsed).get('selectors')), cfg);
  };
  const error = (cfg: Config, selectorsYaml: string): string => {
    try {
      check(cfg, selectorsYaml);
    } catch (e) {
      if (e instanceof ConfigError) return e.message;
      throw e;
    }
    throw new Error('expected a ConfigError');
  };

  it('pin and spillover accept peer models, by FQN or unique bare name', () => {
    const cfg = withPeers();
    const out = check(cfg, 'selectors:\n  p:\n    strategy: pin\n    targets: [remote-model, other/shared]\n  s:\n    strategy: spillover\n    targets: [a, b, remote/remote-model, other/shared]\n');
    expect(resolveSelectorTargets(cfg, out['s']!)).toEqual([
      { name: 'a', key: 'a', local: true },
      { name: 'b', key: 'b', local: true },
      { name: 'remote/remote-model', key: 'remote/remote-model', local: false },
      { name: 'other/shared', key: 'other/shared', local: false },
    ]);
    expect(resolveSelectorTargets(cfg, out['p']!)[0]).toEqual({ name: 'remote-model', key: 'remote/remote-model', local: false });
  });

  it('warm refuses a peer target', () => {
    expect(error(withPeers(), 'selectors:\n  public:\n    strategy: warm\n    targets: [a, remote-model]\n')).toBe(
      'selectors.yaml:4: selectors.public.targets[1] must resolve to a local model for strategy "warm"',
    );
  });

  it('a bare name two peers list is unknown', () => {
    expect(error(withPeers(), 'selectors:\n  public:\n    strategy: pin\n    targets: [shared]\n')).toBe(
      'selectors.yaml:4: selectors.public.targets[0] references unknown model "shared"',
    );
  });

  it('spillover refuses one peer model named twice (bare and FQN)', () => {
    expect(error(withPeers(), 'selectors:\n  public:\n    strategy: spillover\n    targets: [remote-model, remote/remote-model]\n')).toBe(
      'selectors.yaml:4: selectors.public.targets contains duplicate resolved model "remote/remote-model"',
    );
  });

  it('peer targets do not need to coexist with local ones', () => {
    const cfg = { ...load(BASE), peers: withPeers().peers };
    expect(Object.keys(check(cfg, 'selectors:\n  s:\n    strategy: spillover\n    targets: [a, remote-model]\n'))).toEqual(['s']);
  });

  it('a selector id equal to a peer FQN is refused', () => {
    expect(error(withPeers(), 'selectors:\n  other/shared:\n    strategy: pin\n    targets: [a]\n')).toBe(
      'selectors.yaml:2: selector ID "other/shared" conflicts with fully qualified peer model name',
    );
  });
});
