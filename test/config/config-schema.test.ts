/**
 * config-schema.json (issue 15): generated from the loader's own key lists, committed up to
 * date, naming every key the decoders know, accepting every config that loads (the examples,
 * macros in typed keys, values the loader only warns about) and flagging configs the loader
 * rejects for a value's type.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse, stringify } from 'yaml';
import { CONFIG_SCHEMA_FILE, configSchema, configSchemaText, modelSchema } from '../../src/config/config-schema.ts';
import { Field } from '../../src/config/field.ts';
import { loadConfigFile } from '../../src/config/load.ts';
import { modelField } from '../../src/config/model-field.ts';
import { MODEL_FIELDS, MODEL_UNSUPPORTED_KEYS } from '../../src/config/model-fields.ts';
import type { JsonSchema } from '../../src/config/schema-shapes.ts';
import { DECODED_TOP_LEVEL_KEYS, TOP_LEVEL_KEYS } from '../../src/config/top-level-keys.ts';
import { load, loadError, yaml } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const schema = configSchema();
const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(schema);

/** The schema's errors for a config text as an editor sees it (before env and macros). */
function schemaErrors(text: string): string[] {
  return validate(parse(text, { merge: true })) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = `${dir}/${name}`;
      if (statSync(path).isDirectory()) return yamlFiles(path);
      return /\.ya?ml$/.test(name) ? [path] : [];
    });
}

const EXAMPLES = [`${ROOT}config/config.example.yaml`, ...yamlFiles(`${ROOT}config/examples`)];

/** Property names a schema offers at a level, through anyOf branches. */
function propertyNames(s: JsonSchema): string[] {
  return [...Object.keys(s.properties ?? {}), ...(s.anyOf ?? []).flatMap(propertyNames)];
}

/** The schemas a path leads to: properties, named-map values, list items, through anyOf. */
function schemasAt(s: JsonSchema, path: ReadonlyArray<string | number>): JsonSchema[] {
  if (path.length === 0) return [s];
  const [head, ...rest] = path;
  const next: JsonSchema[] = [];
  for (const branch of [s, ...(s.anyOf ?? [])]) {
    if (typeof head === 'number') {
      if (branch.items) next.push(branch.items);
    } else if (branch.properties?.[head!]) {
      next.push(branch.properties[head!]!);
    } else if (typeof branch.additionalProperties === 'object') {
      next.push(branch.additionalProperties);
    }
  }
  return next.flatMap((n) => schemasAt(n, rest));
}

describe('config-schema.json', () => {
  it('is up to date (run npm run schema)', () => {
    expect(readFileSync(`${ROOT}${CONFIG_SCHEMA_FILE}`, 'utf8'), 'config-schema.json is out of date: run npm run schema').toBe(configSchemaText());
  });

  it('is draft-07, which yaml-language-server supports', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
  });

  it.each(EXAMPLES.map((f) => [f.slice(ROOT.length), f]))('%s names it on its first line and validates', (_name, file) => {
    const text = readFileSync(file, 'utf8');
    const first = text.split('\n')[0]!;
    const relative = /^# yaml-language-server: \$schema=(\S+)$/.exec(first)?.[1];
    expect(relative, first).toBeDefined();
    expect(fileURLToPath(new URL(relative!, `file://${file}`))).toBe(`${ROOT}${CONFIG_SCHEMA_FILE}`);
    expect(schemaErrors(text)).toEqual([]);
  });
});

