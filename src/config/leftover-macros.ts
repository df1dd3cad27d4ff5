/**
 * The last macro step (reference 2.16): after expansion, any `${name}` still present in a
 * field llama-swap knows is an error, so a typo in a macro name fails at load instead of
 * reaching a command line. `${PID}` may survive only in `cmdStop`, where the stop code
 * substitutes the upstream's pid.
 *
 * The messages are llama-swap's, which differ by field: the string fields of a model name the
 * field (`unknown macro '${x}' found in M.cmd`), nested model values name the block
 * (`model M metadata: unknown macro '${x}'`), top-level values name their path
 * (`peers.p.apiKey: unknown macro '${x}'`). Which model key is worded which way is said by
 * its entry in the field table (model-fields.ts).
 */
import { ConfigError } from './config-error.ts';
import { MACRO_REFERENCE } from './macros.ts';
import type { LeftoverMacros } from './model-field.ts';
import { MODEL_FIELDS } from './model-fields.ts';
import { DECODED_TOP_LEVEL_KEYS } from './top-level-keys.ts';
import { formatPath, type PathSegment, type RawMap, type RawValue, type SourceMap } from './yaml-tree.ts';

/**
 * Top-level keys llama-swap decodes (and so checks); other top-level keys are unknown to it
 * and never checked. swapstate's own keys are checked too, `macros` is not.
 */
const CHECKED_TOP_LEVEL = new Set(DECODED_TOP_LEVEL_KEYS);

/** Model keys (dotted for a sub-key) whose leftovers are reported as `found in M.<key>`. */
const NAMED_FIELDS = new Set(Object.entries(MODEL_FIELDS).flatMap(([key, { leftoverMacros }]) => namedPaths(key, leftoverMacros)));

/** Model keys whose leftovers, wherever inside, are reported for the key as a whole. */
const BLOCK_FIELDS = Object.entries(MODEL_FIELDS).flatMap(([key, { leftoverMacros: style }]) => (style === 'block' ? [key] : []));

/** The key itself when its style is `named`, else the sub-keys it names. */
function namedPaths(key: string, style: LeftoverMacros | undefined): string[] {
  if (style === 'named') return [key];
  return typeof style === 'object' ? Object.keys(style).map((sub) => `${key}.${sub}`) : [];
}

const ENV_REFERENCE = /\$\{env\.([a-zA-Z_][a-zA-Z0-9_]*)\}/;

interface Scope {
  /** Path from the root, for top-level messages and for `file:line`. */
  path: PathSegment[];
  modelId?: string;
  /** Dotted path inside the model (list indexes not included, as in llama-swap). */
  field?: string;
}

/** @throws ConfigError on the first leftover macro, in document order. */
export function checkLeftoverMacros(root: RawMap, sources: SourceMap): void {
  const fail = (message: string, path: PathSegment[]): never => {
    throw new ConfigError(message, sources.where(root, path));
  };
  for (const [key, value] of root) {
    if (!CHECKED_TOP_LEVEL.has(key)) continue;
    if (key !== 'models') {
      walk(value, { path: [key] }, fail);
      continue;
    }
    if (!(value instanceof Map)) continue;
    for (const [modelId, model] of value) {
      if (!(model instanceof Map)) continue;
      for (const [field, fieldValue] of model) {
        walk(fieldValue, { path: ['models', modelId, field], modelId, field }, fail);
      }
    }
  }
}

function walk(value: RawValue, scope: Scope, fail: (message: string, path: PathSegment[]) => never): void {
  if (value instanceof Map) {
    for (const [key, child] of value) {
      walk(child, { ...scope, path: [...scope.path, key], ...(scope.field !== undefined && { field: `${scope.field}.${key}` }) }, fail);
    }
  } else if (Array.isArray(value)) {
    value.forEach((child, index) => walk(child, { ...scope, path: [...scope.path, index] }, fail));
  } else if (typeof value === 'string') {
    checkString(value, scope, fail);
  }
}

function checkString(text: string, scope: Scope, fail: (message: string, path: PathSegment[]) => never): void {
  const allowPid = scope.field !== undefined && scope.field.split('.')[0] === 'cmdStop';
  for (const match of text.matchAll(MACRO_REFERENCE)) {
    const name = match[1]!;
    if (name === 'PID' && allowPid) continue;
    fail(leftoverMessage(name, scope), scope.path);
  }
  const env = ENV_REFERENCE.exec(text);
  if (env) fail(`${formatPath(scope.path)}: environment variable '${env[1]}' not set`, scope.path);
}

function leftoverMessage(name: string, scope: Scope): string {
  const { modelId, field } = scope;
  if (modelId === undefined || field === undefined) return `${formatPath(scope.path)}: unknown macro '\${${name}}'`;
  if (NAMED_FIELDS.has(field)) {
    return name === 'PORT' || name === 'MODEL_ID'
      ? `macro '\${${name}}' should have been substituted in ${modelId}.${field}`
      : `unknown macro '\${${name}}' found in ${modelId}.${field}`;
  }
  const block = BLOCK_FIELDS.find((key) => field.startsWith(`${key}.`)) ?? field;
  return `model ${modelId} ${block}: unknown macro '\${${name}}'`;
}
