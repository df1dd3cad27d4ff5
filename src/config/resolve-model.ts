/** Which model a request names: the lookup every model-addressed route starts with. */
import type { Config } from './types.ts';

/**
 * Resolves a requested model name to a local model: a model id first, then an alias
 * (including the automatic aliases of `setParamsByID`).
 *
 * @example resolveModel(cfg, 'gpt-4o') // 'llama-70b' when llama-70b lists that alias
 */
export function resolveModel(cfg: Config, requested: string): string | null {
  if (Object.hasOwn(cfg.models, requested)) return requested;
  return Object.hasOwn(cfg.aliases, requested) ? (cfg.aliases[requested] ?? null) : null;
}

/** Where a (profile- and selector-rewritten) request model is served. */
export type ModelTarget =
  | { kind: 'local'; model: string }
  /** `model` is the peer's own id (what the forwarded body names); `fqn` is `<peer>/<model>`. */
  | { kind: 'peer'; peer: string; model: string; fqn: string };

/** A config's peer namespace, built once per config (configs are immutable after loading). */
interface PeerIndex {
  /** `<peer>/<model>` -> its peer and bare id. */
  byFqn: Map<string, { peer: string; model: string }>;
  /** bare model id -> every peer listing it. */
  byBare: Map<string, string[]>;
}

const peerIndexes = new WeakMap<Config, PeerIndex>();

function peerIndex(cfg: Config): PeerIndex {
  let index = peerIndexes.get(cfg);
  if (index) return index;
  index = { byFqn: new Map(), byBare: new Map() };
  for (const [peer, p] of Object.entries(cfg.peers)) {
    for (const model of p.models) {
      index.byFqn.set(`${peer}/${model}`, { peer, model });
      const listing = index.byBare.get(model) ?? [];
      listing.push(peer);
      index.byBare.set(model, listing);
    }
  }
  peerIndexes.set(cfg, index);
  return index;
}

/**
 * Resolves a peer model (reference 2.6, 3.4): an FQN `<peer>/<model>`, or a bare model id
 * that exactly one peer lists, no FQN equals and no local model or alias has. Null otherwise.
 */
export function resolvePeerModel(cfg: Config, requested: string): Extract<ModelTarget, { kind: 'peer' }> | null {
  const index = peerIndex(cfg);
  const full = index.byFqn.get(requested);
  if (full) return { kind: 'peer', peer: full.peer, model: full.model, fqn: requested };
  const listing = index.byBare.get(requested);
  if (listing?.length !== 1 || resolveModel(cfg, requested) !== null) return null;
  const peer = listing[0] as string;
  return { kind: 'peer', peer, model: requested, fqn: `${peer}/${requested}` };
}

/**
 * The router that owns a request model (reference 3.4, after profile and selector rewrites):
 * a local model id or alias first, then a peer model. Null: no router (404).
 */
export function resolveTarget(cfg: Config, requested: string): ModelTarget | null {
  const local = resolveModel(cfg, requested);
  if (local !== null) return { kind: 'local', model: local };
  return resolvePeerModel(cfg, requested);
}
