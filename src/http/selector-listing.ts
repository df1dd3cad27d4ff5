/**
 * The `/v1/models` records of selectors (reference/llama-swap.md 3.7): one per selector that
 * is not `unlisted`, with its name, description and metadata, and what it is in
 * `meta.llamaswap`: `{type: "selector", strategy, targets[, spillover]}`.
 *
 * A selector shows as `loaded` while one of its local targets is ready or starting (a request
 * to it would not wait for a cold start); for `pin` only the first target counts, as only it
 * is ever chosen.
 */
import { resolveModel } from '../config/resolve-model.ts';
import type { Config } from '../config/types.ts';
import type { ModelRecord } from './model-record.ts';

/** `stateOf(model)`: a local model's process state (`ready`, `starting`, ...), undefined when unknown. */
export function selectorRecords(cfg: Config, stateOf: (model: string) => string | undefined, created: number): ModelRecord[] {
  const out: ModelRecord[] = [];
  for (const [id, s] of Object.entries(cfg.selectors)) {
    if (s.unlisted) continue;
    const considered = s.strategy === 'pin' ? s.targets.slice(0, 1) : s.targets;
    const loaded = considered.some((target) => {
      const model = resolveModel(cfg, target);
      const state = model === null ? undefined : stateOf(model);
      return state === 'ready' || state === 'starting';
    });
    // Internal keys win over same-named user keys.
    const internal = { type: 'selector', strategy: s.strategy, targets: s.targets, ...(s.strategy === 'spillover' ? { spillover: s.spillover } : {}) };
    const rec: ModelRecord = {
      id,
      object: 'model',
      created,
      owned_by: 'swapstate',
      meta: { llamaswap: { ...s.metadata, ...internal } },
      status: { value: loaded ? 'loaded' : 'unloaded' },
    };
    const name = s.name.trim();
    const description = s.description.trim();
    if (name) rec.name = name;
    if (description) rec.description = description;
    out.push(rec);
  }
  return out;
}
