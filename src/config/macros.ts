/**
 * Macros (reference 2.16): declarations and scopes. Substitution is in macro-substitute.ts.
 */
import type { RawMap, RawValue } from './yaml-tree.ts';
import { ConfigError } from './config-error.ts';
import { mapOf, type JsonSchema } from './schema-shapes.ts';

export type MacroValue = string | number | boolean;

export interface Macro {
  name: string;
  value: MacroValue;
  /** `file:line` of the declaration, for messages about its expansion. */
  where?: string | undefined;
}

/** `${name}` references as llama-swap matches them (no dots, so `${env.X}` is not one). */
export const MACRO_REFERENCE = /\$\{([a-zA-Z0-9_-]+)\}/g;

const MACRO_NAME = /^[a-zA-Z0-9_-]+$/;

/** Provided by swapstate itself: `${PID}` at stop time, `${PORT}` and `${MODEL_ID}` at load. */
const RESERVED = new Set(['PID', 'PORT', 'MODEL_ID']);

/** A `macros:` block (global or a model's) in config-schema.json: names and values as readMacros accepts them. */
export function macrosSchema(scope: string): JsonSchema {
  return mapOf(
    `\${name} substitutions ${scope}: a value exactly \${name} takes the macro's type; a macro may use earlier ones.`,
    { type: ['string', 'number', 'boolean'] },
    { pattern: MACRO_NAME.source, maxLength: 63, not: { enum: [...RESERVED] } },
  );
}

/**
 * Reads a `macros:` block in declaration order, validating each entry with llama-swap's
 * messages. `prefix` is `model <id>: ` for model-scoped blocks.
 *
 * @param where resolves the `file:line` of an entry (or of the block when `name` is absent).
 */
export function readMacros(block: RawValue | undefined, prefix: string, where: (name?: string) => string | undefined): Macro[] {
  if (block === undefined || block === null) return [];
  if (!(block instanceof Map)) throw new ConfigError(`${prefix}macros must be a mapping`, where());
  const macros: Macro[] = [];
  for (const [name, value] of block) {
    const problem = macroProblem(name, value);
    if (problem) throw new ConfigError(prefix + problem, where(name));
    macros.push({ name, value: value as MacroValue, where: where(name) });
  }
  return macros;
}

/** The message llama-swap gives for a bad declaration, or null. Checks run in its order. */
function macroProblem(name: string, value: RawValue): string | null {
  if (Buffer.byteLength(name) >= 64) return `macro name '${name}' exceeds maximum length of 63 characters`;
  if (!MACRO_NAME.test(name)) {
    return `macro name '${name}' contains invalid characters, must match pattern ^[a-zA-Z0-9_-]+$`;
  }
  if (typeof value === 'string') {
    if (value.includes(`\${${name}}`)) return `macro '${name}' contains self-reference`;
  } else if (typeof value !== 'number' && typeof value !== 'boolean') {
    return `macro '${name}' has invalid type ${goTypeName(value)}, must be a scalar type (string, int, float, or bool)`;
  }
  if (RESERVED.has(name)) return `macro name '${name}' is reserved`;
  return null;
}

/** Go's `%T` of the decoded value, because that is what llama-swap users see. */
function goTypeName(value: RawValue): string {
  if (value === null) return '<nil>';
  if (value instanceof Map) return 'map[string]interface {}';
  return '[]interface {}';
}

/** A macro and its place in the substitution order (higher goes first). */
export interface ScopedMacro {
  macro: Macro;
  order: number;
}

/**
 * The macros visible somewhere, looked up by name, each with its substitution order.
 *
 * llama-swap builds each model's list as `MODEL_ID`, then the globals, then the model's own
 * macros, where a model macro with a global's name replaces it in place (keeping the global's
 * position) and new names are appended. A model scope here is that list without the copy: its
 * own entries over the global scope, so a config with many models and many global macros
 * costs no models x globals work.
 */
export class MacroScope {
  private constructor(
    /** `model <id>: ` in messages about this scope; '' for the globals. */
    readonly label: string,
    private readonly own: ReadonlyMap<string, ScopedMacro>,
    private readonly parent: MacroScope | null,
  ) {}

  /** `macros` in declaration order (the last one is substituted first). */
  static of(macros: readonly Macro[], label = ''): MacroScope {
    // Orders from 1: 0 is MODEL_ID's, before every global.
    return new MacroScope(label, new Map(macros.map((macro, i) => [macro.name, { macro, order: i + 1 }])), null);
  }

  /** The scope of model `modelId`: `MODEL_ID`, these globals, then `locals`. */
  forModel(modelId: string, locals: readonly Macro[], where?: string): MacroScope {
    const own = new Map<string, ScopedMacro>([['MODEL_ID', { macro: { name: 'MODEL_ID', value: modelId, where }, order: 0 }]]);
    let appended = this.own.size + 1;
    for (const macro of locals) {
      const global = this.own.get(macro.name);
      own.set(macro.name, { macro, order: global ? global.order : appended++ });
    }
    return new MacroScope(`model ${modelId}: `, own, this);
  }

  lookup(name: string): ScopedMacro | undefined {
    return this.own.get(name) ?? this.parent?.lookup(name);
  }
}

/** `%v` as Go prints a decoded scalar. */
export function macroText(value: MacroValue): string {
  return String(value);
}

/** The model's `filters.setParamsByID` mapping, when it is one. */
export function setParamsByID(model: RawMap): RawMap | null {
  const filters = model.get('filters');
  if (!(filters instanceof Map)) return null;
  const byId = filters.get('setParamsByID');
  return byId instanceof Map ? byId : null;
}
