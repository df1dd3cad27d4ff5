/**
 * Macro substitution on the untyped tree (reference 2.16).
 *
 * llama-swap substitutes one macro at a time, LAST-declared first, into every string. That
 * order is what makes macro-in-macro work without any dependency analysis: a macro may
 * reference macros declared before it, so by the time an earlier macro is substituted, every
 * later macro has already been replaced by text that may mention it. A string that is exactly
 * `${m}` takes the macro's typed value (so `context: ${ctx}` stays an integer); anything else
 * is text.
 *
 * We get the same result per string: substituting a macro the string does not mention changes
 * nothing, so each step jumps to the highest-ordered macro the string mentions below the last
 * one substituted. The cost is then the text produced, not macros x strings, and the text
 * produced is bounded (a `MacroBudget`), because macros that reference macros many times over
 * grow exponentially.
 */
import { MAX_MACRO_TEXT } from './limits.ts';
import { MACRO_REFERENCE, macroText, setParamsByID, type Macro, type MacroScope, type ScopedMacro } from './macros.ts';
import { ConfigError } from './config-error.ts';
import type { RawMap, RawValue, SourceMap } from './yaml-tree.ts';

/** How much text substitution may still produce in this load. */
export class MacroBudget {
  private spent = 0;

  constructor(private readonly limit = MAX_MACRO_TEXT) {}

  /** @throws ConfigError once more than the limit was produced in all. */
  spend(chars: number, macro: Macro, scope: MacroScope): void {
    this.spent += chars;
    if (this.spent <= this.limit) return;
    throw new ConfigError(
      `${scope.label}macros expand to more than ${this.limit / (1024 * 1024)} MiB of text (while substituting '\${${macro.name}}')`,
      macro.where,
    );
  }
}

/** Substitutes `scope` into every string value of a subtree; containers are rewritten in place. */
export function substituteTree(value: RawValue, scope: MacroScope, budget: MacroBudget): RawValue {
  if (typeof value === 'string') return expandString(value, scope, budget, true);
  if (value instanceof Map) {
    for (const [key, child] of value) value.set(key, substituteTree(child, scope, budget));
    return value;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = substituteTree(value[i]!, scope, budget);
    return value;
  }
  return value;
}

/**
 * One string with every macro of `scope`, in llama-swap's order. `typed`: a string that is
 * exactly one reference takes the macro's value as is (mapping keys are always text).
 */
export function expandString(text: string, scope: MacroScope, budget: MacroBudget, typed: boolean): RawValue {
  let value: RawValue = text;
  let below = Number.POSITIVE_INFINITY;
  while (typeof value === 'string') {
    const next = highestReferenced(value, scope, below);
    if (!next) break;
    const { macro } = next;
    const reference = `\${${macro.name}}`;
    value = typed && value === reference ? macro.value : value.replaceAll(reference, macroText(macro.value));
    // The next step reads what this one produced: bound both by the text produced.
    budget.spend(typeof value === 'string' ? value.length : 0, macro, scope);
    below = next.order;
  }
  return value;
}

/** The macro of `scope` that `text` references with the highest order below `below`. */
function highestReferenced(text: string, scope: MacroScope, below: number): ScopedMacro | undefined {
  if (!text.includes('${')) return undefined;
  let best: ScopedMacro | undefined;
  for (const match of text.matchAll(MACRO_REFERENCE)) {
    const found = scope.lookup(match[1]!);
    if (found && found.order < below && (!best || found.order > best.order)) best = found;
  }
  return best;
}

/**
 * `filters.setParamsByID` keys are the one place where mapping keys are macro targets (so
 * `${MODEL_ID}:fast` can name an alias). Two keys that end up equal are an error.
 */
export function substituteSetParamsByIDKeys(
  model: RawMap,
  scope: MacroScope,
  budget: MacroBudget,
  modelId: string,
  sources: SourceMap,
  where: (key: string) => string | undefined,
): void {
  const byId = setParamsByID(model);
  if (!byId) return;
  const renames: Array<readonly [string, string]> = [];
  const resolved = new Map<string, RawValue>();
  for (const [key, value] of byId) {
    const newKey = expandString(key, scope, budget, false) as string;
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
