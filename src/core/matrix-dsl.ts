/**
 * llama-swap's matrix DSL (reference sections 2.5 and 5.3): a set expression such as
 * `(g | q) & v & e` names the combinations of models that may run together. This module
 * parses one expression into an AST and expands an ordered list of named sets into their
 * combinations, each a sorted list of model ids.
 *
 * Every error message is llama-swap's, word for word, because a config that llama-swap
 * rejects must be rejected here with the same explanation (drop-in successor).
 *
 * Pure: no I/O, no logging; errors are thrown as MatrixDslError.
 */

/** A parse, resolution or expansion error, with llama-swap's message. */
export class MatrixDslError extends Error {
  override name = 'MatrixDslError';
}

export type MatrixTokenType = 'ident' | 'and' | 'or' | 'lparen' | 'rparen' | 'ref' | 'eof';

export interface MatrixToken {
  type: MatrixTokenType;
  /** The identifier or set name (`+` stripped), the operator's character, '' for eof. */
  value: string;
}

/**
 * A parsed expression. `&` and `|` chains are flattened into one node with all their
 * operands (llama-swap's shape), so `a & b & c` is one `and` with three children.
 */
export type MatrixExpr =
  /** A var or model id, as written; resolved to a model id during expansion. */
  | { kind: 'ident'; name: string }
  /** `+name`: the combinations of another set, inlined. */
  | { kind: 'ref'; set: string }
  | { kind: 'and'; children: MatrixExpr[] }
  | { kind: 'or'; children: MatrixExpr[] };

/** One `sets.<name>` entry, in the config's order. */
export interface MatrixSetDefinition {
  name: string;
  dsl: string;
}

/** One combination of a named set: models that may run together (any subset of them, too). */
export interface MatrixSet {
  /** The named set it comes from. */
  name: string;
  /** That set's expression as written in the config, for explanations and logs. */
  dsl: string;
  /** Sorted, without duplicates. */
  members: string[];
}

/** Maps a DSL identifier to a real model id; undefined when it names neither a var nor a model. */
export type MatrixResolver = (ident: string) => string | undefined;

// Go's unicode.IsLetter / IsDigit plus `_ - .`; IsDigit is the Nd category.
const IDENT_CHAR = /^[\p{L}\p{Nd}_.-]$/u;
// Go's unicode.IsSpace is the White_Space property (Latin-1 included).
const SPACE_CHAR = /^\p{White_Space}$/u;

const isIdentChar = (ch: string): boolean => IDENT_CHAR.test(ch);
const trimSpace = (s: string): string => s.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '');

/** A rune as Go's `%q` prints it ('@', '\'', '\\', '\n', '\x00', '\u200b'), for error messages. */
function goQuoteRune(ch: string): string {
  const named: Record<string, string> = { "'": "\\'", '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '\f': '\\f', '\b': '\\b', '\x07': '\\a' };
  const cp = ch.codePointAt(0) ?? 0;
  if (named[ch] !== undefined) return `'${named[ch]}'`;
  if (/^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch) || ch === ' ') return `'${ch}'`;
  if (cp < 0x80) return `'\\x${cp.toString(16).padStart(2, '0')}'`;
  if (cp <= 0xffff) return `'\\u${cp.toString(16).padStart(4, '0')}'`;
  return `'\\U${cp.toString(16).padStart(8, '0')}'`;
}

/**
 * Splits an expression into tokens, ending with `eof`. Positions in errors count runes (code
 * points), not bytes or UTF-16 units, as llama-swap's do.
 */
export function tokenizeMatrixDsl(input: string): MatrixToken[] {
  const runes = Array.from(input);
  const tokens: MatrixToken[] = [];
  const readIdent = (start: number): number => {
    let i = start;
    while (i < runes.length && isIdentChar(runes[i]!)) i++;
    return i;
  };
  const single: Record<string, MatrixTokenType> = { '&': 'and', '|': 'or', '(': 'lparen', ')': 'rparen' };

  for (let i = 0; i < runes.length; ) {
    const ch = runes[i]!;
    if (SPACE_CHAR.test(ch)) {
      i++;
    } else if (single[ch] !== undefined) {
      tokens.push({ type: single[ch], value: ch });
      i++;
    } else if (ch === '+') {
      const start = i + 1;
      const end = readIdent(start);
      if (end === start) throw new MatrixDslError(`expected set name after '+' at position ${start}`);
      tokens.push({ type: 'ref', value: runes.slice(start, end).join('') });
      i = end;
    } else if (isIdentChar(ch)) {
      const end = readIdent(i);
      tokens.push({ type: 'ident', value: runes.slice(i, end).join('') });
      i = end;
    } else {
      throw new MatrixDslError(`unexpected character ${goQuoteRune(ch)} at position ${i}`);
    }
  }
  tokens.push({ type: 'eof', value: '' });
  return tokens;
}

