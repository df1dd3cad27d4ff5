/**
 * The matrix DSL: tokenizer, parser, expansion. The tables port llama-swap's Go tests
 * (internal/matrix/dsl_test.go and friends; each case cites its Go test) with their inputs and
 * expected outputs; where Go only checks that a message contains a phrase, the full message
 * here is what llama-swap's code produces for that input.
 */
import { describe, expect, it } from 'vitest';
import {
  expandMatrixSets,
  matrixResolver,
  MatrixDslError,
  parseMatrixDsl,
  tokenizeMatrixDsl,
  type MatrixExpr,
  type MatrixSetDefinition,
} from '../../src/core/matrix-dsl.ts';
import { productDefinition } from './matrix-fixtures.ts';

/** Every identifier names a model of the same id (Go tests' compileIdentity). */
const identity = (models: readonly string[]) => matrixResolver({}, models);
/** The message of the MatrixDslError `f` throws, compared whole: the words are llama-swap's. */
function messageOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(MatrixDslError);
    return (e as Error).message;
  }
  throw new Error('expected an error');
}
const combos = (defs: MatrixSetDefinition[], models: readonly string[], name?: string) =>
  expandMatrixSets(defs, identity(models))
    .filter((s) => name === undefined || s.name === name)
    .map((s) => s.members);

describe('tokenizeMatrixDsl', () => {
  // Go: TestDSL_Tokenize
  it.each([
    { name: 'single identifier', input: 'abc', tokens: [['ident', 'abc']] },
    { name: 'identifier with hyphens and dots', input: 'model-name.v2', tokens: [['ident', 'model-name.v2']] },
    {
      name: 'operators and reference',
      input: '(a | +base) & b',
      tokens: [['lparen', '('], ['ident', 'a'], ['or', '|'], ['ref', 'base'], ['rparen', ')'], ['and', '&'], ['ident', 'b']],
    },
    // swapstate: underscores, unicode letters and digits are identifier characters too.
    { name: 'underscore and unicode', input: 'qwen_3 & modèle٣', tokens: [['ident', 'qwen_3'], ['and', '&'], ['ident', 'modèle٣']] },
  ])('$name', ({ input, tokens }) => {
    expect(tokenizeMatrixDsl(input)).toEqual([...tokens.map(([type, value]) => ({ type, value })), { type: 'eof', value: '' }]);
  });

  // Go: TestDSL_Tokenize (error cases); positions count runes.
  it.each([
    { name: 'empty ref', input: '+', message: "expected set name after '+' at position 1" },
    { name: 'invalid character', input: 'a @ b', message: "unexpected character '@' at position 2" },
    { name: 'position counts runes, not UTF-16 units', input: '😀x', message: "unexpected character '😀' at position 0" },
    { name: 'after a multi-unit rune', input: 'é😀 # ', message: "unexpected character '😀' at position 1" },
    { name: 'a quote is escaped as Go does', input: "a'", message: "unexpected character '\\'' at position 1" },
    { name: 'a ref followed by a non-identifier', input: 'a & +!', message: "expected set name after '+' at position 5" },
  ])('$name: $message', ({ input, message }) => {
    expect(messageOf(() => tokenizeMatrixDsl(input))).toBe(message);
  });
});

describe('parseMatrixDsl', () => {
  const id = (name: string): MatrixExpr => ({ kind: 'ident', name });

  it('& binds tighter than |, chains are flattened, parentheses group', () => {
    expect(parseMatrixDsl('a | b & c')).toEqual({ kind: 'or', children: [id('a'), { kind: 'and', children: [id('b'), id('c')] }] });
    expect(parseMatrixDsl('a & b & c')).toEqual({ kind: 'and', children: [id('a'), id('b'), id('c')] });
    expect(parseMatrixDsl('(a | b) & +base')).toEqual({
      kind: 'and',
      children: [{ kind: 'or', children: [id('a'), id('b')] }, { kind: 'ref', set: 'base' }],
    });
    expect(parseMatrixDsl('  ((a))  ')).toEqual(id('a'));
  });

  // Go: TestProgram_CompileErrors (the parse errors), plus the other branches of parseDSL.
  it.each([
    { name: 'empty expression', dsl: '', message: 'empty DSL expression' },
    { name: 'blank expression', dsl: ' \t\n', message: 'empty DSL expression' },
    { name: 'unmatched open paren', dsl: '(a', message: 'parse: missing closing parenthesis' },
    { name: 'unmatched close paren', dsl: 'a)', message: 'parse: unexpected token ")" after expression' },
    { name: 'empty parens', dsl: '()', message: 'parse: unexpected token ")"' },
    { name: 'dangling operator', dsl: 'a &', message: 'parse: unexpected token ""' },
    { name: 'leading operator', dsl: '| a', message: 'parse: unexpected token "|"' },
    { name: 'two operands without operator', dsl: 'a b', message: 'parse: unexpected token "b" after expression' },
    { name: 'tokenizer errors are prefixed', dsl: 'a @ b', message: "tokenize: unexpected character '@' at position 2" },
    // Positions are counted after trimming, as llama-swap trims before tokenizing.
    { name: 'position after trimming', dsl: '   a @', message: "tokenize: unexpected character '@' at position 2" },
  ])('$name: $message', ({ dsl, message }) => {
    expect(messageOf(() => parseMatrixDsl(dsl))).toBe(message);
  });
});

