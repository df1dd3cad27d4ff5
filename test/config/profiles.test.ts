/**
 * `profiles.<name>` (reference 2.7): decoding and llama-swap's validation, with its
 * messages at file:line. Cases ported from llama-swap's internal/config/profile_test.go
 * (TestConfig_Profiles_LoadAndResolve, _Validation, _DoNotChain).
 */
import { describe, expect, it } from 'vitest';
import { Field } from '../../src/config/field.ts';
import { decodeProfiles, validateProfiles } from '../../src/config/profiles.ts';
import type { Config } from '../../src/config/types.ts';
import { parseYamlTree } from '../../src/config/yaml-tree.ts';
import { load, loadError, yaml } from './helpers.ts';

const MODELS = yaml`
  models:
    local:
      proxy: http://h:1
      aliases: [local-fast]
      filters:
        setParamsByID:
          local-thinking:
            thinking: true
    other:
      proxy: http://h:2
`;

describe('profiles: loading', () => {
  it('keeps description and pins; "" and ~ both disable; targets may be a model, an alias or a setParamsByID key', () => {
    const cfg = load(
      MODELS +
        yaml`
          profiles:
            coding:
              description: Coding profile
              pins:
                direct: local
                alias: local-fast
                variant: local-thinking
                disabled-empty: ""
                disabled-null: ~
                local: other
        `,
    );
    expect(cfg.profiles).toEqual({
      coding: {
        name: 'coding',
        description: 'Coding profile',
        pins: { direct: 'local', alias: 'local-fast', variant: 'local-thinking', 'disabled-empty': '', 'disabled-null': '', local: 'other' },
      },
    });
    expect(cfg.warnings).toEqual([]);
  });

  it('is empty without profiles, and an empty mapping is no error', () => {
    expect(load(MODELS).profiles).toEqual({});
    expect(load(`${MODELS}profiles: {}\n`).profiles).toEqual({});
  });

  it('a description is optional; a pin target written as a number is its text', () => {
    const cfg = load(`models:\n  "7":\n    proxy: http://h:1\nprofiles:\n  p:\n    pins:\n      seven: 7\n`);
    expect(cfg.profiles.p).toEqual({ name: 'p', description: '', pins: { seven: '7' } });
  });

  it('warns about unknown keys in a profile (llama-swap ignores them)', () => {
    const cfg = load(`${MODELS}profiles:\n  p:\n    pin:\n      x: local\n    pins:\n      x: local\n`);
    expect(cfg.warnings).toEqual(['config.yaml:13: unknown key "profiles.p.pin" ignored (did you mean "pins"?)']);
  });
});

