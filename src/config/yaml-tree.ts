/**
 * The untyped value tree the loader works on between parsing and typed decoding, plus the
 * source positions that let every later error say `file:line`.
 *
 * llama-swap expands macros on an untyped tree (so `${ctx}` can become an integer before a
 * typed field sees it) and only then decodes into its structs. We do the same, but the `yaml`
 * AST is awkward to rewrite in place and plain objects reorder integer-like keys, so the tree
 * is made of `Map`s (declaration order matters for macros), arrays and scalars. Positions are
 * kept beside the tree in a `SourceMap` keyed by container identity: macro substitution
 * mutates containers in place, so the positions stay attached to the right entries.
 */
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  visit,
  type Alias,
  type Document,
  type Node as YamlNode,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import { MAX_ALIAS_VALUES, MAX_NESTING } from './limits.ts';
import { ConfigError } from './config-error.ts';
import { composeYaml } from './yaml-document.ts';

export type RawScalar = string | number | boolean | null;
export type RawMap = Map<string, RawValue>;
export type RawValue = RawScalar | RawMap | RawValue[];
export type PathSegment = string | number;

/** Where an entry of a mapping or list came from. */
export interface Origin {
  /** 1-based line of the key (mappings) or of the item (lists). */
  line: number;
  /** Source text of a non-string plain scalar (`1.10`, `0x10`), so a string field keeps it as written. */
  source?: string;
  /**
   * The file the entry came from, when it is not the map's own `file`: a tree merged from
   * several files (`-config-dir`, merge-sources.ts) keeps each entry's file and line.
   */
  file?: string;
}

/** Source positions of the entries of every container in one tree. */
export class SourceMap {
  private readonly origins = new WeakMap<object, Map<PathSegment, Origin>>();

  constructor(readonly file: string) {}

  set(container: RawMap | RawValue[], key: PathSegment, origin: Origin): void {
    let entries = this.origins.get(container);
    if (!entries) {
      entries = new Map();
      this.origins.set(container, entries);
    }
    entries.set(key, origin);
  }

  get(container: RawMap | RawValue[], key: PathSegment): Origin | undefined {
    return this.origins.get(container)?.get(key);
  }

  /** Moves the origins of renamed mapping keys (setParamsByID keys are the only keys rewritten). */
  rename(container: RawMap, renames: ReadonlyArray<readonly [from: string, to: string]>): void {
    const entries = this.origins.get(container);
    if (!entries) return;
    const moved = renames.map(([from, to]) => [to, entries.get(from)] as const);
    for (const [from] of renames) entries.delete(from);
    for (const [to, origin] of moved) if (origin) entries.set(to, origin);
  }

  /**
   * `file:line` of the deepest entry of `path` that exists in the tree, so an error about a
   * missing or defaulted key still points at its parent (a model without `proxy` points at
   * the model).
   */
  where(root: RawMap, path: readonly PathSegment[]): string | undefined {
    let node: RawValue | undefined = root;
    let origin: Origin | undefined;
    for (const segment of path) {
      if (node instanceof Map && typeof segment === 'string' && node.has(segment)) {
        origin = this.get(node, segment) ?? origin;
        node = node.get(segment);
      } else if (Array.isArray(node) && typeof segment === 'number' && segment < node.length) {
        origin = this.get(node, segment) ?? origin;
        node = node[segment];
      } else {
        break;
      }
    }
    return origin === undefined ? undefined : `${origin.file ?? this.file}:${origin.line}`;
  }

  whereLine(line: number): string {
    return `${this.file}:${line}`;
  }
}

export interface ParsedTree {
  root: RawMap;
  sources: SourceMap;
  /** `yaml`'s own warnings (unresolved tags, ...), already prefixed with `file:line`. */
  warnings: string[];
}

/**
 * Parses YAML text into a `RawMap` tree. Duplicate keys are an error (as in Go's yaml.v3);
 * anchors, aliases and `<<` merge keys are materialized, each alias as a fresh copy because
 * macro expansion later rewrites every model's copy differently (`${MODEL_ID}`).
 *
 * Bounded, so a hostile or broken file fails fast instead of hanging a reload: at most
 * MAX_NESTING levels deep, at most MAX_ALIAS_VALUES values created by aliases (the text's
 * size is bounded by the caller, see config-text.ts).
 */
export function parseYamlTree(text: string, file: string): ParsedTree {
  const sources = new SourceMap(file);
  const lineCounter = new LineCounter();
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;

  const composed = composeYaml(text, lineCounter, MAX_NESTING);
  if ('tooDeepAt' in composed) throw new ConfigError(`invalid YAML: ${TOO_DEEP}`, sources.whereLine(lineAt(composed.tooDeepAt)));
  const { doc } = composed;

  const [syntax] = doc.errors;
  if (syntax) {
    const message = syntax.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? 'syntax error';
    throw new ConfigError(`invalid YAML: ${message}`, sources.whereLine(lineAt(syntax.pos[0])));
  }
  const warnings = doc.warnings.map((w) => `${sources.whereLine(lineAt(w.pos[0]))}: YAML warning: ${w.message.split('\n')[0]}`);

  const builder = new TreeBuilder(doc, sources, lineAt);
  const contents = doc.contents;
  if (contents === null || (isScalar(contents) && contents.value === null)) {
    return { root: new Map(), sources, warnings };
  }
  const root = builder.build(contents);
  if (!(root instanceof Map)) {
    const line = contents.range ? lineAt(contents.range[0]) : 1;
    throw new ConfigError('the top level of the config must be a mapping', sources.whereLine(line));
  }
  return { root, sources, warnings };
}