describe('every key the loader knows is in the schema', () => {
  it('the top-level keys, macros included', () => {
    expect(Object.keys(schema.properties!)).toEqual(expect.arrayContaining([...DECODED_TOP_LEVEL_KEYS, 'macros']));
  });

  it('every MODEL_FIELDS key, the not-yet-supported ones and macros, in table order', () => {
    const model = schemasAt(schema, ['models', 'm'])[0]!;
    expect(Object.keys(model.properties!)).toEqual([...Object.keys(MODEL_FIELDS), 'macros', ...MODEL_UNSUPPORTED_KEYS.filter((k) => !(k in MODEL_FIELDS))]);
  });

  it('a table entry without a schema stops the generator', () => {
    const table = { ...MODEL_FIELDS, brandNew: modelField({ decode: (f) => f.string() }) };
    expect(() => modelSchema(table, [])).toThrow('models.<id>.brandNew has no schema');
  });

  describe('every key a decoder checks with Field.keys(), at its path', () => {
    const seen = new Map<string, { path: ReadonlyArray<string | number>; known: string[] }>();
    beforeAll(() => {
      const original = Field.prototype.keys;
      vi.spyOn(Field.prototype, 'keys').mockImplementation(function (this: Field, known, unsupported = []) {
        const entry = seen.get(this.name) ?? { path: this.path, known: [] };
        entry.known.push(...known, ...unsupported);
        seen.set(this.name, entry);
        return original.call(this, known, unsupported);
      });
      // The examples, and a config with every block the examples leave out. Loading may fail
      // after decoding (legacy and new routing together): the keys are checked while decoding.
      // A conf.d fragment alone may fail after decoding too (a cmd whose macro is elsewhere).
      for (const file of EXAMPLES) {
        try {
          loadConfigFile(file);
        } catch {
          // decoded before it failed
        }
      }
      load(EVERY_BLOCK);
      expect(() => load(LEGACY_BLOCKS)).toThrow("config cannot use both 'groups' and 'matrix'");
    });
    afterAll(() => vi.restoreAllMocks());

    it('the decoders were all reached', () => {
      expect([...seen.keys()]).toEqual(
        expect.arrayContaining([
          '',
          'models.a',
          'models.a.filters',
          'models.a.capabilities',
          'models.a.sleepEndpoints[0]',
          'peers.p',
          'peers.p.timeouts',
          'selectors.s.settings',
          'profiles.fast',
          'routing.scheduler.settings.fifo',
          'routing.router.settings.matrix',
          'hooks.on_startup',
          'upstream',
          'groups.g',
          'matrix',
        ]),
      );
    });

    it('each key is offered by the schema there', () => {
      const missing: string[] = [];
      for (const [name, { path, known }] of seen) {
        const offered = new Set(schemasAt(schema, path).flatMap(propertyNames));
        for (const key of known) if (!offered.has(key)) missing.push(`${name || '(top level)'}.${key}`);
      }
      expect(missing).toEqual([]);
    });
  });
});

const EVERY_BLOCK = yaml`
  macros: { idle: 60 }
  logRequests: false
  hooks: { on_startup: { preload: [a] } }
  upstream: { ignorePaths: ['^/x$'] }
  routing:
    router:
      use: group
      settings:
        groups: { g: { swap: false, exclusive: true, persistent: false, members: [a, b] } }
        matrix: { vars: { x: a }, evict_costs: { x: 2 }, sets: { s: x } }
    scheduler: { use: fifo, settings: { fifo: { priority: { a: 1 } } } }
  models:
    a:
      cmd: node x.js --port \${PORT}
      ttl: \${idle}
      filters: { stripParams: temperature, setParams: { top_k: 1 }, setParamsByID: { a: { x: 1 } } }
      capabilities: { in: [text], out: [text], tools: true, context: 8 }
      sleepMode: enable
      sleepEndpoints: [{ endpoint: /sleep, method: post, body: '{}', timeout: 5 }]
      wakeEndpoints: [{ endpoint: /wake }]
    b:
      cmd: node x.js --port \${PORT}
  peers:
    p: { proxy: 'http://127.0.0.1:9', models: [m], filters: { setParams: { a: 1 } }, timeouts: { connect: 5 } }
  selectors:
    s: { strategy: pin, targets: [a, b], settings: { spillover: 2 } }
  profiles:
    fast: { description: d, pins: { x: a } }
`;

const LEGACY_BLOCKS = yaml`
  models:
    a:
      cmd: node x.js --port \${PORT}
  groups: { g: { members: [a] } }
  matrix: { vars: { x: a }, sets: { s: x } }
`;

describe('the schema accepts configs that load', () => {
  /** One model `m`, block style (`${PORT}` cannot stand in a flow mapping), with `keys`. */
  const model = (keys: string) => `models:\n  m:\n    cmd: node x.js --port \${PORT}\n${keys}`;
  it.each([
    ['a macro in an integer and a boolean key', `macros: { idle: 60, hide: true }\n${model("    ttl: '${idle}'\n    unlisted: '${hide}'\n")}`],
    ['${env.NAME} in an integer key', 'globalTTL: ${env.TTL}\n'],
    ['numbers and booleans as text', model('    name: 1.10\n    description: true\n    aliases: [1, 2]\n')],
    ['a log level in capitals, or unknown (a warning)', 'logLevel: VERBOSE\nlogTimeFormat: nonsense\nmodels: {}\n'],
    ['healthCheckTimeout below 15 (raised to 15)', 'healthCheckTimeout: 5\n'],
    ['an empty file', '# nothing yet\n'],
    ['an empty models block', 'models:\n'],
    ['trustProxy as hops', 'trustProxy: 2\n'],
    ['trustProxy as a comma list', "trustProxy: 'loopback, 10.0.0.0/8'\n"],
    ['trustProxy as a list', 'trustProxy: [loopback]\n'],
    ['null values (defaults)', `healthCheckTimeout:\napiKeys:\n${model('    ttl: ~\n    filters:\n')}`],
    [
      'a sleep method in any case',
      model('    sleepMode: enable\n    sleepEndpoints: [{ endpoint: /sleep, method: put }]\n    wakeEndpoints: [{ endpoint: /wake, method: Get }]\n'),
    ],
    ['unknown keys (warnings)', `somethingElse: 1\n${model('    colour: blue\n    capabilities: { smell: 3 }\n')}`],
    ['a not-yet-supported key (a warning)', `ui: { anything: [1] }\n${model('    timeouts: { connect: 3 }\n')}`],
    [
      'an unused matrix with odd var names',
      `${model('')}routing: { router: { use: group, settings: { matrix: { vars: { 'a b': m }, evict_costs: { 'a b': -1 }, sets: { s: m } } } } }\n`,
    ],
  ])('%s', (_name, text) => {
    expect(() => load(text, { TTL: '60' })).not.toThrow();
    expect(schemaErrors(text)).toEqual([]);
  });
});

