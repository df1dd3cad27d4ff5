/**
 * The per-model field table (src/config/model-fields.ts) is the one list of model keys: the
 * decoded types, the known keys, the decoder, the rules and the leftover-macro wording all come
 * from it. These tests hold each of those to the table, and show that a new key is one entry.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { Field } from '../../src/config/field.ts';
import { decodeFields, modelField, resolveFields } from '../../src/config/model-field.ts';
import { MODEL_FIELDS, MODEL_UNSUPPORTED_KEYS, type ModelConfig, type ModelDraft } from '../../src/config/model-fields.ts';
import type { ModelCapabilities, ModelFilters } from '../../src/config/types.ts';
import { parseYamlTree } from '../../src/config/yaml-tree.ts';
import { load, loadError } from './helpers.ts';

const TABLE_KEYS = Object.keys(MODEL_FIELDS);
const PROXY = 'proxy: http://127.0.0.1:9000';

/** A config of one model `m` with the given lines (indented under it). */
const oneModel = (...lines: string[]): string => ['models:', '  m:', ...lines.map((line) => `    ${line}`)].join('\n') + '\n';

describe('the model field table', () => {
  it('is the set of keys the decoder knows: every table key, even set to null, loads without a warning', () => {
    const cfg = load(oneModel(...TABLE_KEYS.filter((key) => key !== 'proxy').map((key) => `${key}: null`), PROXY));
    expect(cfg.warnings).toEqual([]);
  });

  it('is what a misspelt key is compared with: each key one edit off is suggested', () => {
    for (const key of TABLE_KEYS) {
      const cfg = load(oneModel(`${key}x: null`, PROXY));
      expect(cfg.warnings).toEqual([`config.yaml:3: unknown key "models.m.${key}x" ignored (did you mean "${key}"?)`]);
    }
  });

  it('leaves llama-swap keys swapstate lacks to the unsupported list, not to the table', () => {
    for (const key of MODEL_UNSUPPORTED_KEYS) expect(TABLE_KEYS).not.toContain(key);
    const cfg = load(oneModel(...MODEL_UNSUPPORTED_KEYS.map((key) => `${key}: {}`), PROXY));
    expect(cfg.warnings).toEqual(
      MODEL_UNSUPPORTED_KEYS.map((key, i) => `config.yaml:${i + 3}: "models.m.${key}" is not supported yet by swapstate; ignored`),
    );
  });

  it('gives a loaded model exactly its keys, in its order, each with a default', () => {
    const model = load(oneModel(PROXY)).models.m!;
    expect(Object.keys(model)).toEqual(['id', ...TABLE_KEYS]);
    for (const key of TABLE_KEYS) expect(model[key as keyof ModelConfig], key).not.toBeUndefined();
  });

  it('gives the decoded types: a key of ModelConfig is a key of the table, its type the table entry says', () => {
    expectTypeOf<keyof ModelConfig>().toEqualTypeOf<'id' | keyof typeof MODEL_FIELDS>();
    expectTypeOf<Exclude<keyof ModelDraft, 'id' | 'field'>>().toEqualTypeOf<keyof typeof MODEL_FIELDS>();
    // The draft is the file's value, the config the effective one.
    expectTypeOf<ModelDraft['sendLoadingState']>().toEqualTypeOf<boolean | undefined>();
    expectTypeOf<ModelConfig['sendLoadingState']>().toEqualTypeOf<boolean>();
    expectTypeOf<ModelConfig['ttl']>().toEqualTypeOf<number>();
    expectTypeOf<ModelConfig['cmd']>().toEqualTypeOf<string>();
    expectTypeOf<ModelConfig['filters']>().toEqualTypeOf<ModelFilters>();
    expectTypeOf<ModelConfig['capabilities']>().toEqualTypeOf<ModelCapabilities | null>();
    expectTypeOf<ModelDraft['capabilities']['in']>().toEqualTypeOf<string[]>();
  });

  it('words a leftover macro in each key as the entry says', () => {
    for (const [key, { leftoverMacros: style }] of Object.entries(MODEL_FIELDS)) {
      const others = key === 'proxy' ? [] : [PROXY];
      if (style === 'named') {
        const message = loadError(oneModel(`${key}: "\${nope}"`, ...others)).message;
        expect(message, key).toBe(`config.yaml:3: unknown macro '\${nope}' found in m.${key}`);
      } else if (style === 'block') {
        const message = loadError(oneModel(`${key}: {a: ["\${nope}"]}`, ...others)).message;
        expect(message, key).toBe(`config.yaml:3: model m ${key}: unknown macro '\${nope}'`);
      } else if (typeof style === 'object') {
        for (const sub of Object.keys(style)) {
          expect(loadError(oneModel(`${key}: {${sub}: "\${nope}"}`, ...others)).message, key).toBe(
            `config.yaml:3: unknown macro '\${nope}' found in m.${key}.${sub}`,
          );
        }
      } else {
        const message = loadError(oneModel(`${key}: {a: "\${nope}"}`, ...others)).message;
        expect(message, key).toBe(`config.yaml:3: model m ${key}.a: unknown macro '\${nope}'`);
      }
    }
  });
});

describe('a new model key', () => {
  // What adding a key takes: one entry. Here a made-up `sleepAfter` joins a copy of the table.
  const TABLE = {
    ...MODEL_FIELDS,
    sleepAfter: modelField({
      decode: (f) => f.int(0),
      resolve: (seconds, { id, field }) => (seconds < 0 ? field.fail(`model ${id}: sleepAfter must be >= 0`) : seconds),
    }),
  };

  const modelAt = (text: string) => {
    const ctx = parseYamlTree(text, 'config.yaml');
    return { field: Field.root(ctx).get('models').get('m'), warnings: ctx.warnings };
  };
  const globals = { globalTTL: 0, unloadTimeout: 10, sendLoadingState: false, sleepRequestTimeout: 10, wakeRequestTimeout: 10 };

  it('is decoded, known to the unknown-key check and resolved by its rule', () => {
    const { field, warnings } = modelAt(oneModel('sleepAfter: 30', 'sleepAftr: 1'));
    const drafts = decodeFields(field, TABLE, MODEL_UNSUPPORTED_KEYS);
    expect(drafts.sleepAfter).toBe(30);
    expect(warnings).toEqual(['config.yaml:4: unknown key "models.m.sleepAftr" ignored (did you mean "sleepAfter"?)']);
    const values = resolveFields(drafts, TABLE, (key) => ({ id: 'm', field: field.get(key), globals }));
    expectTypeOf(values.sleepAfter).toEqualTypeOf<number>();
    expect(values.sleepAfter).toBe(30);
    expect(values.ttl).toBe(0);
  });

  it('fails with its own message at its own line', () => {
    const { field } = modelAt(oneModel('cmd: x', 'sleepAfter: -1'));
    const drafts = decodeFields(field, TABLE, MODEL_UNSUPPORTED_KEYS);
    expect(() => resolveFields(drafts, TABLE, (key) => ({ id: 'm', field: field.get(key), globals }))).toThrow(
      'config.yaml:4: model m: sleepAfter must be >= 0',
    );
  });
});
