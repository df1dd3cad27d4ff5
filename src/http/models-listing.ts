/**
 * The `/v1/models` body (reference 3.7), as a pure function of the config and which models
 * are loaded. Records are sorted by id; every record carries `status.value`. Peer models are
 * listed by FQN (`<peer>/<model>`), always `unloaded`: this server loads nothing for them.
 */
import { resolveTarget } from '../config/resolve-model.ts';
import type { Config, ModelCapabilities, ModelConfig } from '../config/types.ts';
import type { ModelRecord } from './model-record.ts';
import { selectorRecords } from './selector-listing.ts';
import type { ProfileSnapshot } from './active-profile.ts';

export type { ModelRecord };

/** Capability fields of a record; user metadata keys they replace are dropped. */
function capabilityFields(caps: ModelCapabilities): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const arch: Record<string, unknown> = {};
  if (caps.in.length > 0) arch['input_modalities'] = caps.in;
  if (caps.out.length > 0) arch['output_modalities'] = caps.out;
  if (caps.in.length > 0 && caps.out.length > 0) arch['modality'] = `${caps.in.join('+')}->${caps.out.join('+')}`;
  if (Object.keys(arch).length > 0) out['architecture'] = arch;
  const c: Record<string, boolean> = {};
  if (caps.in.includes('image')) c['vision'] = true;
  if (caps.in.includes('audio') && caps.out.includes('text')) c['audio_transcriptions'] = true;
  if (caps.in.includes('text') && caps.out.includes('audio')) c['audio_speech'] = true;
  if (caps.in.includes('text') && caps.out.includes('image')) c['image_generation'] = true;
  if (caps.in.includes('image') && caps.out.includes('image')) c['image_to_image'] = true;
  if (caps.tools) {
    c['function_calling'] = true;
    out['supported_parameters'] = ['tools', 'tool_choice'];
  }
  if (caps.reranker) c['reranker'] = true;
  if (Object.keys(c).length > 0) out['capabilities'] = c;
  if (caps.context > 0) out['context_length'] = caps.context;
  return out;
}

const CAPABILITY_META_KEYS = ['architecture', 'capabilities', 'supported_parameters', 'context_length'];

/** What the listing needs to know about a model's process right now. */
export interface ModelStatus {
  loaded: boolean;
  /** In sleep mode's `sleeping` state (llmsnap shows it as such). */
  sleeping?: boolean;
  backoff: { error: string; retryAfterMs: number } | null;
  /** The process state (`ready`, `starting`, ...), for selectors' status (selector-listing.ts). */
  state?: string | undefined;
}

function statusOf(s: ModelStatus): ModelRecord['status'] {
  if (s.sleeping) return { value: 'sleeping' };
  if (!s.backoff) return { value: s.loaded ? 'loaded' : 'unloaded' };
  return { value: 'unloaded', failed: true, error: s.backoff.error, retry_after_s: Math.ceil(s.backoff.retryAfterMs / 1000) };
}

function baseRecord(id: string, m: ModelConfig, status: ModelStatus, created: number, meta: Record<string, unknown>): ModelRecord {
  const rec: ModelRecord = { id, object: 'model', created, owned_by: 'swapstate', status: statusOf(status) };
  const name = m.name.trim();
  const description = m.description.trim();
  if (name) rec.name = name;
  if (description) rec.description = description;
  let userMeta = m.metadata;
  if (m.capabilities) {
    Object.assign(rec, capabilityFields(m.capabilities));
    userMeta = Object.fromEntries(Object.entries(userMeta).filter(([k]) => !CAPABILITY_META_KEYS.includes(k)));
    if (m.capabilities.context > 0) meta = { ...meta, n_ctx: m.capabilities.context };
  }
  // Internal keys win over same-named user keys.
  rec.meta = { llamaswap: { ...userMeta, ...meta } };
  return rec;
}

/** Aliases of a model as listed: configured ones plus setParamsByID's automatic ones. */
function aliasesOf(cfg: Config, id: string): string[] {
  return Object.entries(cfg.aliases)
    .filter(([, target]) => target === id)
    .map(([alias]) => alias)
    .sort();
}

/**
 * The active profile's pins that name something new (reference 3.7): a non-empty target, and
 * an id that is no model, alias, peer model or selector already (those keep their own record).
 */
function profileRecords(cfg: Config, profile: ProfileSnapshot | null, created: number): ModelRecord[] {
  if (profile === null) return [];
  return Object.entries(profile.pins)
    .filter(([pin, target]) => target !== '' && resolveTarget(cfg, pin) === null && !Object.hasOwn(cfg.selectors, pin))
    .map(([pin]) => ({ id: pin, object: 'model', created, owned_by: 'swapstate', status: { value: 'unloaded' }, meta: { llamaswap: { type: 'profile' } } }));
}

export function listModels(
  cfg: Config,
  statusFor: (id: string) => ModelStatus,
  now = Date.now(),
  profile: ProfileSnapshot | null = null,
): { object: 'list'; data: ModelRecord[] } {
  const created = Math.floor(now / 1000);
  const data: ModelRecord[] = [];
  for (const [id, m] of Object.entries(cfg.models)) {
    if (m.unlisted) continue;
    const status = statusFor(id);
    const aliases = aliasesOf(cfg, id);
    data.push(baseRecord(id, m, status, created, { type: 'model', ...(aliases.length > 0 ? { aliases } : {}) }));
    if (cfg.includeAliasesInList) {
      for (const alias of m.aliases.map((a) => a.trim()).filter(Boolean)) {
        data.push(baseRecord(alias, m, status, created, { type: 'alias', modelID: id }));
      }
    }
  }
  // Peer models: one record per FQN, never loaded here (reference 3.7).
  for (const [peerID, peer] of Object.entries(cfg.peers)) {
    for (const model of peer.models) {
      data.push({
        id: `${peerID}/${model}`,
        object: 'model',
        created,
        owned_by: 'swapstate',
        name: `${peerID}: ${model}`,
        meta: { llamaswap: { type: 'peer', peerID } },
        status: { value: 'unloaded' },
      });
    }
  }
  data.push(...selectorRecords(cfg, (id) => statusFor(id).state, created));
  data.push(...profileRecords(cfg, profile, created));
  data.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { object: 'list', data };
}
