/**
 * A model's `capabilities` block (reference 2.14): what `/v1/models` says the model can do.
 * An all-zero block means "not configured" (null), as in llama-swap.
 */
import { ConfigError } from './config-error.ts';
import type { Field } from './field.ts';
import type { ModelFieldContext } from './model-field.ts';
import { block, boolean, integer, listOf, oneOf } from './schema-shapes.ts';

const MODALITIES = ['text', 'audio', 'image'] as const;
type Modality = (typeof MODALITIES)[number];

/** `capabilities` of a model; null when not configured. */
export interface ModelCapabilities {
  in: Modality[];
  out: Modality[];
  tools: boolean;
  reranker: boolean;
  context: number;
}

/** The block as written: modalities not checked yet. */
type CapabilitiesDraft = Omit<ModelCapabilities, 'in' | 'out'> & { in: string[]; out: string[] };

/** `capabilities` in config-schema.json. */
export const CAPABILITIES_SCHEMA = block(
  'What /v1/models says the model can do. A block of only defaults counts as not configured.',
  {
    in: listOf('Input modalities the model understands.', oneOf('A modality.', MODALITIES)),
    out: listOf('Output modalities the model produces.', oneOf('A modality.', MODALITIES)),
    tools: boolean('Whether the model supports function calling.', { default: false }),
    reranker: boolean('Whether the model serves /v1/rerank.', { default: false }),
    context: integer('Longest context in tokens (0: not said).', { minimum: 0, default: 0 }),
  },
);

export function decodeCapabilities(field: Field): CapabilitiesDraft {
  field.keys(['in', 'out', 'tools', 'reranker', 'context']);
  return {
    in: field.get('in').stringList(),
    out: field.get('out').stringList(),
    tools: field.get('tools').bool(false),
    reranker: field.get('reranker').bool(false),
    context: field.get('context').int(0),
  };
}

/** llama-swap's rules: known modalities (in, then out), a context of at least 0. */
export function resolveCapabilities(caps: CapabilitiesDraft, { id, field }: ModelFieldContext): ModelCapabilities | null {
  const check = (key: 'in' | 'out'): Modality[] =>
    caps[key].map((m, index) => {
      if (!(MODALITIES as readonly string[]).includes(m)) {
        throw new ConfigError(
          `model ${id}: capabilities.${key}: invalid modality ${JSON.stringify(m)}, must be one of: text, audio, image`,
          field.get(key).items()[index]?.where,
        );
      }
      return m as Modality;
    });
  const inputs = check('in');
  const outputs = check('out');
  if (caps.context < 0) field.get('context').fail(`model ${id}: capabilities.context: must be >= 0`);
  if (inputs.length === 0 && outputs.length === 0 && !caps.tools && !caps.reranker && caps.context === 0) return null;
  return { in: inputs, out: outputs, tools: caps.tools, reranker: caps.reranker, context: caps.context };
}