/**
 * Parses one set expression. Grammar (`&` binds tighter than `|`):
 *   or   := and ('|' and)*
 *   and  := atom ('&' atom)*
 *   atom := ident | '+' name | '(' or ')'
 * Messages: `empty DSL expression`, `tokenize: …`, `parse: …` (llama-swap's prefixes).
 */
export function parseMatrixDsl(input: string): MatrixExpr {
  const trimmed = trimSpace(input);
  if (trimmed === '') throw new MatrixDslError('empty DSL expression');

  let tokens: MatrixToken[];
  try {
    tokens = tokenizeMatrixDsl(trimmed);
  } catch (e) {
    throw new MatrixDslError(`tokenize: ${(e as Error).message}`);
  }

  let pos = 0;
  const peek = (): MatrixToken => tokens[pos] ?? { type: 'eof', value: '' };
  const next = (): MatrixToken => {
    const t = peek();
    if (t.type !== 'eof') pos++;
    return t;
  };
  const fail = (message: string): never => {
    throw new MatrixDslError(`parse: ${message}`);
  };

  // One helper for both binary levels: a single operand stays itself, a chain becomes one node.
  const chain = (kind: 'and' | 'or', op: MatrixTokenType, operand: () => MatrixExpr): MatrixExpr => {
    const first = operand();
    if (peek().type !== op) return first;
    const children = [first];
    while (peek().type === op) {
      next();
      children.push(operand());
    }
    return { kind, children };
  };
  const orExpr = (): MatrixExpr => chain('or', 'or', andExpr);
  const andExpr = (): MatrixExpr => chain('and', 'and', atom);
  const atom = (): MatrixExpr => {
    const t = next();
    switch (t.type) {
      case 'ident':
        return { kind: 'ident', name: t.value };
      case 'ref':
        return { kind: 'ref', set: t.value };
      case 'lparen': {
        const inner = orExpr();
        if (next().type !== 'rparen') fail('missing closing parenthesis');
        return inner;
      }
      default:
        return fail(`unexpected token ${JSON.stringify(t.value)}`);
    }
  };

  const root = orExpr();
  if (peek().type !== 'eof') fail(`unexpected token ${JSON.stringify(peek().value)} after expression`);
  return root;
}

/** Pre-order, left to right: the order in which llama-swap meets (and reports) bad leaves. */
function* nodesOf(e: MatrixExpr): Generator<MatrixExpr> {
  yield e;
  if (e.kind === 'and' || e.kind === 'or') for (const c of e.children) yield* nodesOf(c);
}

/**
 * The order sets are evaluated in, which is the solver's tie-break order: a depth-first walk
 * over the definitions in config order that puts every referenced set before the set
 * referencing it. Without references this is the config order.
 */
export function matrixSetOrder(definitions: readonly MatrixSetDefinition[], refs: ReadonlyMap<string, readonly string[]>): string[] {
  const state = new Map<string, 'visiting' | 'done'>();
  const order: string[] = [];
  const visit = (name: string): void => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') throw new MatrixDslError(`circular reference detected involving set ${JSON.stringify(name)}`);
    state.set(name, 'visiting');
    for (const dep of refs.get(name) ?? []) visit(dep);
    state.set(name, 'done');
    order.push(name);
  };
  for (const d of definitions) visit(d.name);
  return order;
}

const comboKey = (members: readonly string[]): string => members.join('\u0000');

