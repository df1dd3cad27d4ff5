/**
 * `peers.<id>` (reference 2.6, 5.5): other servers (another swapstate or llama-swap, or any
 * OpenAI-compatible API) whose models this one forwards to, by name.
 *
 * Decoding checks each entry the way llama-swap's `PeerConfig.UnmarshalYAML` does (its texts:
 * "proxy is required", "invalid peer proxy URL", "peer models can not be empty"), while the
 * YAML is decoded, so those errors come before any model rule. The namespace rules (an FQN
 * `<peer>/<model>` must name one thing only) run last, after every name of the config is
 * known: {@link peerNamespaceClashes} takes the names other parts of a config claim, so the
 * profile and selector rules hand theirs to the same check.
 *
 * Macros: global macros reach `peers` like every top-level value but `models`, and a leftover
 * one fails the load (`peers.p.apiKey: unknown macro '${k}'`); both happen before decoding
 * (expand-macros.ts, leftover-macros.ts).
 */
import { ConfigError } from './config-error.ts';
import type { Field } from './field.ts';
import { decodeFilters, filtersSchema } from './model-filters.ts';
import { invalidProxyUrl } from './proxy-url.ts';
import { block, mapOf, text, textList } from './schema-shapes.ts';
import { decodeTimeouts, DEFAULT_PEER_TIMEOUTS, timeoutsSchema } from './timeouts.ts';
import type { PeerConfig } from './types.ts';

export { DEFAULT_PEER_TIMEOUTS } from './timeouts.ts';

const PEER_KEYS = ['proxy', 'apiKey', 'models', 'filters', 'timeouts'];

/** `peers` in config-schema.json. */
export const PEERS_SCHEMA = mapOf(
  'Other servers (swapstate, llama-swap or any OpenAI-compatible API) whose models are forwarded to by name: `<peer>/<model>`.',
  block('A peer.', {
    proxy: text('Base URL of the peer: an absolute http(s) URL. Required.'),
    apiKey: text('Sent as `Authorization: Bearer` and `x-api-key`; empty: none.', { default: '' }),
    models: textList('Model ids the peer serves. Required, not empty.'),
    filters: filtersSchema('How request bodies to this peer are rewritten (JSON bodies only).'),
    timeouts: timeoutsSchema('Connection timeouts to this peer, in seconds.', DEFAULT_PEER_TIMEOUTS),
  }),
);

/** A decoded peer with the field it came from (for the namespace errors' `file:line`). */
export interface PeerDraft {
  config: PeerConfig;
  field: Field;
}

/**
 * The fully qualified name of a peer model. Peer and model ids may both hold slashes, so an
 * FQN is only ever compared whole, never split.
 *
 * @example peerModelFqn('box-b', 'org/llama') // 'box-b/org/llama'
 */
export function peerModelFqn(peer: string, model: string): string {
  return `${peer}/${model}`;
}

/** Decodes `peers` (none when absent), in file order. @throws ConfigError */
export function decodePeers(field: Field): PeerDraft[] {
  return field.entries().map(([id, entry]) => ({ config: decodePeer(id, entry), field: entry }));
}

function decodePeer(id: string, field: Field): PeerConfig {
  field.keys(PEER_KEYS);
  const prefix = `peers.${id}`;
  const proxyField = field.get('proxy');
  const proxy = proxyField.string();
  if (proxy === '') (proxyField.isSet ? proxyField : field).fail(`${prefix}: proxy is required`);
  const problem = invalidProxyUrl(proxy);
  if (problem) proxyField.fail(`${prefix}: invalid peer proxy URL (${proxy}): ${problem}`);
  const apiKey = field.get('apiKey').string();
  const modelsField = field.get('models');
  // Duplicates are ignored, as llama-swap does: the first mention keeps its place.
  const models = [...new Set(modelsField.stringList())];
  if (models.length === 0) (modelsField.isSet ? modelsField : field).fail(`${prefix}: peer models can not be empty`);
  return { id, proxy, apiKey, models, filters: decodeFilters(field.get('filters')), timeouts: decodeTimeouts(field.get('timeouts'), DEFAULT_PEER_TIMEOUTS, `${prefix}.timeouts`) };
}

/**
 * A name another part of the config claims, which no peer FQN may equal: a model id, an
 * alias, a selector id, a profile pin name.
 */
export interface ClaimedName {
  name: string;
  /** How the message names the claim, llama-swap's words: `model ID "x"`, `selector ID "x"`, `profile p pin "x"`. */
  label: string;
  /** Where the claim is written (`file:line`), when known. */
  where?: string | undefined;
}

