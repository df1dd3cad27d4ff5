/**
 * `-config` + `-config-dir` (reference 1.1, 1.5, 1.6): the sources, the merge rules, the
 * errors (with `file:line` in the file that wrote the offending key) and the dir watcher's
 * change test. The first block ports llama-swap's internal/config/merge_test.go case by case.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, type Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-error.ts';
import { describeSources, loadConfigSources, sourceFiles, type ConfigSources, type LoadedConfig } from '../../src/config/load-sources.ts';
import { mergeSourceTrees } from '../../src/config/merge-sources.ts';
import { dirChanged, fileChanged, scanConfigDir } from '../../src/config/watch-sources.ts';
import { parseYamlTree, toPlain } from '../../src/config/yaml-tree.ts';
import { yaml } from './helpers.ts';

const made: string[] = [];
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'swapstate-config-dir-'));
  made.push(dir);
  return dir;
}

/** Writes `files` (name → YAML) into a new directory and returns it. */
function dirWith(files: Record<string, string>): string {
  const dir = tempDir();
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** A `models:` entry with a fixed proxy, as merge_test.go's modelCfg. */
function model(id: string, cmd = `echo ${id}`): string {
  return `  ${id}:\n    cmd: ${cmd}\n    proxy: "http://localhost:9999"\n`;
}

function load(sources: Partial<ConfigSources>, env: NodeJS.ProcessEnv = {}): LoadedConfig {
  return loadConfigSources({ config: null, configDir: null, ...sources }, env);
}

/** The ConfigError the sources fail with (fails the test when they load). */
function loadError(sources: Partial<ConfigSources>, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    load(sources, env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected the config sources to be rejected, but they loaded');
}

/** Merges YAML texts (file name → text) with the pure merge, as plain objects. */
function mergeTexts(files: Record<string, string>): unknown {
  const trees = Object.entries(files).map(([file, text]) => ({ file, ...parseYamlTree(text, file) }));
  return toPlain(mergeSourceTrees(trees, 'merged').root);
}

function mergeError(files: Record<string, string>): ConfigError {
  try {
    mergeTexts(files);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected the merge to fail');
}

describe("llama-swap's merge_test.go, ported", () => {
  it('neither -config nor -config-dir: an error', () => {
    expect(loadError({}).message).toBe('at least one of -config or -config-dir must be provided');
  });

  it('-config alone loads as a single file', () => {
    const dir = dirWith({ 'config.yaml': `models:\n${model('model1')}groups:\n  group1:\n    members: ["model1"]\n` });
    const { config, files } = load({ config: join(dir, 'config.yaml') });
    expect(Object.keys(config.models)).toEqual(['model1']);
    expect(config.groups.group1?.members).toEqual(['model1']);
    expect(files).toEqual([join(dir, 'config.yaml')]);
  });

  it('-config-dir alone: every file contributes', () => {
    const dir = dirWith({ 'a.yaml': `models:\n${model('alpha')}`, 'b.yaml': `models:\n${model('beta')}` });
    expect(Object.keys(load({ configDir: dir }).config.models)).toEqual(['alpha', 'beta']);
  });

  it('-config outside -config-dir plus the dir: additive', () => {
    const main = join(dirWith({ 'config.yaml': `models:\n${model('base')}` }), 'config.yaml');
    const dir = dirWith({ 'extra.yaml': `models:\n${model('ext')}` });
    const { config, files } = load({ config: main, configDir: dir });
    expect(Object.keys(config.models)).toEqual(['base', 'ext']);
    expect(files).toEqual([main, join(dir, 'extra.yaml')]);
  });

  it('a -config file that is also in -config-dir: an error', () => {
    const dir = dirWith({ 'main.yaml': `models:\n${model('base')}` });
    expect(loadError({ config: join(dir, 'main.yaml'), configDir: dir }).message).toBe(
      `-config path ${join(dir, 'main.yaml')} is also present in -config-dir ${dir}; remove it from one`,
    );
    // Spelt differently, still the same file.
    expect(loadError({ config: join(dir, '.', 'x', '..', 'main.yaml'), configDir: `${dir}/` }).message).toContain('is also present in -config-dir');
  });

  it('a model defined in two files: duplicate models, at the second definition, naming the first', () => {
    const dir = dirWith({ 'a.yaml': `models:\n${model('dup')}`, 'b.yaml': `# b\nmodels:\n${model('dup')}` });
    const err = loadError({ configDir: dir });
    expect(err.where).toBe(`${dir}/b.yaml:3`);
    expect(err.message).toBe(`${dir}/b.yaml:3: duplicate models "dup" found in ${dir}/b.yaml (already defined in ${dir}/a.yaml:2)`);
  });

  it('a group defined in two files: duplicate groups', () => {
    const dir = dirWith({
      'a.yaml': `models:\n${model('m1')}groups:\n  g1:\n    members: [m1]\n`,
      'b.yaml': `models:\n${model('m2')}groups:\n  g1:\n    members: [m2]\n`,
    });
    expect(loadError({ configDir: dir }).message).toContain(`duplicate groups "g1" found in ${dir}/b.yaml`);
  });

  it('a peer defined in two files: duplicate peers', () => {
    const err = mergeError({
      'a.yaml': 'peers:\n  remote:\n    proxy: http://x:1\n    models: [m1]\n',
      'b.yaml': 'peers:\n  remote:\n    proxy: http://x:2\n    models: [m2]\n',
    });
    expect(err.message).toBe('b.yaml:2: duplicate peers "remote" found in b.yaml (already defined in a.yaml:2)');
  });

  it('profiles from two files are both kept', () => {
    const merged = mergeTexts({ 'a.yaml': 'profiles:\n  first:\n    aliases: {a1: m1}\n', 'b.yaml': 'profiles:\n  second:\n    aliases: {a2: m2}\n' });
    expect(merged).toEqual({ profiles: { first: { aliases: { a1: 'm1' } }, second: { aliases: { a2: 'm2' } } } });
  });

  it('a profile defined in two files: duplicate profiles', () => {
    const err = mergeError({ 'a.yaml': 'profiles:\n  shared:\n    aliases: {a1: m1}\n', 'b.yaml': 'profiles:\n  shared:\n    aliases: {a2: m2}\n' });
    expect(err.message).toContain('duplicate profiles "shared"');
  });

  it('a scalar set differently in two files: conflict at its path, naming both files', () => {
    const dir = dirWith({ 'a.yaml': `models:\n${model('m1')}\nglobalTTL: 100\n`, 'b.yaml': `models:\n${model('m2')}\nglobalTTL: 200\n` });
    const err = loadError({ configDir: dir });
    expect(err.message).toBe(
      `${dir}/b.yaml:6: conflict at "globalTTL": ${dir}/b.yaml sets a different value than a previous source (${dir}/a.yaml:6)`,
    );
  });

  it('a scalar set to the same value in two files: no conflict', () => {
    const dir = dirWith({ 'a.yaml': `models:\n${model('m1')}\nglobalTTL: 100\n`, 'b.yaml': `models:\n${model('m2')}\nglobalTTL: 100\n` });
    expect(load({ configDir: dir }).config.globalTTL).toBe(100);
  });

  it('macros from two files are both available', () => {
    const dir = dirWith({ 'a.yaml': `macros:\n  LOW: 1\nmodels:\n${model('m1', 'echo ${LOW}')}`, 'b.yaml': `macros:\n  HIGH: 2\nmodels:\n${model('m2', 'echo ${HIGH}')}` });
    const { models } = load({ configDir: dir }).config;
    expect(models.m1?.cmd).toBe('echo 1');
    expect(models.m2?.cmd).toBe('echo 2');
  });

  it('apiKeys from two files concatenate', () => {
    const dir = dirWith({ 'a.yaml': `models:\n${model('m1')}\napiKeys: [key-a]\n`, 'b.yaml': `models:\n${model('m2')}\napiKeys: [key-b]\n` });
    expect(load({ configDir: dir }).config.apiKeys).toEqual(['key-a', 'key-b']);
  });

  it('routing.router.settings.groups from two files are both kept', () => {
    const routing = (group: string, member: string) => `routing:\n  router:\n    settings:\n      groups:\n        ${group}:\n          members: [${member}]\n`;
    const dir = dirWith({ 'a.yaml': `models:\n${model('m1')}${routing('groupA', 'm1')}`, 'b.yaml': `models:\n${model('m2')}${routing('groupB', 'm2')}` });
    expect(Object.keys(load({ configDir: dir }).config.groups)).toEqual(['groupA', 'groupB']);
  });

  it('${PORT} is allocated on the merged document', () => {
    const dir = dirWith({ 'a.yaml': 'models:\n  m1:\n    cmd: serve --port ${PORT}\n    proxy: "http://localhost:${PORT}"\n' });
    const m1 = load({ configDir: dir }).config.models.m1!;
    expect(m1.cmd).toBe('serve --port 5800');
    expect(m1.proxy).toBe('http://localhost:5800');
  });

  it('${env.X} in a flow list is substituted before parsing', () => {
    const dir = dirWith({
      'a.yaml': `models:\n${model('m1')}`,
      'keys.yaml': `apiKeys: [\${env.TEST_API_KEY}]\nmodels:\n${model('m2')}`,
    });
    expect(load({ configDir: dir }, { TEST_API_KEY: 'secret123' }).config.apiKeys).toEqual(['secret123']);
  });

  it('files merge in sorted name order, whatever order they were written in', () => {
    const port = (id: string) => `  ${id}:\n    cmd: serve --port \${PORT}\n`;
    const dir = dirWith({ 'z.yaml': `models:\n${port('zmodel')}`, 'a.yaml': `models:\n${port('amodel')}` });
    for (let run = 0; run < 3; run++) {
      const { models } = load({ configDir: dir }).config;
      expect(Object.keys(models)).toEqual(['amodel', 'zmodel']);
      expect(models.amodel?.proxy).toBe('http://localhost:5800');
      expect(models.zmodel?.proxy).toBe('http://localhost:5801');
    }
  });

  it('an empty -config-dir next to -config: the -config file alone', () => {
    const main = join(dirWith({ 'main.yaml': `models:\n${model('m1')}` }), 'main.yaml');
    const dir = tempDir();
    const { config, files } = load({ config: main, configDir: dir });
    expect(Object.keys(config.models)).toEqual(['m1']);
    expect(files).toEqual([main]);
  });

  it('an empty -config-dir alone: no configuration sources found', () => {
    const dir = tempDir();
    expect(loadError({ configDir: dir }).message).toBe(`no configuration sources found: -config-dir ${dir} holds no *.yml or *.yaml file`);
  });

  it("a macro from one file is usable in another's models", () => {
    const dir = dirWith({ 'macros.yaml': `macros:\n  SHARED: hello\nmodels:\n${model('dummy')}`, 'use.yaml': `models:\n${model('user', 'echo ${SHARED}')}` });
    expect(load({ configDir: dir }).config.models.user?.cmd).toBe('echo hello');
  });

  it('a scalar in one file, a sequence in another: incompatible YAML node kinds', () => {
    const dir = dirWith({ 'a.yaml': `startPort: 5800\nmodels:\n${model('m1')}`, 'b.yaml': `startPort: [5800, 5801]\nmodels:\n${model('m2')}` });
    expect(loadError({ configDir: dir }).message).toBe(
      `${dir}/b.yaml:1: conflict at "startPort": incompatible YAML node kinds (scalar vs sequence) introduced by ${dir}/b.yaml (the scalar is at ${dir}/a.yaml:1)`,
    );
  });

  it('a block only one file has is taken from it (routing.router.settings.groups)', () => {
    const dir = dirWith({
      'a.yaml': `models:\n${model('m1')}`,
      'b.yaml': `routing:\n  router:\n    settings:\n      groups:\n        g1:\n          members: [m1]\nmodels:\n${model('m2')}`,
    });
    expect(Object.keys(load({ configDir: dir }).config.groups)).toEqual(['g1']);
  });
});

describe('merge rules', () => {
  it('every identity map refuses a child defined twice', () => {
    const cases: Array<[string, (body: string) => string]> = [
      ['models', (b) => `models:\n  ${b}`],
      ['groups', (b) => `groups:\n  ${b}`],
      ['profiles', (b) => `profiles:\n  ${b}`],
      ['selectors', (b) => `selectors:\n  ${b}`],
      ['peers', (b) => `peers:\n  ${b}`],
      ['matrix', (b) => `matrix:\n  ${b}`],
      ['routing.router.settings.groups', (b) => `routing:\n  router:\n    settings:\n      groups:\n        ${b}`],
      ['routing.router.settings.matrix', (b) => `routing:\n  router:\n    settings:\n      matrix:\n        ${b}`],
    ];
    for (const [path, wrap] of cases) {
      const name = path.split('.').at(-1)!;
      const err = mergeError({ 'a.yaml': wrap('x: {k: 1}\n'), 'b.yaml': wrap('x: {k: 1}\n') });
      expect(err.message, path).toMatch(new RegExp(`^b\\.yaml:\\d+: duplicate ${name} "x" found in b\\.yaml \\(already defined in a\\.yaml:\\d+\\)$`));
    }
  });

  it('identity maps are only those paths: the same child elsewhere merges', () => {
    // `filters` under a model is not an identity map, but `models` is: two files may not
    // share a model; they may share any other mapping, merged key by key.
    expect(mergeTexts({ 'a.yaml': 'hooks:\n  on_startup:\n    preload: [a]\n', 'b.yaml': 'hooks:\n  on_startup:\n    preload: [b]\n' })).toEqual({
      hooks: { on_startup: { preload: ['a', 'b'] } },
    });
    expect(mergeTexts({ 'a.yaml': 'routing:\n  router:\n    use: matrix\n', 'b.yaml': 'routing:\n  router:\n    settings: {matrix: {sets: {}}}\n' })).toEqual({
      routing: { router: { use: 'matrix', settings: { matrix: { sets: {} } } } },
    });
  });

  it('mappings merge recursively; keys keep the first file order, new keys come after', () => {
    expect(mergeTexts({ 'a.yaml': 'macros:\n  A: 1\n  B: 2\nlogLevel: info\n', 'b.yaml': 'startPort: 6000\nmacros:\n  C: 3\n  A: 1\n' })).toEqual({
      macros: { A: 1, B: 2, C: 3 },
      logLevel: 'info',
      startPort: 6000,
    });
    const merged = mergeTexts({ 'a.yaml': 'macros:\n  A: 1\nlogLevel: info\n', 'b.yaml': 'startPort: 6000\nmacros:\n  C: 3\n' });
    expect(Object.keys(merged as object)).toEqual(['macros', 'logLevel', 'startPort']);
  });

  it('sequences concatenate in file order', () => {
    expect(mergeTexts({ 'a.yaml': 'apiKeys: [a1, a2]\n', 'b.yaml': 'apiKeys: []\n', 'c.yaml': 'apiKeys:\n  - c1\n' })).toEqual({ apiKeys: ['a1', 'a2', 'c1'] });
  });

  it('a null yields to the other side, either way, identity maps included', () => {
    expect(mergeTexts({ 'a.yaml': 'logLevel:\n', 'b.yaml': 'logLevel: debug\n' })).toEqual({ logLevel: 'debug' });
    expect(mergeTexts({ 'a.yaml': 'logLevel: debug\n', 'b.yaml': 'logLevel: ~\n' })).toEqual({ logLevel: 'debug' });
    expect(mergeTexts({ 'a.yaml': 'hooks:\n', 'b.yaml': 'hooks: {on_startup: {preload: [m]}}\n' })).toEqual({ hooks: { on_startup: { preload: ['m'] } } });
    expect(mergeTexts({ 'a.yaml': 'models:\n', 'b.yaml': 'models:\n  m: {cmd: x}\n' })).toEqual({ models: { m: { cmd: 'x' } } });
    expect(mergeTexts({ 'a.yaml': 'models:\n  m: {cmd: x}\n', 'b.yaml': 'models:\n' })).toEqual({ models: { m: { cmd: 'x' } } });
  });

  it('scalars must be equal as written: 5 and "5" differ, 1.10 and 1.1 differ, equal ones merge', () => {
    expect(mergeError({ 'a.yaml': 'x: 5\n', 'b.yaml': 'x: "5"\n' }).message).toBe('b.yaml:1: conflict at "x": b.yaml sets a different value than a previous source (a.yaml:1)');
    expect(mergeError({ 'a.yaml': 'x: 1.10\n', 'b.yaml': 'x: 1.1\n' }).message).toContain('conflict at "x"');
    expect(mergeError({ 'a.yaml': 'a:\n  b:\n    c: on\n', 'b.yaml': 'a:\n  b:\n    c: off\n' }).message).toBe(
      'b.yaml:3: conflict at "a.b.c": b.yaml sets a different value than a previous source (a.yaml:3)',
    );
    expect(mergeTexts({ 'a.yaml': 'x: 1.10\ny: text\n', 'b.yaml': 'x: 1.10\ny: text\n' })).toEqual({ x: 1.1, y: 'text' });
  });

  it('a mapping meeting a sequence or a scalar: incompatible kinds; an identity map that is not a mapping: expected a mapping', () => {
    expect(mergeError({ 'a.yaml': 'hooks: {a: 1}\n', 'b.yaml': 'hooks: [a]\n' }).message).toBe(
      'b.yaml:1: conflict at "hooks": incompatible YAML node kinds (mapping vs sequence) introduced by b.yaml (the mapping is at a.yaml:1)',
    );
    expect(mergeError({ 'a.yaml': 'models: {m: {}}\n', 'b.yaml': 'models: [m]\n' }).message).toBe(
      'b.yaml:1: conflict at "models": expected a mapping, introduced by b.yaml',
    );
  });

  it('empty and comment-only files are skipped; all-empty sources still get the defaults', () => {
    const dir = dirWith({ 'a.yaml': '', 'b.yml': '# nothing yet\n', 'c.yaml': '---\n' });
    const { config, files } = load({ configDir: dir });
    expect(files).toEqual(['a.yaml', 'b.yml', 'c.yaml'].map((f) => join(dir, f)));
    expect(config.models).toEqual({});
    expect(config.startPort).toBe(5800);
    expect(config.healthCheckTimeout).toBe(120);
    expect(config.warnings).toEqual([]);
  });

  it("each file's top level must be a mapping", () => {
    const dir = dirWith({ 'a.yaml': `models:\n${model('m1')}`, 'b.yaml': '\n- a\n- b\n' });
    expect(loadError({ configDir: dir }).message).toBe(`${dir}/b.yaml:2: the top level of the config must be a mapping`);
  });

  it('only top-level *.yml and *.yaml files are read: no subdirectory, no other extension', () => {
    const dir = dirWith({ 'a.yaml': `models:\n${model('m1')}`, 'b.yml': `models:\n${model('m2')}`, 'c.txt': 'broken: [', 'd.YAML': 'broken: [', 'e.yaml.bak': 'broken: [' });
    mkdirSync(join(dir, 'sub.yaml'));
    writeFileSync(join(dir, 'sub.yaml', 'f.yaml'), 'broken: [');
    expect(sourceFiles(null, dir)).toEqual([join(dir, 'a.yaml'), join(dir, 'b.yml')]);
    expect(Object.keys(load({ configDir: dir }).config.models)).toEqual(['m1', 'm2']);
  });

  it('a missing or unreadable -config-dir: an error naming it', () => {
    const dir = join(tempDir(), 'nope');
    expect(loadError({ configDir: dir }).message).toMatch(new RegExp(`^-config-dir ${dir}: ENOENT: no such file or directory`));
  });
});

describe('each file on its own', () => {
  it('${env.X} is substituted per file: an unset variable is reported at its file and line', () => {
    const dir = dirWith({ 'a.yaml': `models:\n${model('m1')}`, 'b.yaml': `\n\napiKeys: ["\${env.NOT_SET}"]\n` });
    expect(loadError({ configDir: dir }).message).toBe(`${dir}/b.yaml:3: environment variable 'NOT_SET' is not set`);
  });

  it('a YAML syntax error is reported at its file and line', () => {
    const dir = dirWith({ 'a.yaml': `models:\n${model('m1')}`, 'b.yaml': 'models:\n  m2:\n    cmd: [unclosed\n' });
    expect(loadError({ configDir: dir }).where).toMatch(new RegExp(`^${dir}/b\\.yaml:\\d+$`));
  });

  it('anchors and aliases work within a file', () => {
    const dir = dirWith({ 'a.yaml': 'x-base: &base\n  proxy: http://localhost:9999\nmodels:\n  m1:\n    <<: *base\n    cmd: echo 1\n' });
    expect(load({ configDir: dir }).config.models.m1?.proxy).toBe('http://localhost:9999');
  });

  it('each file is bounded to 1 MiB, and all of them together too', () => {
    const big = `# ${'x'.repeat(600 * 1024)}\n`;
    const one = dirWith({ 'a.yaml': `${big}${big}` });
    expect(loadError({ configDir: one }).message).toBe(`${one}/a.yaml: config is larger than 1 MiB (1048576 bytes)`);
    const two = dirWith({ 'a.yaml': big, 'b.yaml': big });
    expect(loadError({ configDir: two }).message).toBe(`${two}/b.yaml: config files are larger than 1 MiB (1048576 bytes) together`);
    const main = join(dirWith({ 'main.yaml': big }), 'main.yaml');
    expect(loadError({ config: main, configDir: dirWith({ 'a.yaml': big }) }).message).toContain('config files are larger than 1 MiB');
  });
});

describe('errors and warnings after the merge point at the file that wrote the key', () => {
  it('a bad model field in a dir file', () => {
    const main = join(dirWith({ 'main.yaml': `healthCheckTimeout: 30\nmodels:\n${model('m1')}` }), 'main.yaml');
    const dir = dirWith({ 'b.yaml': `models:\n${model('m2')}    ttl: soon\n` });
    const err = loadError({ config: main, configDir: dir });
    expect(err.where).toBe(`${dir}/b.yaml:5`);
    expect(err.message).toMatch(new RegExp(`^${dir}/b\\.yaml:5: .*ttl`));
  });

  it('a group in one file naming a model no file defines', () => {
    const dir = dirWith({ 'a.yaml': `models:\n${model('m1')}`, 'b.yaml': '\ngroups:\n  g:\n    members: [m1, ghost]\n' });
    expect(loadError({ configDir: dir }).where).toBe(`${dir}/b.yaml:4`);
  });

  it('a group in one file naming models of another loads', () => {
    const dir = dirWith({ 'a.yaml': `models:\n${model('m1')}${model('m2')}`, 'b.yaml': 'groups:\n  g:\n    members: [m1, m2]\n' });
    expect(load({ configDir: dir }).config.groups.g?.members).toEqual(['m1', 'm2']);
  });

  it('a misspelt top-level key in a dir file', () => {
    const dir = dirWith({ 'a.yaml': `models:\n${model('m1')}`, 'b.yaml': `# extra\nmodel:\n${model('m2')}` });
    expect(loadError({ configDir: dir }).message).toBe(`${dir}/b.yaml:2: unknown key "model" (did you mean "models"?)`);
  });

  it('warnings carry their own file and come in file order, then line order', () => {
    const main = join(dirWith({ 'main.yaml': `models:\n${model('m1')}    bogus1: 1\n` }), 'main.yaml');
    const dir = dirWith({ 'a.yaml': `\nmodels:\n${model('m2')}    bogus2: 1\n`, 'b.yaml': `models:\n${model('m3')}    bogus3: 1\n` });
    const { warnings } = load({ config: main, configDir: dir }).config;
    expect(warnings.map((w) => w.slice(0, w.indexOf(': ')))).toEqual([`${main}:5`, `${dir}/a.yaml:6`, `${dir}/b.yaml:5`]);
    expect(warnings[1]).toContain('bogus2');
  });
});

describe('naming the sources', () => {
  it('-config alone is its path; a dir lists its files', () => {
    expect(describeSources({ config: 'config.yaml', configDir: null }, ['config.yaml'])).toBe('config.yaml');
    expect(describeSources({ config: null, configDir: 'conf.d' }, ['conf.d/a.yaml', 'conf.d/b.yml'])).toBe('conf.d (a.yaml, b.yml)');
    expect(describeSources({ config: 'main.yaml', configDir: 'conf.d' }, ['main.yaml'])).toBe('main.yaml + conf.d (no files)');
    expect(describeSources({ config: 'main.yaml', configDir: 'conf.d' }, ['main.yaml', 'conf.d/a.yaml'])).toBe('main.yaml + conf.d (a.yaml)');
  });
});

describe('the -config-dir watcher (reference 1.5)', () => {
  const snap = (...entries: Array<[string, string]>) => entries;

  it('fires when a name is added, removed or renamed, or a file changes mtime or size', () => {
    const base = snap(['a.yaml', '1:10'], ['b.yaml', '1:20']);
    expect(dirChanged(base, snap(['a.yaml', '1:10'], ['b.yaml', '1:20']))).toBe(false);
    expect(dirChanged(base, snap(['a.yaml', '1:10'], ['b.yaml', '1:20'], ['c.yaml', '2:5']))).toBe(true);
    expect(dirChanged(base, snap(['a.yaml', '1:10']))).toBe(true);
    expect(dirChanged(base, snap(['a.yaml', '1:10'], ['c.yaml', '1:20']))).toBe(true);
    expect(dirChanged(base, snap(['a.yaml', '2:10'], ['b.yaml', '1:20']))).toBe(true);
    expect(dirChanged(base, snap(['a.yaml', '1:11'], ['b.yaml', '1:20']))).toBe(true);
  });

  it('a directory turning empty or missing stays quiet; getting content back fires', () => {
    const base = snap(['a.yaml', '1:10']);
    expect(dirChanged(base, snap())).toBe(false);
    expect(dirChanged(base, null)).toBe(false);
    expect(dirChanged(null, null)).toBe(false);
    expect(dirChanged(snap(), snap())).toBe(false);
    expect(dirChanged(null, base)).toBe(true);
    expect(dirChanged(snap(), base)).toBe(true);
  });

  it('scans only top-level YAML files, sorted; a missing directory is null', () => {
    const dir = dirWith({ 'b.yaml': 'x: 1\n', 'a.yml': '', 'c.txt': '' });
    mkdirSync(join(dir, 'd.yaml'));
    const scanned = scanConfigDir(dir);
    expect(scanned?.map(([name]) => name)).toEqual(['a.yml', 'b.yaml']);
    expect(scanned?.[1]?.[1]).toMatch(/:5$/);
    expect(scanConfigDir(join(dir, 'missing'))).toBeNull();
  });

  it('the -config file watcher ignores a file going missing, fires when it comes back or changes', () => {
    const stats = (mtimeMs: number, size: number, ino = 7) => ({ mtimeMs, size, ino }) as Stats;
    expect(fileChanged(stats(2, 10), stats(1, 10))).toBe(true);
    expect(fileChanged(stats(1, 11), stats(1, 10))).toBe(true);
    expect(fileChanged(stats(1, 10), stats(1, 10))).toBe(false);
    expect(fileChanged(stats(0, 0, 0), stats(1, 10))).toBe(false);
    expect(fileChanged(stats(1, 10), stats(0, 0, 0))).toBe(true);
  });
});