/** Keeps the first of identical combinations: a duplicate can never win a tie against it. */
function dedupe(combos: string[][]): string[][] {
  const seen = new Set<string>();
  return combos.filter((c) => {
    const k = comboKey(c);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Sorted union of two sorted, duplicate-free lists. */
function mergeSorted(a: readonly string[], b: readonly string[]): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && x < y)) out.push(a[i++]!);
    else if (x === undefined || y < x) out.push(b[j++]!);
    else {
      out.push(a[i++]!);
      j++;
    }
  }
  return out;
}

/**
 * The combinations of an (already resolved) expression, in expression order: `|` lists its
 * operands' combinations one after the other, `&` takes the product left-major, so
 * `(a | b) & (c | d)` gives ac, ad, bc, bd.
 */
function combinations(e: MatrixExpr, ofSet: (name: string) => string[][]): string[][] {
  switch (e.kind) {
    case 'ident':
      return [[e.name]];
    case 'ref':
      return ofSet(e.set);
    case 'or':
      return dedupe(e.children.flatMap((c) => combinations(c, ofSet)));
    case 'and': {
      let acc: string[][] = [[]];
      for (const child of e.children) {
        const right = combinations(child, ofSet);
        acc = dedupe(acc.flatMap((l) => right.map((r) => mergeSorted(l, r))));
      }
      return acc;
    }
  }
}

/**
 * Parses, resolves and expands the configured sets. Checks run in llama-swap's order, so the
 * same config fails with the same first error: no sets at all; then each definition in config
 * order (its parse error, then its leaves and references left to right: an unknown var or
 * model, a reference to an undefined set); then the reference graph (a cycle).
 *
 * Returns every combination of every set, sets in evaluation order (matrixSetOrder), each
 * set's combinations in expression order. Identical combinations within one set are listed
 * once; the same combination in two sets is listed under both names.
 */
export function expandMatrixSets(definitions: readonly MatrixSetDefinition[], resolve: MatrixResolver): MatrixSet[] {
  if (definitions.length === 0) throw new MatrixDslError('matrix must define at least one set');

  const names = new Set(definitions.map((d) => d.name));
  const roots = new Map<string, MatrixExpr>();
  const refs = new Map<string, string[]>();
  const q = JSON.stringify;

  for (const d of definitions) {
    let root: MatrixExpr;
    try {
      root = parseMatrixDsl(d.dsl);
    } catch (e) {
      throw new MatrixDslError(`set ${q(d.name)}: ${(e as Error).message}`);
    }
    const deps: string[] = [];
    const resolveLeaves = (e: MatrixExpr): MatrixExpr => {
      if (e.kind === 'ident') return { kind: 'ident', name: resolve(e.name)! };
      if (e.kind === 'ref') return e;
      return { kind: e.kind, children: e.children.map(resolveLeaves) };
    };
    for (const n of nodesOf(root)) {
      if (n.kind === 'ident' && resolve(n.name) === undefined) {
        throw new MatrixDslError(`set ${q(d.name)}: unknown var or model ${q(n.name)}`);
      }
      if (n.kind === 'ref') {
        if (!names.has(n.set)) throw new MatrixDslError(`set ${q(d.name)} references undefined set ${q(n.set)}`);
        if (!deps.includes(n.set)) deps.push(n.set);
      }
    }
    roots.set(d.name, resolveLeaves(root));
    refs.set(d.name, deps);
  }

  const order = matrixSetOrder(definitions, refs);
  const expanded = new Map<string, string[][]>();
  // Topological order guarantees every referenced set is expanded before it is needed.
  const ofSet = (name: string): string[][] => expanded.get(name)!;
  const dslOf = new Map(definitions.map((d) => [d.name, d.dsl]));
  const out: MatrixSet[] = [];
  for (const name of order) {
    const combos = combinations(roots.get(name)!, ofSet);
    expanded.set(name, combos);
    for (const members of combos) out.push({ name, dsl: dslOf.get(name)!, members });
  }
  return out;
}

/**
 * The resolver llama-swap uses: a var first (a var wins over a model of the same name), then a
 * model id. Aliases are not model ids here.
 */
export function matrixResolver(vars: Readonly<Record<string, string>>, modelIds: Iterable<string>): MatrixResolver {
  const models = new Set(modelIds);
  return (ident) => (Object.hasOwn(vars, ident) ? vars[ident] : models.has(ident) ? ident : undefined);
}
