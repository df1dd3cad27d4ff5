/**
 * A model's `filters` block (reference 2.15): how request bodies are rewritten before they go
 * upstream. The body parameter `model` is never touched by a filter: routing depends on it.
 */
import type { Field } from './field.ts';

/** `filters` of a model; applied to JSON bodies only. */
export interface ModelFilters {
  /** Parameter paths removed from the body; trimmed, de-duplicated, sorted, never `model`. */
  stripParams: string[];
  /** Set or overridden in the body (keys applied sorted; `model` ignored). */
  setParams: Record<string, unknown>;
  /** Requested id -> params, applied after setParams. Keys other than the model id are aliases. */
  setParamsByID: Record<string, Record<string, unknown>>;
}

/** The body parameter filters may never touch. */
const PROTECTED_PARAM = 'model';

export function decodeFilters(field: Field): ModelFilters {
  field.keys(['stripParams', 'strip_params', 'setParams', 'setParamsByID']);
  return {
    stripParams: decodeStripParams(field),
    setParams: withoutProtected(field.get('setParams').plainObject()),
    setParamsByID: Object.fromEntries(
      field
        .get('setParamsByID')
        .entries()
        .map(([key, params]) => [key, withoutProtected(params.plainObject())]),
    ),
  };
}

/**
 * `stripParams` is a comma list; trimmed, de-duplicated, sorted, never `model`. The legacy
 * spelling `strip_params` is read only when `stripParams` is empty, as in llama-swap.
 */
function decodeStripParams(filters: Field): string[] {
  let list = filters.get('stripParams').string();
  if (list === '') list = filters.get('strip_params').string();
  const params = new Set(
    list
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '' && p !== PROTECTED_PARAM),
  );
  return [...params].sort();
}

function withoutProtected(params: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(params).filter(([key]) => key !== PROTECTED_PARAM));
}
