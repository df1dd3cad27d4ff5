/**
 * The top-level keys of a llama-swap config, and the check that turns a near miss of one of
 * them into an error.
 *
 * llama-swap ignores unknown keys, and so does swapstate (with a warning). But a top-level
 * typo is not a detail: `model:` for `models:` loads a config with zero models, which then
 * answers every request with 404 while the warning scrolls by. So an unknown top-level key
 * one edit from a known one (case ignored) fails the load, pointing at the key; keys further
 * away stay warnings, as llama-swap has them.
 */
import { nearestName } from './did-you-mean.ts';
import { ConfigError } from './config-error.ts';
import type { RawMap, SourceMap } from './yaml-tree.ts';

/** Keys swapstate reads (llama-swap's, plus swapstate's own). */
export const TOP_LEVEL_KEYS: readonly string[] = [
  'healthCheckTimeout',
  'healthCheckInterval',
  'maxRequestBodyBytes',
  'maxBufferedRequestBytes',
  'allowedHosts',
  'allowedOrigins',
  'trustProxy',
  'abandonedLoadGraceMs',
  'inspect',
  'logLevel',
  'logTimeFormat',
  'logToStdout',
  'logRequests',
  'startPort',
  'sendLoadingState',
  'includeAliasesInList',
  'globalTTL',
  'unloadTimeout',
  'sleepRequestTimeout',
  'wakeRequestTimeout',
  'apiKeys',
  'models',
  'hooks',
  'upstream',
  'routing',
  'groups',
  'matrix',
  'peers',
  'selectors',
  'profiles',
  'performance',
  'metricsMaxInMemory',
  'captureBuffer',
];

/** llama-swap keys swapstate does not implement yet: accepted with a warning. */
export const TOP_LEVEL_UNSUPPORTED: readonly string[] = [
  'store',
  'ui',
];

/** Every top-level key that is decoded: llama-swap's (supported or not) and swapstate's own. */
export const DECODED_TOP_LEVEL_KEYS: readonly string[] = [...TOP_LEVEL_KEYS, ...TOP_LEVEL_UNSUPPORTED];

/** Every top-level key a config may have; `macros` is consumed before decoding. */
const ALL_TOP_LEVEL_KEYS: readonly string[] = [...DECODED_TOP_LEVEL_KEYS, 'macros'];

/**
 * Fails on the first unknown top-level key (in file order) that is one edit from a known one,
 * or differs from it only in case. Runs right after parsing, before macros are expanded, so
 * a misspelt `macro:` is named as such rather than as the unknown macros it leaves behind.
 *
 * @throws ConfigError `unknown key "model" (did you mean "models"?)` at the key's file:line.
 */
export function checkTopLevelTypos(root: RawMap, sources: SourceMap): void {
  for (const key of root.keys()) {
    if (ALL_TOP_LEVEL_KEYS.includes(key)) continue;
    const meant = nearestName(key, ALL_TOP_LEVEL_KEYS, 1);
    if (meant !== null) {
      throw new ConfigError(`unknown key ${JSON.stringify(key)} (did you mean ${JSON.stringify(meant)}?)`, sources.where(root, [key]));
    }
  }
}