describe('the schema flags configs the loader rejects for a value type', () => {
  const model = (keys: string) => `models:\n  m:\n    cmd: node x.js --port \${PORT}\n${keys}`;
  it.each([
    ['ttl: "abc"', model('    ttl: "abc"\n'), /expected an integer/],
    ['models: []', 'models: []\n', /expected a mapping/],
    ['a boolean healthCheckTimeout', 'healthCheckTimeout: true\n', /expected an integer/],
    ['unlisted: "yes"', model('    unlisted: "yes"\n'), /expected a boolean/],
    ['an unknown modality', model('    capabilities: { in: [video] }\n'), /invalid modality "video"/],
    ['an unknown sleepMode', model('    sleepMode: maybe\n'), /sleepMode must be enable or disable/],
    ['a ttl past the timer limit', model('    ttl: 2147484\n'), /at most 2147483 seconds/],
    ['a negative globalTTL', 'globalTTL: -1\n', /globalTTL must be >= 0/],
    ['a negative peer timeout', "peers: { p: { proxy: 'http://h', models: [x], timeouts: { connect: -1 } } }\n", /must be >= 0/],
    ['an unknown logToStdout', 'logToStdout: everything\n', /logToStdout must be one of/],
    ['the legacy profile list', model('profiles: { p: [m] }\n'), /legacy list syntax/],
    ['an unknown selector strategy', model('selectors: { s: { strategy: fastest, targets: [m] } }\n'), /unknown strategy/],
    ['a reserved macro name', 'macros: { PORT: 1 }\n', /reserved/],
    ['a macro holding a list', 'macros: { xs: [1] }\n', /invalid type/],
  ])('%s', (_name, text, message) => {
    expect(loadError(text).message).toMatch(message);
    expect(schemaErrors(text)).not.toEqual([]);
  });
});

describe('no false errors: any config that loads passes the schema (property)', () => {
  // Values of every type and the edge of every bound, for keys of every kind; `${v}` is a macro.
  const VALUES: unknown[] = [
    ...[0, -1, 1, -2, 15, 2147483, 2147484, 1.5, 65535],
    ...[true, false, null],
    ...['', 'abc', 'enable', 'disable', 'none', '/health', 'INFO', 'proxy', 'fifo', 'group', 'warm', 'text', 'log', 'http://127.0.0.1:9', '${v}', '${env.E}'],
    ...[[], ['a'], [1], [null], ['text', 'image'], [{ endpoint: '/s' }], {}, { a: 1 }, { in: ['text'] }, { connect: 1 }],
  ];
  const value = fc.constantFrom(...VALUES);
  const keysOf = (keys: readonly string[]) => fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 3 });
  const modelKeys = [...Object.keys(MODEL_FIELDS), ...MODEL_UNSUPPORTED_KEYS].filter((k) => k !== 'cmd');
  const topKeys = TOP_LEVEL_KEYS.filter((k) => k !== 'models');

  it('random model and top-level values', () => {
    let loaded = 0;
    fc.assert(
      fc.property(keysOf(modelKeys), keysOf(topKeys), (model, top) => {
        const config = { macros: { v: 5 }, ...top, models: { m: { cmd: 'node x.js --port ${PORT}', ...model } } };
        const text = stringify(config);
        try {
          load(text, { E: '7' });
        } catch {
          return; // rejected: the schema may flag it or not
        }
        loaded++;
        expect(schemaErrors(text), text).toEqual([]);
      }),
      { numRuns: 1000, seed: 15 },
    );
    // The property says something only if many of the configs load.
    expect(loaded).toBeGreaterThan(100);
  });
});
