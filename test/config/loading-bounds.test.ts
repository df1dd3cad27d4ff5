/**
 * Config loading is bounded (issue 10, item 7): a hostile or broken file fails fast with a
 * ConfigError instead of hanging the process (or, on SIGHUP, the running server). Bounds:
 * 1 MiB of text (also after `${env.*}`), 100 levels of nesting, 100 000 values created by
 * aliases, 4 MiB of text produced by macros. Configs that use anchors, many keys or many
 * macros the ordinary way keep loading, and quickly.
 */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.ts';
import { MacroBudget, expandString } from '../../src/config/macro-substitute.ts';
import { MacroScope, type Macro } from '../../src/config/macros.ts';
import { ConfigError } from '../../src/config/types.ts';
import { load, loadError, yaml } from './helpers.ts';

const MiB = 1024 * 1024;

/**
 * A bound on wall time that only a runaway (a loader that never finishes, or works for
 * minutes) can break: tests run on slow, shared machines, so speed itself is not asserted
 * here. On the previous loader, the quadratic cases below took 3-4 s at these sizes on a
 * quiet 2-core machine, and the bombs never finished.
 */
const RUNAWAY_MS = 15_000;

/** Runs `fn` and returns how long it took, in ms. */
function timed(fn: () => void): number {
  const started = performance.now();
  fn();
  return performance.now() - started;
}

/** "A billion laughs": `levels` anchors, each a list of 9 aliases of the one before. */
function aliasBomb(levels = 9): string {
  let text = 'a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n';
  for (let i = 1; i <= levels; i++) text += `a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]\n`;
  return `${text}models: {}\n`;
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('document size', () => {
  it('a config over 1 MiB fails before it is parsed', () => {
    const big = `models: {}\n# ${'x'.repeat(MiB)}\n`;
    expect(loadError(big).message).toBe('config.yaml: config is larger than 1 MiB (1048576 bytes)');
    // Counted in UTF-8 bytes: 400 000 three-byte characters are over, though fewer than 1 Mi characters.
    expect(loadError(`# ${'€'.repeat(400_000)}\n`).message).toBe('config.yaml: config is larger than 1 MiB (1048576 bytes)');
    expect(load(`# ${'x'.repeat(MiB - 100)}\nmodels: {}\n`).models).toEqual({});
  });

  it('a config file is read only up to the bound (a file that never ends fails too)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'swapstate-bounds-'));
    dirs.push(dir);
    const file = join(dir, 'big.yaml');
    writeFileSync(file, `# ${'x'.repeat(2 * MiB)}\n`);
    expect(() => loadConfigFile(file)).toThrow(new ConfigError('config is larger than 1 MiB (1048576 bytes)', file));
    expect(() => loadConfigFile('/dev/zero')).toThrow(new ConfigError('config is larger than 1 MiB (1048576 bytes)', '/dev/zero'));
  });

  it('${env.X} substitution may not take the text over 1 MiB', () => {
    const text = `models: {}\nlist: [${Array(200).fill('"${env.BIG}"').join(', ')}]\n`;
    expect(loadError(text, { BIG: 'x'.repeat(10_000) }).message).toBe(
      "config.yaml:2: config is larger than 1 MiB (1048576 bytes) once environment variable 'BIG' is substituted",
    );
    expect(load(text, { BIG: 'x'.repeat(1_000) }).warnings).toEqual(['config.yaml:2: unknown key "list" ignored']);
  });

  it('many ${env.X} references after many comments cost no references x comments work', () => {
    const text = `${'#\n'.repeat(30_000)}list: [${Array(30_000).fill('${env.E}').join(',')}]\n`;
    let cfg: ReturnType<typeof load> | undefined;
    expect(timed(() => (cfg = load(text, { E: 'v' })))).toBeLessThan(RUNAWAY_MS); // one `some` over the comments per reference: 9e8 steps
    expect(cfg!.warnings).toEqual(['config.yaml:30001: unknown key "list" ignored']);
  });
});

