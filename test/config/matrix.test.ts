/**
 * The matrix router's config (reference 2.3, 2.5): both spellings, vars, evict_costs, the
 * sets compiled by the core's DSL at load, and swapstate's combination cap.
 */
import { describe, expect, it } from 'vitest';
import { MAX_MATRIX_COMBINATIONS } from '../../src/config/matrix.ts';
import { load, loadError, yaml } from './helpers.ts';

const MODELS = yaml`
  models:
    a: {proxy: "http://h:1", aliases: [alpha]}
    b: {proxy: "http://h:2"}
    c: {proxy: "http://h:3"}
`;

/** MODELS (4 lines) + a legacy top-level `matrix:` block whose body starts at line 6. */
const legacy = (body: string): string => MODELS + 'matrix:\n' + body.replace(/^(?=.)/gm, '  ');

describe('matrix router: spellings (reference 2.3)', () => {
  const BODY = 'vars:\n  x: a\nevict_costs:\n  x: 5\n  b: 2\nsets:\n  ab: "x & b"\n  one: "c | b"\n';

  it('the legacy top-level matrix and routing.router.use: matrix decode to the same Config.matrix', () => {
    const old = load(legacy(BODY));
    const routed = load(MODELS + 'routing:\n  router:\n    use: matrix\n    settings:\n      matrix:\n' + BODY.replace(/^(?=.)/gm, '        '));
    expect(old.router).toBe('matrix');
    expect(routed.router).toBe('matrix');
    expect(old.matrix).toEqual({
      sets: [
        { name: 'ab', dsl: 'x & b', members: ['a', 'b'] },
        { name: 'one', dsl: 'c | b', members: ['c'] },
        { name: 'one', dsl: 'c | b', members: ['b'] },
      ],
      evictCosts: { a: 5, b: 2 },
    });
    expect(routed.matrix).toEqual(old.matrix);
    expect(old.warnings).toEqual([]);
    expect(routed.warnings).toEqual([]);
  });

  it('the group router is the default, with no matrix', () => {
    const cfg = load(MODELS);
    expect(cfg.router).toBe('group');
    expect(cfg.matrix).toBeNull();
  });

  it('an unused settings.matrix next to use: group is neither compiled nor warned about', () => {
    const cfg = load(MODELS + 'routing:\n  router:\n    use: group\n    settings:\n      matrix: {sets: {s: nope}}\n');
    expect(cfg.router).toBe('group');
    expect(cfg.matrix).toBeNull();
    expect(cfg.warnings).toEqual([]);
  });

  it('use: matrix keeps settings.groups decoded (they do not decide swaps)', () => {
    const cfg = load(
      MODELS + 'routing:\n  router:\n    use: matrix\n    settings:\n      groups:\n        g: {members: [a]}\n      matrix: {sets: {s: a}}\n',
    );
    expect(cfg.router).toBe('matrix');
    expect(cfg.groups).toEqual({ g: { swap: true, exclusive: true, persistent: false, members: ['a'] } });
    expect(cfg.matrix?.sets).toEqual([{ name: 's', dsl: 'a', members: ['a'] }]);
  });

  it('rejects the legacy matrix together with routing.router', () => {
    expect(loadError(legacy('sets: {s: a}\n') + 'routing:\n  router:\n    use: matrix\n').message).toBe(
      "config.yaml:8: config uses both the legacy top-level 'matrix'/'groups' keys and the new 'routing.router' block; " +
        "please migrate the top-level keys into 'routing.router' and remove them",
    );
  });

  it('rejects legacy groups together with legacy matrix', () => {
    expect(loadError(MODELS + 'groups:\n  g: {members: [a]}\n' + 'matrix:\n  sets: {s: a}\n').message).toBe(
      "config.yaml:7: config cannot use both 'groups' and 'matrix'",
    );
  });

  it('rejects an unknown router and use: matrix without settings.matrix', () => {
    expect(loadError('routing:\n  router:\n    use: matrixx\n').message).toBe(
      'config.yaml:3: routing.router.use: unknown router "matrixx" (valid: group, matrix)',
    );
    expect(loadError(MODELS + 'routing:\n  router:\n    use: matrix\n    settings:\n      groups: {g: {members: [a]}}\n').message).toBe(
      "config.yaml:7: routing.router.use is 'matrix' but routing.router.settings.matrix is not set",
    );
  });
});

describe('matrix vars (reference 2.5)', () => {
  it('resolve to model ids; a var wins over a model of the same name', () => {
    const cfg = load(legacy('vars:\n  b: c\n  m.1-x: a\nsets:\n  s: "b & m.1-x"\n'));
    expect(cfg.matrix?.sets).toEqual([{ name: 's', dsl: 'b & m.1-x', members: ['a', 'c'] }]);
  });

  it('are optional: model ids work directly', () => {
    expect(load(legacy('sets:\n  s: "a & b"\n')).matrix?.sets[0]?.members).toEqual(['a', 'b']);
  });

  it('rejects a key outside ^[a-zA-Z0-9.-]{1,32}$ (no underscore)', () => {
    expect(loadError(legacy('vars:\n  a_b: a\nsets: {s: a}\n')).message).toBe(
      `config.yaml:7: var key "a_b" must contain only alphanumeric, '-' or '.' characters and be 1-32 characters long`,
    );
    expect(loadError(legacy(`vars:\n  ${'v'.repeat(33)}: a\nsets: {s: a}\n`)).message).toMatch(/^config\.yaml:7: var key "v{33}" must contain/);
  });

  it('rejects a value that is not a model id, an alias included', () => {
    expect(loadError(legacy('vars:\n  x: alpha\nsets: {s: a}\n')).message).toBe('config.yaml:7: var key "x" references unknown model "alpha"');
    expect(loadError(legacy('vars:\n  x: zz\nsets: {s: a}\n')).message).toBe('config.yaml:7: var key "x" references unknown model "zz"');
  });
});

