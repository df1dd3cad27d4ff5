/**
 * Typed decoding of one `models.<id>` entry (reference 2.12, 2.14, 2.15), defaults applied
 * where they do not depend on global values. Rules that need the whole config (ttl -1 meaning
 * globalTTL, aliases, capabilities messages) are applied later by validate-models.ts, in
 * llama-swap's order.
 */
import type { Field } from './field.ts';

/** A decoded model before the global defaults and cross-model checks. */
export interface ModelDraft {
  id: string;
  field: Field;
  cmd: string;
  cmdStop: string;
  proxy: string;
  checkEndpoint: string;
  /** As written: -1 (default) means globalTTL. */
  ttl: number;
  /** As written: 0 (default) means the global unloadTimeout. */
  unloadTimeout: number;
  aliases: string[];
  env: string[];
  useModelName: string;
  unlisted: boolean;
  name: string;
  description: string;
  metadata: Record<string, unknown>;
  /** As written: 0 or less means 10. */
  concurrencyLimit: number;
  sendLoadingState: boolean | undefined;
  stripParams: string[];
  setParams: Record<string, unknown>;
  setParamsByID: Record<string, Record<string, unknown>>;
  capabilities: CapabilitiesDraft;
}

export interface CapabilitiesDraft {
  in: string[];
  out: string[];
  tools: boolean;
  reranker: boolean;
  context: number;
}

const MODEL_KEYS = [
  'cmd',
  'cmdStop',
  'proxy',
  'checkEndpoint',
  'ttl',
  'unloadTimeout',
  'aliases',
  'env',
  'useModelName',
  'unlisted',
  'name',
  'description',
  'metadata',
  'concurrencyLimit',
  'sendLoadingState',
  'filters',
  'capabilities',
];
const MODEL_UNSUPPORTED = ['timeouts', 'compat'];

/** The body parameter filters may never touch: routing depends on it. */
const PROTECTED_PARAM = 'model';

export function decodeModel(id: string, field: Field): ModelDraft {
  field.keys(MODEL_KEYS, MODEL_UNSUPPORTED);
  const get = (key: string): Field => field.get(key);
  const filters = get('filters').keys(['stripParams', 'strip_params', 'setParams', 'setParamsByID']);
  return {
    id,
    field,
    cmd: get('cmd').string(),
    cmdStop: get('cmdStop').string(),
    proxy: get('proxy').string(),
    checkEndpoint: decodeCheckEndpoint(get('checkEndpoint')),
    ttl: get('ttl').int(-1),
    unloadTimeout: get('unloadTimeout').int(0),
    aliases: get('aliases').stringList(),
    env: get('env').stringList(),
    useModelName: get('useModelName').string(),
    unlisted: get('unlisted').bool(false),
    name: get('name').string().trim(),
    description: get('description').string().trim(),
    metadata: get('metadata').plainObject(),
    concurrencyLimit: get('concurrencyLimit').int(0),
    sendLoadingState: get('sendLoadingState').isSet ? get('sendLoadingState').bool(false) : undefined,
    stripParams: decodeStripParams(filters),
    setParams: withoutProtected(filters.get('setParams').plainObject()),
    setParamsByID: Object.fromEntries(
      filters
        .get('setParamsByID')
        .entries()
        .map(([key, params]) => [key, withoutProtected(params.plainObject())]),
    ),
    capabilities: decodeCapabilities(get('capabilities')),
  };
}

/** Trimmed, so `none` with stray spaces still disables health checking, as in llama-swap. */
function decodeCheckEndpoint(field: Field): string {
  return field.string('/health').trim();
}

/**
 * `stripParams` is a comma list; trimmed, de-duplicated, sorted, never `model`. The legacy
 * spelling `strip_params` is read only when `stripParams` is empty, as in llama-swap.
 */
function decodeStripParams(filters: Field): string[] {
  let list = filters.get('stripParams').string();
  if (list === '') list = filters.get('strip_params').string();
  const params = new Set(
    list
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '' && p !== PROTECTED_PARAM),
  );
  return [...params].sort();
}

function withoutProtected(params: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(params).filter(([key]) => key !== PROTECTED_PARAM));
}

function decodeCapabilities(field: Field): CapabilitiesDraft {
  field.keys(['in', 'out', 'tools', 'reranker', 'context']);
  return {
    in: field.get('in').stringList(),
    out: field.get('out').stringList(),
    tools: field.get('tools').bool(false),
    reranker: field.get('reranker').bool(false),
    context: field.get('context').int(0),
  };
}
