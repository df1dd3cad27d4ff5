/**
 * Which models an unknown-model answer offers: the listed model ids and their aliases, and
 * the peer models' FQNs, the closest to the requested name first (so `lama-3` offers `llama-3` before `qwen`).
 *
 * Unlisted models (and their aliases) are left out: `unlisted` hides a model from
 * `/v1/models`, and an error message must not be a way around that.
 */
import { closestFirst } from '../config/did-you-mean.ts';
import type { Config } from '../config/types.ts';
import type { AvailableModels } from './error-wording.ts';

/** At most this many names are offered; the rest are counted. */
export const SUGGESTED_MODELS = 10;

/** The names a config offers, built once per config (a reload makes a new one). */
const offeredNames = new WeakMap<Config, string[]>();

function namesOf(config: Config): string[] {
  let names = offeredNames.get(config);
  if (!names) {
    const listed = (id: string): boolean => config.models[id]?.unlisted === false;
    names = [
      ...new Set([
        ...Object.keys(config.models).filter(listed),
        ...Object.entries(config.aliases)
          .filter(([, id]) => listed(id))
          .map(([alias]) => alias),
        // Peer models by FQN, as /v1/models lists them.
        ...Object.entries(config.peers).flatMap(([id, peer]) => peer.models.map((m) => `${id}/${m}`)),
      ]),
    ];
    offeredNames.set(config, names);
  }
  return names;
}

/** The names to offer someone who asked for `requested`, closest first (ties by name). */
export function suggestModels(config: Config, requested: string): AvailableModels {
  const names = namesOf(config);
  const closest = closestFirst(requested, names, SUGGESTED_MODELS);
  return { closest, more: names.length - closest.length };
}
