/**
 * Typed reading of the expanded tree: one `Field` per value, knowing its path (for messages)
 * and its `file:line` (for `ConfigError.where`).
 *
 * Go's YAML decoder names a type error by line only (`line 7: cannot unmarshal !!str into
 * int`); we name the key path as well. Unknown keys are ignored as in llama-swap, but each
 * leaves a warning (with a "did you mean" when a known key is close), because a misspelt key
 * (`tll: 60`) silently doing nothing is the most common config mistake. A top-level near miss
 * fails the load before decoding starts (top-level-keys.ts).
 */
import { nearestName } from './did-you-mean.ts';
import { ConfigError } from './config-error.ts';
import { formatPath, toPlain, type PathSegment, type RawMap, type RawValue, type SourceMap } from './yaml-tree.ts';

export interface DecodeContext {
  readonly root: RawMap;
  readonly sources: SourceMap;
  readonly warnings: string[];
}

export class Field {
  constructor(
    readonly ctx: DecodeContext,
    readonly path: readonly PathSegment[],
    readonly value: RawValue | undefined,
    private readonly parent?: RawMap | RawValue[],
  ) {}

  static root(ctx: DecodeContext): Field {
    return new Field(ctx, [], ctx.root);
  }

  /** `models.m.ttl` */
  get name(): string {
    return formatPath(this.path);
  }

  get where(): string | undefined {
    return this.ctx.sources.where(this.ctx.root, this.path);
  }

  /** Absent or YAML null: the default applies. */
  get isSet(): boolean {
    return this.value !== undefined && this.value !== null;
  }

  fail(message: string): never {
    throw new ConfigError(message, this.where);
  }

  int(fallback: number): number {
    if (!this.isSet) return fallback;
    if (typeof this.value !== 'number' || !Number.isInteger(this.value)) this.expected('an integer');
    // Past 2^53 a YAML integer is silently rounded (2^53 + 1 reads as 2^53): refuse it rather
    // than use a value the file does not say.
    if (!Number.isSafeInteger(this.value)) {
      const limit = Number.MAX_SAFE_INTEGER;
      this.fail(`${this.name}: expected an integer between -${limit} and ${limit}, got ${this.sourceText() ?? String(this.value)}`);
    }
    return this.value;
  }

  bool(fallback: boolean): boolean {
    if (!this.isSet) return fallback;
    if (typeof this.value !== 'boolean') this.expected('a boolean (true or false)');
    return this.value;
  }

  /** A scalar as text; numbers and booleans as written in the file (`1.10` stays `1.10`). */
  string(fallback = ''): string {
    if (!this.isSet) return fallback;
    const value = this.value;
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return this.sourceText() ?? String(value);
    this.expected('a string');
  }

  /** The text of a plain non-string scalar as written in the file, when known. */
  private sourceText(): string | undefined {
    const key = this.path[this.path.length - 1];
    return this.parent && key !== undefined ? this.ctx.sources.get(this.parent, key)?.source : undefined;
  }

  stringList(): string[] {
    return this.items().map((item) => item.string());
  }

  items(): Field[] {
    if (!this.isSet) return [];
    const list = this.value;
    if (!Array.isArray(list)) this.expected('a list');
    return list.map((item, index) => new Field(this.ctx, [...this.path, index], item, list));
  }

  /** Entries of a mapping (none when absent). */
  entries(): Array<[string, Field]> {
    const map = this.mapping();
    return [...map.keys()].map((key) => [key, this.get(key)]);
  }

  get(key: string): Field {
    const map = this.mapping();
    return new Field(this.ctx, [...this.path, key], map.get(key), map);
  }

  /**
   * The entry `key` of the mapping this field is an entry of: a model key's neighbour, for a
   * rule that needs two keys of one model (sleepEndpoints needs wakeEndpoints).
   */
  sibling(key: string): Field {
    const parent = this.parent;
    if (!(parent instanceof Map)) throw new Error(`${this.name} is not an entry of a mapping`);
    return new Field(this.ctx, [...this.path.slice(0, -1), key], parent.get(key), parent);
  }

  has(key: string): boolean {
    return this.mapping().has(key);
  }

  /**
   * Asserts a mapping and warns about keys outside `known`; keys in `unsupported` are
   * llama-swap features swapstate does not implement yet, and say so. A key close to a known
   * one gets a hint: `unknown key "models.m.tll" ignored (did you mean "ttl"?)`.
   */
  keys(known: readonly string[], unsupported: readonly string[] = []): this {
    for (const key of this.mapping().keys()) {
      if (known.includes(key)) continue;
      const child = this.get(key);
      const at = child.where ?? this.ctx.sources.file;
      this.ctx.warnings.push(
        unsupported.includes(key)
          ? `${at}: "${child.name}" is not supported yet by swapstate; ignored`
          : `${at}: unknown key "${child.name}" ignored${didYouMean(key, [...known, ...unsupported])}`,
      );
    }
    return this;
  }

  /** The value as plain JSON-like data (for `metadata`, `setParams`). */
  plainObject(): Record<string, unknown> {
    return toPlain(this.mapping()) as Record<string, unknown>;
  }

  private mapping(): RawMap {
    if (!this.isSet) return new Map();
    if (!(this.value instanceof Map)) this.expected('a mapping');
    return this.value;
  }

  private expected(what: string): never {
    this.fail(`${this.name}: expected ${what}, got ${describeValue(this.value)}`);
  }
}

/**
 * ` (did you mean "ttl"?)` when `key` is close to a known key, else ''. Two edits count as
 * close, one for keys of three characters or fewer (else `id` would suggest every short key).
 */
function didYouMean(key: string, known: readonly string[]): string {
  const meant = nearestName(key, known, key.length <= 3 ? 1 : 2);
  return meant === null ? '' : ` (did you mean ${JSON.stringify(meant)}?)`;
}

/** `string "abc"`, `number 1.5`, `a mapping`: the "got" half of a type error. */
export function describeValue(value: RawValue | undefined): string {
  if (value === undefined || value === null) return 'nothing';
  if (value instanceof Map) return 'a mapping';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
  return `${typeof value} ${String(value)}`;
}
