/**
 * The pieces config-schema.json is built from (config-schema.ts): a typed JSON Schema
 * (draft-07, the newest yaml-language-server supports) and helpers for the shapes the
 * decoders read, so each decoder states its key's schema in one short line next to itself.
 *
 * The schema checks the file as an editor sees it, before the loader's steps run, and a
 * schema error must never be raised for a config that loads. Hence the helpers are as loose
 * as the decoders (Field in field.ts), never stricter:
 *
 * - every value may be YAML null (`ttl:`): a Field treats null as absent, its default applies;
 * - a text key takes any scalar: `Field.string()` reads `name: 1.10` as the text "1.10";
 * - a typed scalar (integer, boolean, one of some words) may be written as a string holding
 *   `${...}`: macros and `${env.NAME}` are expanded before the typed decode, so
 *   `ttl: ${idle}` is an integer once loaded;
 * - a mapping or a list may be a string holding `${env.NAME}`, which is replaced in the text
 *   before parsing and so may stand for a whole flow collection;
 * - no level forbids unknown keys: the loader ignores them with a warning (as llama-swap
 *   ignores them), so the schema lists the known ones for completion and hover only.
 */

export type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array' | 'null';

/** The subset of draft-07 the generated schema uses. */
export interface JsonSchema {
  $schema?: string;
  $id?: string;
  title?: string;
  description?: string;
  type?: JsonType | readonly JsonType[];
  properties?: Readonly<Record<string, JsonSchema>>;
  additionalProperties?: JsonSchema | boolean;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  anyOf?: readonly JsonSchema[];
  enum?: ReadonlyArray<string | number | boolean | null>;
  pattern?: string;
  maxLength?: number;
  not?: JsonSchema;
  minimum?: number;
  maximum?: number;
  default?: unknown;
  examples?: readonly unknown[];
}

/** A value still holding a `${...}` reference: a macro or `${env.NAME}`, expanded before decoding. */
export const MACRO_TEXT: JsonSchema = { type: 'string', pattern: '\\$\\{[^}]+\\}' };

/** A value holding `${env.NAME}`: replaced in the text before parsing, so it may be a whole collection. */
export const ENV_TEXT: JsonSchema = { type: 'string', pattern: '\\$\\{env\\.[A-Za-z_][A-Za-z0-9_]*\\}' };

/** What `Field.string()` accepts: any scalar (numbers and booleans as written), or null. */
const SCALAR: JsonSchema = { type: ['string', 'number', 'boolean', 'null'] };

interface Extras {
  default?: unknown;
  examples?: readonly unknown[];
}

/** Keeps `default` / `examples` only when given, so the JSON has no `"default": undefined` noise. */
function described(description: string, extras: Extras = {}): JsonSchema {
  return { description, ...extras };
}

/** Free text (`Field.string()`): any scalar. */
export function text(description: string, extras?: Extras): JsonSchema {
  return { ...described(description, extras), ...SCALAR };
}

/** An integer (`Field.int()`), within the bounds the loader enforces. */
export function integer(description: string, bounds: { minimum?: number; maximum?: number } & Extras = {}): JsonSchema {
  const { minimum, maximum, ...extras } = bounds;
  const range = { ...(minimum === undefined ? {} : { minimum }), ...(maximum === undefined ? {} : { maximum }) };
  return { ...described(description, extras), anyOf: [{ type: ['integer', 'null'], ...range }, MACRO_TEXT] };
}

/** `true` or `false` (`Field.bool()`). */
export function boolean(description: string, extras?: Extras): JsonSchema {
  return { ...described(description, extras), anyOf: [{ type: ['boolean', 'null'] }, MACRO_TEXT] };
}

/**
 * One of `words`, where the loader rejects anything else. With `anyCase`, the loader compares
 * case-insensitively, so the pattern does too (draft-07 patterns have no `i` flag).
 */
export function oneOf(description: string, words: readonly string[], extras: Extras & { anyCase?: boolean } = {}): JsonSchema {
  const { anyCase, ...rest } = extras;
  const exact: JsonSchema = anyCase
    ? { type: 'string', pattern: `^(${words.map(anyCasePattern).join('|')})$`, examples: words }
    : { enum: [...words, null] };
  return { ...described(description, rest), anyOf: [exact, ...(anyCase ? [{ type: 'null' as const }] : []), MACRO_TEXT] };
}

/** `get` -> `[gG][eE][tT]` */
function anyCasePattern(word: string): string {
  return [...word].map((c) => (c.toLowerCase() === c.toUpperCase() ? c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : `[${c.toLowerCase()}${c.toUpperCase()}]`)).join('');
}

/** A list of texts (`Field.stringList()`). */
export function textList(description: string, extras?: Extras): JsonSchema {
  return { ...described(description, extras), anyOf: [{ type: ['array', 'null'], items: SCALAR }, ENV_TEXT] };
}

/** A list whose items have a schema of their own. */
export function listOf(description: string, item: JsonSchema): JsonSchema {
  return { description, anyOf: [{ type: ['array', 'null'], items: item }, ENV_TEXT] };
}

/** A mapping with known keys (unknown ones warn in the loader, so they are allowed here). */
export function block(description: string, properties: Readonly<Record<string, JsonSchema>>): JsonSchema {
  return { description, anyOf: [{ type: ['object', 'null'], properties }, ENV_TEXT] };
}

/** A mapping whose keys are names (models, groups, peers...), each value of one schema. */
export function mapOf(description: string, value: JsonSchema, names?: JsonSchema): JsonSchema {
  const object: JsonSchema = { type: ['object', 'null'], additionalProperties: value, ...(names ? { propertyNames: names } : {}) };
  return { description, anyOf: [object, ENV_TEXT] };
}

/** A mapping of anything (`metadata`, `setParams`): passed on as data. */
export function anyMapping(description: string): JsonSchema {
  return { description, anyOf: [{ type: ['object', 'null'] }, ENV_TEXT] };
}

/** A llama-swap key swapstate reads but does not implement yet: any value, ignored with a warning. */
export function notSupportedYet(what: string): JsonSchema {
  return { description: `llama-swap's ${what}; not supported yet by swapstate: accepted and ignored, with a warning.` };
}
