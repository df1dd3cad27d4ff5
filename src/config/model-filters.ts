/**
 * A model's `filters` block (reference 2.15): how request bodies are rewritten before they go
 * upstream. The body parameter `model` is never touched by a filter: routing depends on it.
 */
import type { Field } from './field.ts';
import { anyMapping, block, mapOf, text, type JsonSchema } from './schema-shapes.ts';

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

/** `filters` in config-schema.json (a model's, or a peer's: both are read by decodeFilters). */
export function filtersSchema(description: string): JsonSchema {
  const stripParams = 'Comma-separated body parameters removed from requests (never `model`).';
  return block(description, {
    stripParams: text(stripParams, { default: '' }),
    strip_params: text(`Legacy spelling of stripParams, read only when stripParams is empty. ${stripParams}`),
    setParams: anyMapping('Body parameters set or overridden in requests (`model` excepted); any JSON values.'),
    setParamsByID: mapOf(
      'Requested model id (or alias) -> parameters set after setParams. Keys other than the model id become aliases.',
      anyMapping('Parameters for requests naming this id.'),
    ),
  });
}

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
