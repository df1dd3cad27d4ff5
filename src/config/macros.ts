/**
 * Macros (reference 2.16): declarations, scopes and substitution on the untyped tree.
 *
 * Substitution is done one macro at a time, LAST-declared first. That order is what makes
 * macro-in-macro work without any dependency analysis: a macro may reference macros declared
 * before it, so by the time an earlier macro is substituted, every later macro has already
 * been replaced by text that may mention it. A string that is exactly `${m}` takes the
 * macro's typed value (so `context: ${ctx}` stays an integer); anything else is text.
 */
import type { RawMap, RawValue, SourceMap } from './yaml-tree.ts';
import { ConfigError } from './types.ts';

export type MacroValue = string | number | boolean;

export interface Macro {
  name: string;
  value: MacroValue;
}

/** `${name}` references as llama-swap matches them (no dots, so `${env.X}` is not one). */
export const MACRO_REFERENCE = /\$\{([a-zA-Z0-9_-]+)\}/g;

const MACRO_NAME = /^[a-zA-Z0-9_-]+$/;

/** Provided by swapstate itself: `${PID}` at stop time, `${PORT}` and `${MODEL_ID}` at load. */
const RESERVED = new Set(['PID', 'PORT', 'MODEL_ID']);

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
    macros.push({ name, value: value as MacroValue });
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

/**
 * A model's macro list: `MODEL_ID`, then the globals, then the model's own macros; a model
 * macro with a global's name replaces it in place (keeping the global's position in the
 * substitution order), new names are appended.
 */
export function modelScope(modelId: string, globals: readonly Macro[], locals: readonly Macro[]): Macro[] {
  const scope: Macro[] = [{ name: 'MODEL_ID', value: modelId }, ...globals];
  for (const local of locals) {
    const index = scope.findIndex((m) => m.name === local.name);
    if (index >= 0) scope[index] = local;
    else scope.push(local);
  }
  return scope;
}

/** `%v` as Go prints a decoded scalar. */
export function macroText(value: MacroValue): string {
  return String(value);
}

/** Substitutes `macros` last-declared first into `value`; containers are rewritten in place. */
export function substituteAll(value: RawValue, macros: readonly Macro[]): RawValue {
  let result = value;
  for (let i = macros.length - 1; i >= 0; i--) result = substitute(result, macros[i]!);
  return result;
}

/** One macro into every string value of a subtree (mapping keys are left alone). */
export function substitute(value: RawValue, macro: Macro): RawValue {
  if (typeof value === 'string') return substituteString(value, macro);
  if (value instanceof Map) {
    for (const [key, child] of value) value.set(key, substitute(child, macro));
    return value;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = substitute(value[i]!, macro);
    return value;
  }
  return value;
}

function substituteString(text: string, macro: Macro): RawValue {
  const reference = `\${${macro.name}}`;
  if (text === reference) return macro.value;
  return text.includes(reference) ? text.replaceAll(reference, macroText(macro.value)) : text;
}

/**
 * `filters.setParamsByID` keys are the one place where mapping keys are macro targets (so
 * `${MODEL_ID}:fast` can name an alias). Two keys that end up equal are an error.
 */
export function substituteSetParamsByIDKeys(
  model: RawMap,
  macros: readonly Macro[],
  modelId: string,
  sources: SourceMap,
  where: (key: string) => string | undefined,
): void {
  const byId = setParamsByID(model);
  if (!byId) return;
  const entries = [...byId];
  const renames: Array<readonly [string, string]> = [];
  const resolved = new Map<string, RawValue>();
  for (const [key, value] of entries) {
    let newKey = key;
    for (let i = macros.length - 1; i >= 0; i--) {
      const macro = macros[i]!;
      newKey = newKey.replaceAll(`\${${macro.name}}`, macroText(macro.value));
    }
    if (resolved.has(newKey)) {
      throw new ConfigError(
        `model ${modelId} filters.setParamsByID: keys ${JSON.stringify(key)} and ${JSON.stringify(newKey)} resolve to the same value`,
        where(key),
      );
    }
    resolved.set(newKey, value);
    if (newKey !== key) renames.push([key, newKey]);
  }
  if (renames.length === 0) return;
  byId.clear();
  for (const [key, value] of resolved) byId.set(key, value);
  sources.rename(byId, renames);
}

/** The model's `filters.setParamsByID` mapping, when it is one. */
export function setParamsByID(model: RawMap): RawMap | null {
  const filters = model.get('filters');
  if (!(filters instanceof Map)) return null;
  const byId = filters.get('setParamsByID');
  return byId instanceof Map ? byId : null;
}