describe('expandMatrixSets', () => {
  // Go: TestProgram_Expressions
  it.each([
    { name: 'single model', dsl: 'a', models: ['a'], expect: [['a']] },
    { name: 'and', dsl: 'a & b', models: ['a', 'b'], expect: [['a', 'b']] },
    { name: 'or', dsl: 'a | b | c', models: ['a', 'b', 'c'], expect: [['a'], ['b'], ['c']] },
    {
      name: 'cartesian product',
      dsl: '(a | b) & (c | d)',
      models: ['a', 'b', 'c', 'd'],
      expect: [['a', 'c'], ['a', 'd'], ['b', 'c'], ['b', 'd']],
    },
    { name: 'precedence', dsl: 'a | b & c', models: ['a', 'b', 'c'], expect: [['a'], ['b', 'c']] },
    { name: 'deduplicates models', dsl: 'a & a', models: ['a'], expect: [['a']] },
    // Reference section 5.3's example.
    { name: 'reference example', dsl: '(g | q) & v & e', models: ['g', 'q', 'v', 'e'], expect: [['e', 'g', 'v'], ['e', 'q', 'v']] },
    // swapstate: identical combinations of one set are listed once, the first kept.
    { name: 'deduplicates combinations', dsl: '(a | b) & (a | b)', models: ['a', 'b'], expect: [['a'], ['a', 'b'], ['b']] },
  ])('$name: $dsl', ({ dsl, models, expect: want }) => {
    expect(combos([{ name: 'test', dsl }], models)).toEqual(want);
  });

  // Go: TestProgram_References
  it('references inline other sets, transitively', () => {
    const models = ['g', 'q', 'm', 'v', 'e'];
    const defs = [
      { name: 'llms', dsl: 'g | q | m' },
      { name: 'with_tts', dsl: '+llms & v' },
      { name: 'mega', dsl: '+with_tts & e' },
    ];
    expect(combos(defs, models, 'mega')).toEqual([
      ['e', 'g', 'v'],
      ['e', 'q', 'v'],
      ['e', 'm', 'v'],
    ]);
  });

  // Go: TestProgram_OverlappingReferences (the expansion half; the solver half is in the solver tests)
  it('a model named both directly and through a reference appears once', () => {
    const defs = [
      { name: 'base', dsl: 'a & b' },
      { name: 'extended', dsl: 'target & +base & b' },
    ];
    expect(combos(defs, ['target', 'a', 'b'], 'extended')).toEqual([['a', 'b', 'target']]);
  });

  it('sets come in topological order: a referenced set before its referrer, else config order', () => {
    const defs = [
      { name: 'big', dsl: '+mid & c' },
      { name: 'solo', dsl: 'd' },
      { name: 'mid', dsl: '+small & b' },
      { name: 'small', dsl: 'a' },
    ];
    const names = expandMatrixSets(defs, identity(['a', 'b', 'c', 'd'])).map((s) => s.name);
    expect(names).toEqual(['small', 'mid', 'big', 'solo']);
  });

  it('every combination carries its set name and expression as written', () => {
    expect(expandMatrixSets([{ name: 'gv', dsl: '  g & v ' }], identity(['g', 'v']))).toEqual([{ name: 'gv', dsl: '  g & v ', members: ['g', 'v'] }]);
  });

  it('vars resolve to real model ids; a var wins over a model of the same name', () => {
    const resolve = matrixResolver({ g: 'gemma-3-27b', q: 'qwen3', a: 'qwen3' }, ['gemma-3-27b', 'qwen3', 'a', 'whisper']);
    expect(expandMatrixSets([{ name: 's', dsl: '(g | a) & whisper' }], resolve).map((s) => s.members)).toEqual([
      ['gemma-3-27b', 'whisper'],
      ['qwen3', 'whisper'],
    ]);
  });

  // Go: TestProgram_NoExpansionLimit, scaled from 10^6 to 10^4 combinations: this expander
  // enumerates combinations where llama-swap solves symbolically (see the solver tests).
  it('a wide product expands completely', () => {
    const { definition, models } = productDefinition(4, 10);
    const sets = expandMatrixSets([definition], identity(models));
    expect(sets).toHaveLength(10 ** 4);
    expect(sets.every((s) => s.members.length === 5 && s.members.includes('target'))).toBe(true);
  });

  // Go: TestProgram_MoreThan64RelevantModels (the expansion half)
  it('a set of more than 64 models is one combination', () => {
    const models = ['target', ...Array.from({ length: 70 }, (_, i) => `model-${i}`)];
    const sets = expandMatrixSets([{ name: 'wide', dsl: models.join(' & ') }], identity(models));
    expect(sets).toHaveLength(1);
    expect(sets[0]!.members).toHaveLength(71);
  });
});