/** A claimed name equal to a peer FQN, with llama-swap's message. */
export interface NamespaceClash {
  fqn: string;
  message: string;
  where?: string | undefined;
}

/** Every FQN of the peers. */
function fqnsOf(peers: Record<string, PeerConfig>): Set<string> {
  const out = new Set<string>();
  for (const [id, peer] of Object.entries(peers)) for (const model of peer.models) out.add(peerModelFqn(id, model));
  return out;
}

/**
 * The claims among `claimed` that equal a peer FQN, in FQN order (then claim order), each
 * with llama-swap's message: `selector ID "b/m" conflicts with fully qualified peer model name`.
 * Empty when the names and the peers' namespace are apart.
 *
 * @example peerNamespaceClashes(cfg.peers, Object.keys(cfg.selectors).map((id) => ({ name: id, label: `selector ID "${id}"` })))
 */
export function peerNamespaceClashes(peers: Record<string, PeerConfig>, claimed: Iterable<ClaimedName>): NamespaceClash[] {
  const fqns = fqnsOf(peers);
  const clashes: NamespaceClash[] = [];
  for (const claim of claimed) {
    if (!fqns.has(claim.name)) continue;
    clashes.push({ fqn: claim.name, message: `${claim.label} conflicts with fully qualified peer model name`, where: claim.where });
  }
  // Stable: claims of one FQN keep their order.
  return clashes.sort((a, b) => (a.fqn < b.fqn ? -1 : a.fqn > b.fqn ? 1 : 0));
}

/** Throws the first clash (see {@link peerNamespaceClashes}), if any. */
export function checkPeerNamespace(peers: Record<string, PeerConfig>, claimed: Iterable<ClaimedName>): void {
  const first = peerNamespaceClashes(peers, claimed)[0];
  if (first) throw new ConfigError(first.message, first.where);
}

/** What the local part of a config claims, for the namespace rules. */
export interface LocalNames {
  /** Model id -> its explicit aliases and where its entry is. */
  models: Array<{ id: string; aliases: readonly string[]; where?: string | undefined; aliasesWhere?: string | undefined }>;
  /** Every alias (explicit and setParamsByID's automatic ones) -> model id. */
  aliases: ReadonlyMap<string, string>;
}

/** The names local models claim, in llama-swap's order: ids, explicit aliases, then automatic aliases. */
export function localClaims(local: LocalNames): ClaimedName[] {
  const claims: ClaimedName[] = [];
  for (const m of local.models) claims.push({ name: m.id, label: `model ID ${JSON.stringify(m.id)}`, where: m.where });
  for (const m of local.models) {
    for (const alias of m.aliases) {
      claims.push({ name: alias, label: `model ${m.id} alias ${JSON.stringify(alias)}`, where: m.aliasesWhere });
    }
  }
  const explicit = new Set(local.models.flatMap((m) => m.aliases));
  for (const [alias, id] of local.aliases) {
    if (explicit.has(alias)) continue;
    const owner = local.models.find((m) => m.id === id);
    claims.push({ name: alias, label: `model alias ${JSON.stringify(alias)}`, where: owner?.where });
  }
  return claims;
}

/**
 * The peers as the config holds them, after the namespace rules (reference 2.6): one FQN
 * from two peers (`a` listing `b/c` and `a/b` listing `c`), or an FQN equal to a local model
 * id or alias, fails the load. Selector ids and profile pin names are checked by their own
 * rules through {@link checkPeerNamespace}.
 *
 * @throws ConfigError `model ID "b/m" conflicts with fully qualified peer model name`
 */
export function validatePeers(drafts: readonly PeerDraft[], local: LocalNames): Record<string, PeerConfig> {
  const owners = new Map<string, { peer: string; model: string }>();
  for (const draft of [...drafts].sort((a, b) => (a.config.id < b.config.id ? -1 : a.config.id > b.config.id ? 1 : 0))) {
    const { id, models } = draft.config;
    for (const model of models) {
      const fqn = peerModelFqn(id, model);
      const owner = owners.get(fqn);
      if (owner) {
        throw new ConfigError(
          `peer model name ${JSON.stringify(fqn)} is ambiguous between peers.${owner.peer} model ${JSON.stringify(owner.model)} ` +
            `and peers.${id} model ${JSON.stringify(model)}`,
          draft.field.get('models').where,
        );
      }
      owners.set(fqn, { peer: id, model });
    }
  }
  const peers = Object.fromEntries(drafts.map((d) => [d.config.id, d.config]));
  checkPeerNamespace(peers, localClaims(local));
  return peers;
}
