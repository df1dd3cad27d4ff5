/**
 * What one key of a `models.<id>` entry is, said once: how it is read from the file, how its
 * effective value follows from the global keys, the rules it must meet and how a leftover
 * macro in it is worded. The table of these (model-fields.ts) is the only list of model keys;
 * the decoded types, the known keys, the decoder and the messages are all read from it by
 * the runners below, so a new key is one new entry.
 *
 * The same entry also says how the key appears in the JSON Schema of config.yaml (`schema`),
 * so the schema cannot fall behind the table.
 *
 * The runners go key by key in table order, which is therefore also the order errors are
 * found in: type errors while decoding, then the `resolve` rules, then (after the rules that
 * need every model, in validate-models.ts) the `check` rules.
 */
import type { Field } from './field.ts';
import type { JsonSchema } from './schema-shapes.ts';

/** The global keys a model's effective values fall back to. */
export interface ModelGlobals {
  globalTTL: number;
  unloadTimeout: number;
  sendLoadingState: boolean;
  /** Seconds per sleep call of an endpoint without its own `timeout`. */
  sleepRequestTimeout: number;
  /** Seconds per wake call of an endpoint without its own `timeout`. */
  wakeRequestTimeout: number;
}

/** What a key's rules know besides its own value. */
export interface ModelFieldContext {
  /** The model id, as messages name it (`model m: ...`). */
  id: string;
  /** The key's own Field: `where` for messages, and its items and sub-keys. */
  field: Field;
  globals: ModelGlobals;
}

/**
 * How a macro still unresolved after expansion is worded when found in this key (llama-swap
 * words it by key, reference 2.16): `named` as `unknown macro '${x}' found in M.<key>` when
 * the key's own value holds it; `block` as `model M <key>: unknown macro '${x}'` wherever in
 * the key it sits. Without one, the message names the dotted path inside the model.
 */
export type LeftoverStyle = 'named' | 'block';

/** A key's LeftoverStyle, or (for a mapping) the sub-keys whose leftovers are `named`. */
export type LeftoverMacros = LeftoverStyle | Readonly<Record<string, 'named'>>;

export interface ModelField<Draft, Value> {
  /** Reads the key as written: type checked, the default applied when absent. */
  decode(field: Field): Draft;
  /**
   * The effective value: the defaults that depend on global keys or on the model id, and
   * llama-swap's rules for this key. Without it the value is the draft.
   */
  resolve?(draft: Draft, at: ModelFieldContext): Value;
  /**
   * A rule swapstate adds where llama-swap has none. It runs after every llama-swap rule of
   * the model, setParamsByID's aliases included, so a config llama-swap rejects fails here
   * with llama-swap's message.
   */
  check?(value: Value, at: ModelFieldContext): void;
  /** How a leftover macro in the key is worded (LeftoverStyle); by default, by its path. */
  leftoverMacros?: LeftoverMacros;
  /**
   * The key in config-schema.json (config-schema.ts): its shape, as loose as `decode`, and the
   * text an editor shows on hover. Optional in the type so a table can be built up in steps,
   * but the generator refuses a table with an entry lacking one (and its test fails).
   */
  schema?: JsonSchema;
}

/**
 * An entry of a field table, its types inferred: the draft type from `decode`, the value type
 * from `resolve` (the draft's when there is none), so no entry states a type of its own.
 */
export function modelField<Draft, Value>(
  spec: ModelField<Draft, Value> & Required<Pick<ModelField<Draft, Value>, 'resolve'>>,
): ModelField<Draft, Value>;
export function modelField<Draft>(spec: Omit<ModelField<Draft, Draft>, 'resolve'>): ModelField<Draft, Draft>;
export function modelField(spec: ModelField<unknown, unknown>): ModelField<unknown, unknown> {
  return spec;
}

/** Any field table, whatever the types of its entries (each has types of its own). */
export type FieldTable = Readonly<Record<string, ModelField<any, any>>>;

/** What `decode` gives for every key of the table. */
export type Drafts<T extends FieldTable> = { [K in keyof T]: T[K] extends ModelField<infer Draft, any> ? Draft : never };

/** The effective value of every key of the table. */
export type Values<T extends FieldTable> = { [K in keyof T]: T[K] extends ModelField<any, infer Value> ? Value : never };

/**
 * Decodes a mapping by its table: keys outside the table warn (with a "did you mean" among the
 * table's keys and `unsupported`), then each key is decoded in table order.
 */
export function decodeFields<T extends FieldTable>(field: Field, table: T, unsupported: readonly string[]): Drafts<T> {
  field.keys(Object.keys(table), unsupported);
  // Built key by key from the table, so it has exactly the table's keys and their types.
  return Object.fromEntries(Object.entries(table).map(([key, spec]) => [key, spec.decode(field.get(key))])) as Drafts<T>;
}

/** Every key's effective value, in table order; the first rule broken throws. */
export function resolveFields<T extends FieldTable>(drafts: Drafts<T>, table: T, at: (key: string) => ModelFieldContext): Values<T> {
  const draftOf = (key: string): unknown => (drafts as Record<string, unknown>)[key];
  return Object.fromEntries(
    Object.entries(table).map(([key, spec]) => [key, spec.resolve ? spec.resolve(draftOf(key), at(key)) : draftOf(key)]),
  ) as Values<T>;
}

/** swapstate's own rules (`check`), in table order; the first broken throws. */
export function checkFields<T extends FieldTable>(values: Values<T>, table: T, at: (key: string) => ModelFieldContext): void {
  for (const [key, spec] of Object.entries(table)) spec.check?.((values as Record<string, unknown>)[key], at(key));
}