describe('YAML structure', () => {
  it('an alias bomb fails fast, naming the file and the line of the alias', () => {
    let error: ConfigError | undefined;
    const ms = timed(() => (error = loadError(aliasBomb())));
    // Line 6 is the first alias whose expansion takes the total past the bound (a4: 73 811 values).
    expect(error!.message).toBe('config.yaml:6: invalid YAML: aliases expand to more than 100000 values');
    expect(ms).toBeLessThan(RUNAWAY_MS);
  });

  it('anchors and `<<: *defaults` merges keep working, also in a config of 2000 models', () => {
    const models = Array.from({ length: 2000 }, (_, i) => `  m${i}:\n    <<: *defaults\n    name: model ${i}\n`).join('');
    const cfg = load(`defaults: &defaults {proxy: "http://h:1", ttl: 30, aliases: []}\nmodels:\n${models}`);
    expect(Object.keys(cfg.models)).toHaveLength(2000);
    expect(cfg.models.m1999).toMatchObject({ proxy: 'http://h:1', ttl: 30, name: 'model 1999' });
  });

  it('nesting deeper than 100 levels fails (also 20 000 levels, which make the YAML composer abort the process)', () => {
    const nested = (depth: number): string => `models: {}\nx: ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
    expect(load(nested(99)).models).toEqual({}); // the root mapping is level 1
    expect(loadError(nested(100)).message).toBe('config.yaml:2: invalid YAML: collections nested more than 100 levels deep');
    expect(loadError(nested(20_000)).message).toBe('config.yaml:2: invalid YAML: collections nested more than 100 levels deep');
    expect(loadError(`x:\n  ${'- '.repeat(5_000)}1\n`).message).toBe('config.yaml:2: invalid YAML: collections nested more than 100 levels deep');
  });

  it('nesting built by a chain of aliases is bounded too', () => {
    const chain = Array.from({ length: 5_000 }, (_, i) => `a${i + 1}: &a${i + 1} [*a${i}]`).join('\n');
    expect(loadError(`a0: &a0 [x]\n${chain}\n`).message).toMatch(/^config\.yaml:\d+: invalid YAML: collections nested more than 100 levels deep$/);
  });

  it('duplicate keys are found in linear time, at the duplicate', () => {
    // yaml's own check compared every key with every other: 20 000 keys took 3.6 s.
    const keys = Array.from({ length: 20_000 }, (_, i) => `k${i}: 1`).join('\n');
    expect(timed(() => load(`${keys}\n`))).toBeLessThan(RUNAWAY_MS);
    expect(loadError(`${keys}\nk7: 2\n`).message).toBe('config.yaml:20001: invalid YAML: Map keys must be unique');
  });
});

describe('macro expansion', () => {
  it('macros that double per level fail once they produce more than 4 MiB of text', () => {
    const levels = Array.from({ length: 40 }, (_, i) => `  a${i + 1}: "\${a${i}}\${a${i}}"`).join('\n');
    const text = `macros:\n  a0: "0123456789"\n${levels}\nmodels:\n  m:\n    proxy: http://h:1\n    cmd: \${a40}\n`;
    let error: ConfigError | undefined;
    const ms = timed(() => (error = loadError(text)));
    expect(error!.message).toMatch(/^config\.yaml:\d+: model m: macros expand to more than 4 MiB of text \(while substituting '\$\{a\d+\}'\)$/);
    expect(ms).toBeLessThan(RUNAWAY_MS);
    expect(load(text.replace('${a40}', '${a10}')).models.m!.cmd).toHaveLength(10 * 2 ** 10);
  });

  it('many global macros and many models cost no macros x models work', () => {
    const macros = Array.from({ length: 5_000 }, (_, i) => `  g${i}: v${i}`).join('\n');
    const models = Array.from({ length: 5_000 }, (_, i) => `  m${i}: {proxy: "http://h:1", cmd: "s \${g0} \${g${i}}"}`).join('\n');
    let cfg: ReturnType<typeof load> | undefined;
    expect(timed(() => (cfg = load(`macros:\n${macros}\nmodels:\n${models}\n`)))).toBeLessThan(RUNAWAY_MS);
    expect(cfg!.models.m4321!.cmd).toBe('s v0 v4321');
  });

  it("gives llama-swap's result: one macro at a time, last declared first, into each string", () => {
    // The reference: llama-swap's loop, a replaceAll per macro over every string.
    const sequential = (text: string, macros: readonly Macro[]): unknown => {
      let value: unknown = text;
      for (let i = macros.length - 1; i >= 0; i--) {
        const { name, value: macroValue } = macros[i]!;
        if (typeof value !== 'string') break;
        const reference = `\${${name}}`;
        if (value === reference) value = macroValue;
        else value = value.replaceAll(reference, String(macroValue));
      }
      return value;
    };
    const names = ['a', 'b', 'c', 'd'];
    const piece = fc.oneof(fc.constantFrom(...names.map((n) => `\${${n}}`)), fc.constantFrom('x', ' ', '${', '}', 'a', '$', '{'));
    const text = fc.array(piece, { maxLength: 8 }).map((parts) => parts.join(''));
    const macroValue = fc.oneof(text, fc.integer({ min: 0, max: 99 }), fc.boolean());
    const declarations = fc.uniqueArray(fc.constantFrom(...names), { minLength: 1, maxLength: 4 }).chain((declared) =>
      fc.tuple(...declared.map((name) => macroValue.map((value): Macro => ({ name, value })))),
    );
    fc.assert(
      fc.property(declarations, text, (macros, input) => {
        expect(expandString(input, MacroScope.of(macros), new MacroBudget(), true)).toEqual(sequential(input, macros));
      }),
      { numRuns: 2_000 },
    );
  });
});
