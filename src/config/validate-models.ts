/**
 * Model rules that need the whole config (reference 2.12, 2.14, 2.15), applied in
 * llama-swap's order so the same broken config reports the same first error:
 * explicit aliases first (document order), then per model in sorted id order: ttl,
 * unloadTimeout, capabilities, the automatic aliases of `setParamsByID`, proxy URL.
 */
import type { ConfigDraft } from './decode-config.ts';
import type { CapabilitiesDraft, ModelDraft } from './decode-model.ts';
import { checkSeconds } from './limits.ts';
import { ConfigError, type ModelCapabilities, type ModelConfig } from './types.ts';

const MODALITIES = ['text', 'audio', 'image'] as const;
type Modality = (typeof MODALITIES)[number];

/** llama-swap's default admission limit per model, and its floor for ComfyUI (reference 3.9). */
const DEFAULT_CONCURRENCY_LIMIT = 10;
const COMFYUI_MODEL_ID = 'comfyui_auto';
const COMFYUI_MIN_CONCURRENCY = 50;

export interface ValidatedModels {
  models: Record<string, ModelConfig>;
  /** alias -> model id, explicit aliases and setParamsByID keys. */
  aliases: Map<string, string>;
}

/** @param globals the already normalized global values the model defaults come from. */
export function validateModels(
  draft: ConfigDraft,
  globals: { globalTTL: number; unloadTimeout: number; sendLoadingState: boolean },
): ValidatedModels {
  const aliases = new Map<string, string>();
  for (const model of draft.models) {
    for (const [index, alias] of model.aliases.entries()) {
      if (aliases.has(alias)) {
        throw new ConfigError(`duplicate alias ${alias} found in model: ${model.id}`, model.field.get('aliases').items()[index]?.where);
      }
      aliases.set(alias, model.id);
    }
  }

  const ids = new Set(draft.models.map((m) => m.id));
  const validated = new Map<string, ModelConfig>();
  for (const model of [...draft.models].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    validated.set(model.id, validateModel(model, globals, ids, aliases));
  }
  // Document order for the record, so listings follow the file.
  const models = Object.fromEntries(draft.models.map((m) => [m.id, validated.get(m.id)!]));
  return { models, aliases };
}

function validateModel(
  model: ModelDraft,
  globals: { globalTTL: number; unloadTimeout: number; sendLoadingState: boolean },
  ids: ReadonlySet<string>,
  aliases: Map<string, string>,
): ModelConfig {
  const { id, field } = model;
  const ttl = model.ttl === -1 ? globals.globalTTL : model.ttl;
  if (ttl < 0) throw new ConfigError(`model ${id}: invalid TTL value ${ttl}`, field.get('ttl').where);
  checkSeconds(ttl, `model ${id}: ttl`, field.get('ttl').where);
  if (model.unloadTimeout < 0) {
    throw new ConfigError(`model ${id}: invalid unloadTimeout value ${model.unloadTimeout}`, field.get('unloadTimeout').where);
  }
  checkSeconds(model.unloadTimeout, `model ${id}: unloadTimeout`, field.get('unloadTimeout').where);
  const capabilities = validateCapabilities(model);

  const modelAliases = [...model.aliases];
  for (const key of Object.keys(model.setParamsByID)) {
    if (key === id) continue;
    const where = field.get('filters').get('setParamsByID').get(key).where;
    if (ids.has(key)) {
      throw new ConfigError(`model ${id} filters.setParamsByID: key '${key}' conflicts with an existing model ID`, where);
    }
    const owner = aliases.get(key);
    if (owner !== undefined) {
      if (owner !== id) {
        throw new ConfigError(`duplicate alias '${key}' in model ${id} filters.setParamsByID, already used by model ${owner}`, where);
      }
      continue; // already an explicit alias of this model
    }
    aliases.set(key, id);
    modelAliases.push(key);
  }

  const proxyProblem = invalidProxy(model.proxy);
  if (proxyProblem) {
    throw new ConfigError(`model ${id}: invalid proxy URL ${JSON.stringify(model.proxy)}: ${proxyProblem}`, field.get('proxy').where);
  }

  let concurrencyLimit = model.concurrencyLimit > 0 ? model.concurrencyLimit : DEFAULT_CONCURRENCY_LIMIT;
  if (id === COMFYUI_MODEL_ID) concurrencyLimit = Math.max(concurrencyLimit, COMFYUI_MIN_CONCURRENCY);

  return {
    id,
    cmd: model.cmd,
    cmdStop: model.cmdStop,
    proxy: model.proxy,
    checkEndpoint: model.checkEndpoint,
    ttl,
    unloadTimeout: model.unloadTimeout === 0 ? globals.unloadTimeout : model.unloadTimeout,
    aliases: modelAliases,
    env: model.env,
    useModelName: model.useModelName,
    unlisted: model.unlisted,
    name: model.name,
    description: model.description,
    metadata: model.metadata,
    concurrencyLimit,
    sendLoadingState: model.sendLoadingState ?? globals.sendLoadingState,
    filters: { stripParams: model.stripParams, setParams: model.setParams, setParamsByID: model.setParamsByID },
    capabilities,
  };
}

/** An all-zero block means "not configured" (null), as in llama-swap. */
function validateCapabilities(model: ModelDraft): ModelCapabilities | null {
  const caps: CapabilitiesDraft = model.capabilities;
  const field = model.field.get('capabilities');
  const check = (key: 'in' | 'out'): Modality[] =>
    caps[key].map((m, index) => {
      if (!(MODALITIES as readonly string[]).includes(m)) {
        throw new ConfigError(
          `model ${model.id}: capabilities.${key}: invalid modality ${JSON.stringify(m)}, must be one of: text, audio, image`,
          field.get(key).items()[index]?.where,
        );
      }
      return m as Modality;
    });
  const inputs = check('in');
  const outputs = check('out');
  if (caps.context < 0) {
    throw new ConfigError(`model ${model.id}: capabilities.context: must be >= 0`, field.get('context').where);
  }
  if (inputs.length === 0 && outputs.length === 0 && !caps.tools && !caps.reranker && caps.context === 0) return null;
  return { in: inputs, out: outputs, tools: caps.tools, reranker: caps.reranker, context: caps.context };
}

/**
 * llama-swap accepts anything Go's lenient `url.Parse` takes and fails at the first request;
 * the proxy can only ever be an absolute http(s) URL, so we say so at load.
 */
function invalidProxy(proxy: string): string | null {
  let url: URL;
  try {
    url = new URL(proxy);
  } catch {
    return 'not an absolute URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'the scheme must be http or https';
  if (url.hostname === '') return 'no host';
  return null;
}