describe('matrix evict_costs (reference 2.5)', () => {
  it('are keyed by real model id, vars resolved; unlisted models are absent (cost 1)', () => {
    const cfg = load(legacy('vars:\n  big: c\nevict_costs:\n  big: 10\n  a: 3\nsets: {s: "a & b & c"}\n'));
    expect(cfg.matrix?.evictCosts).toEqual({ c: 10, a: 3 });
  });

  it('reject a cost that is not a positive integer', () => {
    for (const bad of ['0', '-2']) {
      expect(loadError(legacy(`evict_costs:\n  a: ${bad}\nsets: {s: a}\n`)).message).toBe(
        'config.yaml:7: evict_cost for "a" must be a positive integer',
      );
    }
    expect(loadError(legacy('evict_costs:\n  a: 1.5\nsets: {s: a}\n')).message).toBe(
      'config.yaml:7: matrix.evict_costs.a: expected an integer, got number 1.5',
    );
  });

  it('reject a key that is neither a var nor a model id (an alias included)', () => {
    expect(loadError(legacy('evict_costs:\n  alpha: 2\nsets: {s: a}\n')).message).toBe(
      'config.yaml:7: evict_costs: unknown var or model "alpha"',
    );
  });
});

describe('matrix sets (reference 2.5): compiled at load, errors at the set line', () => {
  it('follow the evaluation order: referenced sets first, then definition order', () => {
    const cfg = load(legacy('sets:\n  big: "+pair & c"\n  pair: "a & b"\n  solo: "(a | b) & c"\n'));
    expect(cfg.matrix?.sets.map((s) => [s.name, s.members.join('+')])).toEqual([
      ['pair', 'a+b'],
      ['big', 'a+b+c'],
      ['solo', 'a+c'],
      ['solo', 'b+c'],
    ]);
  });

  it('at least one set', () => {
    expect(loadError(legacy('vars: {x: a}\n')).message).toBe('config.yaml:5: matrix must define at least one set');
    expect(loadError(legacy('sets: {}\n')).message).toBe('config.yaml:6: matrix must define at least one set');
  });

  const cases: Array<[string, string, string]> = [
    ['empty expression', '""', 'set "bad": empty DSL expression'],
    ['unexpected character', '"a @ b"', `set "bad": tokenize: unexpected character '@' at position 2`],
    ['unexpected token', '"a & | b"', 'set "bad": parse: unexpected token "|"'],
    ['missing parenthesis', '"(a & b"', 'set "bad": parse: missing closing parenthesis'],
    ['trailing token', '"a b"', 'set "bad": parse: unexpected token "b" after expression'],
    ['unknown var or model', '"a & alpha"', 'set "bad": unknown var or model "alpha"'],
    ['undefined set', '"+nope & a"', 'set "bad" references undefined set "nope"'],
  ];
  it.each(cases)('%s', (_, dsl, message) => {
    expect(loadError(legacy(`sets:\n  ok: a\n  bad: ${dsl}\n`)).message).toBe(`config.yaml:8: ${message}`);
  });

  it('a circular reference, at the set named', () => {
    expect(loadError(legacy('sets:\n  x: "+y"\n  y: "+x & a"\n')).message).toBe(
      'config.yaml:7: circular reference detected involving set "x"',
    );
  });
});

describe('matrix combination cap (swapstate deviation)', () => {
  /** Models m0..m(n-1) and a set that is the product of `factors` OR-groups of `width` models each. */
  const product = (factors: number, width: number): string => {
    const ids = Array.from({ length: factors * width }, (_, i) => `m${i}`);
    const models = 'models:\n' + ids.map((id) => `  ${id}: {proxy: "http://h:1"}\n`).join('');
    const groups = Array.from({ length: factors }, (_, f) => `(${ids.slice(f * width, (f + 1) * width).join(' | ')})`);
    return models + `matrix:\n  sets:\n    huge: "${groups.join(' & ')}"\n`;
  };

  it(`accepts exactly ${MAX_MATRIX_COMBINATIONS} combinations`, () => {
    expect(load(product(4, 10)).matrix?.sets).toHaveLength(10_000);
  });

  it('rejects more, counted exactly when the count is cheap', () => {
    // 10 * 10 * 10 * 10 + 1 combination of a second set
    const text = product(4, 10) + '    one: m0\n';
    expect(loadError(text).message).toBe('config.yaml:43: matrix: the sets expand to 10001 combinations; swapstate supports at most 10000');
  });

  it('counts duplicates once', () => {
    // (a|b|c) & ... ten times: 3^10 = 59049 before de-duplication, the 7 non-empty subsets of {a, b, c} after
    const text = MODELS + 'matrix:\n  sets:\n    s: "' + Array(10).fill('(a | b | c)').join(' & ') + '"\n';
    expect(load(text).matrix?.sets).toHaveLength(7);
  });

  it('rejects a huge product by its bound, without expanding it', () => {
    const started = Date.now();
    const err = loadError(product(40, 2));
    expect(err.message).toBe(
      `config.yaml:83: matrix: the sets can expand to as many as ${2 ** 40} combinations (counted before removing duplicates); ` +
        'swapstate supports at most 10000',
    );
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
