/**
 * Model rules that need the whole config (reference 2.12, 2.14, 2.15), applied in
 * llama-swap's order so the same broken config reports the same first error:
 * explicit aliases first (document order), then per model in sorted id order: the rules of
 * each key (model-fields.ts: ttl, unloadTimeout, capabilities), the automatic aliases of
 * `setParamsByID`, then swapstate's own rules (the proxy URL).
 */
import { ConfigError } from './config-error.ts';
import type { ConfigDraft } from './decode-config.ts';
import { checkFields, resolveFields, type ModelFieldContext, type ModelGlobals } from './model-field.ts';
import { MODEL_FIELDS, type ModelConfig, type ModelDraft } from './model-fields.ts';

export interface ValidatedModels {
  models: Record<string, ModelConfig>;
  /** alias -> model id, explicit aliases and setParamsByID keys. */
  aliases: Map<string, string>;
}

/** @param globals the already normalized global values the model defaults come from. */
export function validateModels(draft: ConfigDraft, globals: ModelGlobals): ValidatedModels {
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

function validateModel(model: ModelDraft, globals: ModelGlobals, ids: ReadonlySet<string>, aliases: Map<string, string>): ModelConfig {
  const at = (key: string): ModelFieldContext => ({ id: model.id, field: model.field.get(key), globals });
  const values = resolveFields(model, MODEL_FIELDS, at);
  const automatic = automaticAliases(model, ids, aliases);
  checkFields(values, MODEL_FIELDS, at);
  return { id: model.id, ...values, aliases: [...values.aliases, ...automatic] };
}

/**
 * The `setParamsByID` keys other than the model's own id become aliases of it, unless they
 * are already its explicit aliases; registered in `aliases` as they are taken.
 */
function automaticAliases(model: ModelDraft, ids: ReadonlySet<string>, aliases: Map<string, string>): string[] {
  const { id, field } = model;
  const added: string[] = [];
  for (const key of Object.keys(model.filters.setParamsByID)) {
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
    added.push(key);
  }
  return added;
}