describe('expandMatrixSets errors (llama-swap messages, first error wins in llama-swap order)', () => {
  // Go: TestProgram_CompileErrors (models = {a}), full messages; plus TestProgram_UndefinedBareLeaf's exact one.
  it.each([
    { name: 'no sets', defs: [], message: 'matrix must define at least one set' },
    { name: 'empty expression', defs: [{ name: 's', dsl: '' }], message: 'set "s": empty DSL expression' },
    { name: 'unmatched open paren', defs: [{ name: 's', dsl: '(a' }], message: 'set "s": parse: missing closing parenthesis' },
    { name: 'unmatched close paren', defs: [{ name: 's', dsl: 'a)' }], message: 'set "s": parse: unexpected token ")" after expression' },
    { name: 'empty parens', defs: [{ name: 's', dsl: '()' }], message: 'set "s": parse: unexpected token ")"' },
    { name: 'unexpected character', defs: [{ name: 's', dsl: 'a @ b' }], message: `set "s": tokenize: unexpected character '@' at position 2` },
    { name: 'empty reference', defs: [{ name: 's', dsl: 'a & +' }], message: `set "s": tokenize: expected set name after '+' at position 5` },
    { name: 'unknown model', defs: [{ name: 's', dsl: 'missing' }], message: 'set "s": unknown var or model "missing"' },
    { name: 'bare leaf (Go: TestProgram_UndefinedBareLeaf)', defs: [{ name: 'bare', dsl: 'undefined' }], message: 'set "bare": unknown var or model "undefined"' },
    { name: 'unknown reference', defs: [{ name: 's', dsl: '+missing' }], message: 'set "s" references undefined set "missing"' },
    {
      name: 'reference cycle',
      defs: [
        { name: 'a', dsl: '+b' },
        { name: 'b', dsl: '+a' },
      ],
      message: 'circular reference detected involving set "a"',
    },
    { name: 'self reference', defs: [{ name: 'me', dsl: 'a & +me' }], message: 'circular reference detected involving set "me"' },
    {
      // The walk is pre-order, left to right: the leftmost bad leaf is reported.
      name: 'leftmost problem in a set wins',
      defs: [{ name: 's', dsl: '(x | +nope) & y' }],
      message: 'set "s": unknown var or model "x"',
    },
    {
      name: 'a reference error before an unknown model to its right',
      defs: [{ name: 's', dsl: '+nope & x' }],
      message: 'set "s" references undefined set "nope"',
    },
    {
      // Definitions are checked one after the other: an earlier set's bad leaf beats a later parse error.
      name: 'earlier set first',
      defs: [
        { name: 'one', dsl: 'zz' },
        { name: 'two', dsl: '(' },
      ],
      message: 'set "one": unknown var or model "zz"',
    },
    {
      // Cycles are looked for only after every set parsed and resolved.
      name: 'a later unknown model beats an earlier cycle',
      defs: [
        { name: 'c1', dsl: '+c2' },
        { name: 'c2', dsl: '+c1' },
        { name: 'c3', dsl: 'nope' },
      ],
      message: 'set "c3": unknown var or model "nope"',
    },
    {
      name: 'cycle reached through a chain names the set met twice',
      defs: [
        { name: 'top', dsl: '+x' },
        { name: 'x', dsl: '+y' },
        { name: 'y', dsl: 'a & +x' },
      ],
      message: 'circular reference detected involving set "x"',
    },
  ])('$name', ({ defs, message }) => {
    expect(messageOf(() => expandMatrixSets(defs, identity(['a'])))).toBe(message);
  });

  it('an alias or unknown var is not a model: only vars and model ids resolve', () => {
    const resolve = matrixResolver({ g: 'gemma' }, ['gemma']);
    expect(() => expandMatrixSets([{ name: 's', dsl: 'g & gemma-alias' }], resolve)).toThrow('set "s": unknown var or model "gemma-alias"');
  });
});