const TOO_DEEP = `collections nested more than ${MAX_NESTING} levels deep`;

class TreeBuilder {
  /** Nodes being built right now: an alias back to one of them would never end. */
  private readonly building = new Set<YamlNode>();
  /** What each alias refers to, found once (`Alias.resolve` walks the whole document per call). */
  private readonly targets: Map<Alias, unknown>;
  /** Collections open right now, aliases expanded included. */
  private depth = 0;
  /** The outermost alias being expanded right now (where an alias bomb is reported), if any. */
  private expanding: Alias | null = null;
  /** Values created by aliases so far. */
  private aliasValues = 0;

  constructor(
    doc: Document,
    private readonly sources: SourceMap,
    private readonly lineAt: (offset: number) => number,
  ) {
    this.targets = aliasTargets(doc);
  }

  build(node: unknown): RawValue {
    if (node === null || node === undefined) return null;
    if (this.expanding && ++this.aliasValues > MAX_ALIAS_VALUES) {
      this.fail(this.expanding, `aliases expand to more than ${MAX_ALIAS_VALUES} values`);
    }
    if (isAlias(node)) return this.buildAlias(node);
    if (isScalar(node)) return scalarValue(node.value);
    if (isMap(node) || isSeq(node)) {
      if (this.building.has(node)) this.fail(node, 'an alias refers to a node that contains it');
      if (this.depth >= MAX_NESTING) this.fail(node, TOO_DEEP);
      this.building.add(node);
      this.depth++;
      try {
        return isMap(node) ? this.buildMap(node) : this.buildSeq(node);
      } finally {
        this.depth--;
        this.building.delete(node);
      }
    }
    this.fail(node, 'unsupported YAML node');
  }

  private buildAlias(alias: Alias): RawValue {
    const outermost = this.expanding === null;
    if (outermost) this.expanding = alias;
    try {
      return this.build(this.resolve(alias));
    } finally {
      if (outermost) this.expanding = null;
    }
  }

  private buildMap(node: YAMLMap): RawMap {
    const map: RawMap = new Map();
    const merges: unknown[] = [];
    for (const pair of node.items) {
      const key = this.keyOf(pair.key, pair.value);
      if (key === MERGE) {
        merges.push(pair.value);
        continue;
      }
      if (map.has(key)) this.fail(pair.key ?? pair.value, 'Map keys must be unique');
      map.set(key, this.build(pair.value));
      this.sources.set(map, key, { line: this.lineOf(pair.key ?? pair.value), ...plainSource(pair.value) });
    }
    // `<<` merge keys (YAML 1.1, honoured by Go's yaml.v3): explicit keys win, then earlier merges.
    for (const merge of merges) {
      const sourcesToMerge = isSeq(merge) ? merge.items : [merge];
      for (const item of sourcesToMerge) {
        const merged = this.build(item);
        if (!(merged instanceof Map)) this.fail(item, 'a `<<` merge key needs a mapping or a list of mappings');
        for (const [k, v] of merged) {
          if (map.has(k)) continue;
          map.set(k, v);
          const origin = this.sources.get(merged, k);
          if (origin) this.sources.set(map, k, origin);
        }
      }
    }
    return map;
  }

  private buildSeq(node: YAMLSeq): RawValue[] {
    const list: RawValue[] = [];
    node.items.forEach((item, index) => {
      list.push(this.build(item));
      this.sources.set(list, index, { line: this.lineOf(item), ...plainSource(item) });
    });
    return list;
  }

  private keyOf(key: unknown, value: unknown): string | typeof MERGE {
    if (key === null || key === undefined) return '';
    const node = isAlias(key) ? this.resolve(key) : key;
    if (!isScalar(node)) this.fail(key ?? value, 'mapping keys must be plain scalars');
    if (typeof node.value === 'symbol') return MERGE;
    if (typeof node.value === 'string') return node.value;
    if (node.value === null) return '';
    return node.source ?? String(node.value);
  }

  private resolve(alias: Alias): unknown {
    const target = this.targets.get(alias);
    if (!target) this.fail(alias, `unknown alias *${alias.source}`);
    return target;
  }

  private lineOf(node: unknown): number {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    return range ? this.lineAt(range[0]) : 1;
  }

  private fail(node: unknown, message: string): never {
    throw new ConfigError(`invalid YAML: ${message}`, this.sources.whereLine(this.lineOf(node)));
  }
}

/**
 * Each alias's node: the last node before it (in document order) carrying its anchor, which is
 * `Alias.resolve`'s rule, found in one walk for all aliases.
 */
function aliasTargets(doc: Document): Map<Alias, unknown> {
  const anchored = new Map<string, unknown>();
  const targets = new Map<Alias, unknown>();
  visit(doc, {
    Node: (_key, node) => {
      if (isAlias(node)) targets.set(node, anchored.get(node.source));
      else if (node.anchor) anchored.set(node.anchor, node);
    },
  });
  return targets;
}

const MERGE = Symbol('merge');

function scalarValue(value: unknown): RawScalar {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return Number(value);
  return String(value);
}

/** Keeps `1.10` as written when a string field receives a plain number. */
function plainSource(node: unknown): { source?: string } {
  if (isScalar(node) && typeof node.value !== 'string' && typeof node.source === 'string') {
    return { source: node.source };
  }
  return {};
}

/** `models.m.filters.setParams[0]`: the path style of every message the loader emits. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out;
}

/** Turns a raw subtree into plain JSON-like values (mappings become objects). */
export function toPlain(value: RawValue | undefined): unknown {
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [k, toPlain(v)]));
  if (Array.isArray(value)) return value.map(toPlain);
  return value;
}
