/**
 * The JSON Schema of config.yaml (config-schema.json at the repository root, written by
 * `npm run schema`), assembled from the lists the loader itself decodes by: the model field
 * table (MODEL_FIELDS, each entry's `schema`), TOP_LEVEL_KEYS (top-level-schema.ts) and the
 * keys llama-swap has that swapstate does not implement yet. Nothing is listed twice, and a
 * key without a schema stops the generator, so the schema cannot silently fall behind the
 * loader.
 *
 * Editors (yaml-language-server, via the `# yaml-language-server: $schema=...` line) use it
 * for completion, hover text and type errors. It is deliberately loose (schema-shapes.ts): it
 * flags what the loader rejects for its type, never a config that loads.
 */
import { macrosSchema } from './macros.ts';
import type { FieldTable } from './model-field.ts';
import { MODEL_FIELDS, MODEL_UNSUPPORTED_KEYS } from './model-fields.ts';
import { mapOf, notSupportedYet, type JsonSchema } from './schema-shapes.ts';
import { TOP_LEVEL_SCHEMAS } from './top-level-schema.ts';
import { TOP_LEVEL_KEYS, TOP_LEVEL_UNSUPPORTED } from './top-level-keys.ts';

/** The file `npm run schema` writes, relative to the repository root. */
export const CONFIG_SCHEMA_FILE = 'config-schema.json';

/**
 * One `models.<id>` entry: the table's keys in table order, then `macros` (read before
 * decoding, by expand-macros.ts), then the keys accepted with a "not supported yet" warning.
 *
 * @throws Error naming the first table key without a `schema`.
 */
export function modelSchema(table: FieldTable, unsupported: readonly string[]): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const [key, field] of Object.entries(table)) {
    if (!field.schema) throw new Error(`models.<id>.${key} has no schema: add \`schema\` to its modelField entry`);
    properties[key] = field.schema;
  }
  properties['macros'] = macrosSchema('for this model (override the global ones; ${MODEL_ID} and ${PORT} are provided)');
  for (const key of unsupported) properties[key] ??= notSupportedYet(`per-model \`${key}\``);
  // A bare `id:` (YAML null) is a model with every default.
  return { description: 'A model, by its id (also ${MODEL_ID}).', type: ['object', 'null'], properties };
}

/** @throws Error naming the first top-level key without a schema. */
function topLevelProperties(): Record<string, JsonSchema> {
  const properties: Record<string, JsonSchema> = {
    macros: macrosSchema('for every value but `models` (a model sees them too, through its own scope)'),
  };
  for (const key of TOP_LEVEL_KEYS) {
    if (key === 'models') {
      properties[key] = mapOf('The models, by id. A request names one by its id, an alias, a selector or a profile pin.', modelSchema(MODEL_FIELDS, MODEL_UNSUPPORTED_KEYS));
      continue;
    }
    const schema = TOP_LEVEL_SCHEMAS[key];
    if (!schema) throw new Error(`top-level key ${key} has no schema: add it to TOP_LEVEL_SCHEMAS (top-level-schema.ts)`);
    properties[key] = schema;
  }
  for (const key of TOP_LEVEL_UNSUPPORTED) properties[key] = notSupportedYet(`\`${key}\``);
  return properties;
}

/** The whole document (draft-07: the newest draft yaml-language-server supports). */
export function configSchema(): JsonSchema {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'swapstate config.yaml',
    description:
      "swapstate's configuration: llama-swap's config.yaml keys plus swapstate's own. Unknown keys are ignored with a warning, so they are not errors here.",
    // An empty file (or a bare `~`) loads, with no models.
    type: ['object', 'null'],
    properties: topLevelProperties(),
  };
}

/** config-schema.json as committed: two-space JSON and a final newline. */
export function configSchemaText(): string {
  return `${JSON.stringify(configSchema(), null, 2)}\n`;
}
