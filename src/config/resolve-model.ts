/** Which model a request names: the lookup every model-addressed route starts with. */
import type { Config } from './types.ts';

/**
 * Resolves a requested model name: a model id first, then an alias (including the automatic
 * aliases of `setParamsByID`).
 *
 * @example resolveModel(cfg, 'gpt-4o') // 'llama-70b' when llama-70b lists that alias
 */
export function resolveModel(cfg: Config, requested: string): string | null {
  if (Object.hasOwn(cfg.models, requested)) return requested;
  return Object.hasOwn(cfg.aliases, requested) ? (cfg.aliases[requested] ?? null) : null;
}