describe('profiles: validation (llama-swap wording, at file:line)', () => {
  it('the legacy list syntax is rejected with the migration message', () => {
    const err = loadError(`${MODELS}profiles:\n  old: [local]\n`);
    expect(err.message).toBe(
      'config.yaml:12: profiles.old: profile must be a mapping with description and pins; the legacy list syntax is no longer supported',
    );
  });

  it('so is a scalar profile', () => {
    expect(loadError(`${MODELS}profiles:\n  old: local\n`).message).toMatch(/^config\.yaml:12: profiles\.old: profile must be a mapping/);
  });

  it('the legacy syntax fails while decoding, before model validation (as llama-swap unmarshals first)', () => {
    const err = loadError('models:\n  a: {proxy: "http://h:1", aliases: [x]}\n  b: {proxy: "http://h:2", aliases: [x]}\nprofiles:\n  old: [a]\n');
    expect(err.message).toMatch(/legacy list syntax/);
  });

  it('a profile needs at least one pin', () => {
    expect(loadError(`${MODELS}profiles:\n  empty:\n    pins: {}\n`).message).toBe(
      'config.yaml:13: profiles.empty.pins must contain at least one entry',
    );
    expect(loadError(`${MODELS}profiles:\n  bare:\n    description: nothing\n`).message).toBe(
      'config.yaml:12: profiles.bare.pins must contain at least one entry',
    );
    expect(loadError(`${MODELS}profiles:\n  nil: ~\n`).message).toBe('config.yaml:12: profiles.nil.pins must contain at least one entry');
  });

  it('profile and pin names must not be blank', () => {
    expect(loadError(`${MODELS}profiles:\n  "": {pins: {x: local}}\n`).message).toBe('config.yaml:12: profiles: profile names cannot be empty');
    expect(loadError(`${MODELS}profiles:\n  " ": {pins: {x: local}}\n`).message).toBe('config.yaml:12: profiles: profile names cannot be empty');
    expect(loadError(`${MODELS}profiles:\n  p:\n    pins:\n      " ": local\n`).message).toBe(
      'config.yaml:14: profiles.p.pins: pin names cannot be empty',
    );
  });

  it('a target must be a known model', () => {
    expect(loadError(`${MODELS}profiles:\n  bad:\n    pins:\n      public: missing\n`).message).toBe(
      'config.yaml:14: profiles.bad.pins.public references unknown model "missing"',
    );
  });

  it('pins do not chain: a target that is only another pin is unknown', () => {
    const err = loadError(`models:\n  base:\n    proxy: http://h:1\nprofiles:\n  test:\n    pins:\n      first: base\n      second: first\n`);
    expect(err.message).toBe('config.yaml:8: profiles.test.pins.second references unknown model "first"');
  });

  it('names the first bad pin in file order', () => {
    const err = loadError(`${MODELS}profiles:\n  a:\n    pins: {x: local}\n  b:\n    pins:\n      y: nope1\n      z: nope2\n`);
    expect(err.message).toBe('config.yaml:16: profiles.b.pins.y references unknown model "nope1"');
  });

  it('type errors name the key', () => {
    expect(loadError(`${MODELS}profiles:\n  p:\n    pins: [local]\n`).message).toBe('config.yaml:13: profiles.p.pins: expected a mapping, got a list');
    expect(loadError(`${MODELS}profiles:\n  p:\n    pins:\n      x: [local]\n`).message).toBe(
      'config.yaml:14: profiles.p.pins.x: expected a string, got a list',
    );
    expect(loadError(`${MODELS}profiles:\n  p:\n    description: {a: 1}\n    pins: {x: local}\n`).message).toBe(
      'config.yaml:13: profiles.p.description: expected a string, got a mapping',
    );
  });
});

/**
 * Peer models and selectors as targets: the peers and selectors are decoded by their own
 * modules, so their part of the config is given here by hand and the profile rules are run
 * on it as the loader runs them (after both are known).
 */
describe('profiles: targets among peers and selectors', () => {
  function validate(profilesYaml: string, extra: Partial<Config>): ReturnType<typeof validateProfiles> {
    const { root, sources, warnings } = parseYamlTree(profilesYaml, 'config.yaml');
    const drafts = decodeProfiles(Field.root({ root, sources, warnings }).get('profiles'));
    return validateProfiles(drafts, { ...load(MODELS), ...extra });
  }
  const peer = (id: string, models: string[]) => ({
    id,
    proxy: 'http://peer',
    apiKey: '',
    models,
    filters: { stripParams: [], setParams: {}, setParamsByID: {} } as never,
    timeouts: {} as never,
  });
  const peers = { remote: peer('remote', ['peer-model', 'shared']), other: peer('other', ['shared']) };
  const selector = {
    id: 'auto',
    strategy: 'warm' as const,
    targets: ['local'],
    spillover: 1,
    name: '',
    description: '',
    unlisted: false,
    metadata: {},
  };

  it('a peer model by FQN or by a bare id exactly one peer lists, and a selector, are known', () => {
    const out = validate('profiles:\n  p:\n    pins:\n      a: remote/peer-model\n      b: peer-model\n      c: other/shared\n      d: auto\n', {
      peers,
      selectors: { auto: selector },
    });
    expect(out.p?.pins).toEqual({ a: 'remote/peer-model', b: 'peer-model', c: 'other/shared', d: 'auto' });
  });

  it('a bare id two peers list is ambiguous, hence unknown', () => {
    expect(() => validate('profiles:\n  p:\n    pins:\n      x: shared\n', { peers })).toThrow(
      'config.yaml:4: profiles.p.pins.x references unknown model "shared"',
    );
  });

  it('a selector is unknown when no selector has that id', () => {
    expect(() => validate('profiles:\n  p:\n    pins:\n      x: auto\n', {})).toThrow('references unknown model "auto"');
  });
});
