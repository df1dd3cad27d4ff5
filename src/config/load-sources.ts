/**
 * Loading the config from its sources (reference 1.1, 1.6): the `-config` file, then every
 * top-level `*.yml` / `*.yaml` of `-config-dir` in sorted name order. Each file has its
 * `${env.NAME}` substituted and is parsed on its own (so line numbers are its own); the trees
 * are merged (merge-sources.ts) and the merged tree goes through the single-file pipeline.
 *
 * Without `-config-dir` this is exactly `loadConfigFile`.
 */
import { readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ConfigError } from './config-error.ts';
import { readConfigText } from './config-text.ts';
import { substituteEnv } from './env-substitute.ts';
import { MAX_CONFIG_BYTES, MAX_CONFIG_SIZE_TEXT } from './limits.ts';
import { loadConfigFile, loadConfigTree } from './load.ts';
import { mergeSourceTrees, type SourceTree } from './merge-sources.ts';
import type { Config } from './types.ts';
import { parseYamlTree } from './yaml-tree.ts';

/** Where the config comes from: the command line's `-config` and `-config-dir`. */
export interface ConfigSources {
  config: string | null;
  configDir: string | null;
}

export interface LoadedConfig {
  config: Config;
  /** The files read, in merge order. */
  files: string[];
}

/**
 * Loads and merges every source. Like llama-swap, at least one of the two must be given,
 * and a `-config-dir` holding no YAML file is an error unless `-config` is given too.
 *
 * @throws ConfigError
 */
export function loadConfigSources(sources: ConfigSources, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const { config, configDir } = sources;
  if (config === null && configDir === null) throw new ConfigError('at least one of -config or -config-dir must be provided');
  if (configDir === null) return { config: loadConfigFile(config!), files: [config!] };

  const files = sourceFiles(config, configDir);
  if (files.length === 0) throw new ConfigError(`no configuration sources found: -config-dir ${configDir} holds no *.yml or *.yaml file`);
  const trees: SourceTree[] = [];
  const warnings: string[] = [];
  let bytes = 0;
  for (const file of files) {
    // Each file is bounded by readConfigText and substituteEnv; all of them together by the
    // same 1 MiB, so a directory cannot make a reload block the server longer than one file could.
    const text = substituteEnv(readConfigText(file), env, file);
    bytes += Buffer.byteLength(text);
    if (bytes > MAX_CONFIG_BYTES) throw new ConfigError(`config files are larger than ${MAX_CONFIG_SIZE_TEXT} together`, file);
    const parsed = parseYamlTree(text, file);
    trees.push({ file, root: parsed.root, sources: parsed.sources });
    warnings.push(...parsed.warnings);
  }
  const { root, sources: sourceMap } = mergeSourceTrees(trees, describeSources(sources, files));
  return { config: loadConfigTree({ root, sources: sourceMap, warnings }, files), files };
}

/**
 * The files to read, in merge order: `-config`, then `-config-dir`'s YAML files sorted by
 * name (subdirectories are not entered).
 *
 * @throws ConfigError when the directory cannot be read, or holds the `-config` file.
 */
export function sourceFiles(config: string | null, configDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(configDir, { withFileTypes: true })
      .filter((entry) => !entry.isDirectory() && isYamlName(entry.name))
      .map((entry) => entry.name);
  } catch (error) {
    throw new ConfigError(`-config-dir ${configDir}: ${(error as Error).message}`);
  }
  // Code-unit order, as Go's sort.Strings (byte order) for every name but the rarest.
  const files = names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((name) => join(configDir, name));
  if (config !== null && files.some((file) => resolve(file) === resolve(config))) {
    // Loaded twice, every model in it would be a duplicate of itself.
    throw new ConfigError(`-config path ${config} is also present in -config-dir ${configDir}; remove it from one`);
  }
  return config === null ? files : [config, ...files];
}

/** llama-swap's test: the name ends in `.yml` or `.yaml` (case-sensitive). */
export function isYamlName(name: string): boolean {
  return name.endsWith('.yml') || name.endsWith('.yaml');
}

/**
 * The sources as messages name them: `config.yaml`, `conf.d (a.yaml, b.yaml)` or
 * `config.yaml + conf.d (a.yaml, b.yaml)`.
 */
export function describeSources(sources: ConfigSources, files: readonly string[]): string {
  const { config, configDir } = sources;
  if (configDir === null) return config ?? '';
  const inDir = files.filter((file) => file !== config).map((file) => basename(file));
  const dir = `${configDir} (${inDir.length === 0 ? 'no files' : inDir.join(', ')})`;
  return config === null ? dir : `${config} + ${dir}`;
}
