/**
 * Loading a llama-swap `config.yaml` into swapstate's `Config` (reference 2.1):
 *
 *   text ──env──> text ──parse──> untyped tree ──macros, ports──> tree ──decode──> draft ──validate──> Config
 *
 * 0. the text is at most 1 MiB (config-text.ts), so a hostile or broken file cannot make a
 *    load (and so a reload, which blocks the server while it runs) take long;
 * 1. `${env.NAME}` substitution on the raw text (env-substitute.ts);
 * 2. YAML parse keeping line numbers (yaml-tree.ts); a top-level key one edit from a known
 *    one fails here (top-level-keys.ts: `model:` for `models:` would load zero models);
 * 3-4. macro expansion and `${PORT}` allocation on the untyped tree (expand-macros.ts);
 * 5. typed decode with defaults; unknown keys become warnings (decode-config.ts; a model's keys: model-fields.ts);
 * 6. validation and normalization in llama-swap's order (validate-*.ts; the peer namespace, peers.ts, last).
 *
 * Every failure is a `ConfigError` whose `where` is `file:line` whenever the offending key
 * can be located.
 */
import { checkConfigSize, readConfigText } from './config-text.ts';
import { decodeConfig, DEFAULT_METRICS_MAX_IN_MEMORY } from './decode-config.ts';
import { substituteEnv } from './env-substitute.ts';
import { expandMacros } from './expand-macros.ts';
import { checkPeerNamespace, validatePeers } from './peers.ts';
import { decodeProfiles, validateProfiles } from './profiles.ts';
import type { Config } from './types.ts';
import { validateApiKeys, validateGlobals } from './validate-globals.ts';
import { validateModels } from './validate-models.ts';
import { validateRouting } from './validate-routing.ts';
import { resolvePreload, validateScheduler } from './validate-scheduler.ts';
import { decodeSelectors, validateSelectors } from './selectors.ts';
import { checkTopLevelTypos } from './top-level-keys.ts';
import { parseYamlTree, type ParsedTree } from './yaml-tree.ts';

export { resolveModel } from './resolve-model.ts';
export { ConfigError } from './config-error.ts';

/**
 * Reads and loads a config file; `path` is used as given in `file:line` locations.
 *
 * @throws ConfigError, also when the file cannot be read or is over 1 MiB.
 */
export function loadConfigFile(path: string): Config {
  return loadConfigText(readConfigText(path), path);
}

/**
 * Loads config text. `env` defaults to `process.env` (tests pass their own).
 *
 * @example loadConfigText('models:\n  m:\n    cmd: server --port ${PORT}\n').models.m.proxy
 *   // 'http://localhost:5800'
 * @throws ConfigError
 */
export function loadConfigText(text: string, file = '<config>', env: NodeJS.ProcessEnv = process.env): Config {
  checkConfigSize(text, file);
  return loadConfigTree(parseYamlTree(substituteEnv(text, env, file), file), [file]);
}

/**
 * Steps 2-6 on a parsed tree: one file's, or several files' merged (load-sources.ts).
 * `files` orders the warnings (by file, then line).
 *
 * @throws ConfigError
 */
export function loadConfigTree({ root, sources, warnings }: ParsedTree, files: readonly string[]): Config {
  checkTopLevelTypos(root, sources);
  expandMacros(root, sources);
  const draft = decodeConfig({ root, sources, warnings });
  // Decoded with the rest (llama-swap's unmarshal rejects the legacy list syntax first),
  // validated once peers and selectors are known (below).
  const profileDrafts = decodeProfiles(draft.root.get('profiles'));

  const globals = validateGlobals(draft);
  const sendLoadingState = draft.sendLoadingState;
  const { models, aliases } = validateModels(draft, { ...globals, sendLoadingState });
  const resolve = (name: string): string | null => (Object.hasOwn(models, name) ? name : (aliases.get(name) ?? null));
  const { router, groups, matrix } = validateRouting(draft, new Set(Object.keys(models)));
  const priority = validateScheduler(draft, resolve);
  const preload = resolvePreload(draft, resolve);
  const apiKeys = validateApiKeys(draft);
  // Decoded now, so its warnings are in the list below; checked last, as llama-swap does.
  const selectorDrafts = decodeSelectors(draft.root.get('selectors'));
  // llama-swap validates the peer namespace last, once every local name is known.
  const peers = validatePeers(draft.peers, {
    models: draft.models.map((m) => ({ id: m.id, aliases: m.aliases, where: m.field.where, aliasesWhere: m.field.get('aliases').where })),
    aliases,
  });

  const config: Config = {
    healthCheckTimeout: globals.healthCheckTimeout,
    healthCheckInterval: globals.healthCheckInterval,
    logLevel: draft.logLevel,
    logTimeFormat: draft.logTimeFormat,
    logToStdout: globals.logToStdout,
    startPort: draft.startPort,
    globalTTL: globals.globalTTL,
    unloadTimeout: globals.unloadTimeout,
    sleepRequestTimeout: globals.sleepRequestTimeout,
    wakeRequestTimeout: globals.wakeRequestTimeout,
    includeAliasesInList: draft.includeAliasesInList,
    sendLoadingState,
    metricsMaxInMemory: draft.metricsMaxInMemory > 0 ? draft.metricsMaxInMemory : DEFAULT_METRICS_MAX_IN_MEMORY,
    captureBuffer: Math.max(0, draft.captureBuffer),
    apiKeys,
    maxRequestBodyBytes: globals.maxRequestBodyBytes,
    maxBufferedRequestBytes: globals.maxBufferedRequestBytes,
    allowedHosts: draft.allowedHosts,
    allowedOrigins: draft.allowedOrigins,
    trustProxy: draft.trustProxy,
    abandonedLoadGraceMs: globals.abandonedLoadGraceMs,
    inspect: globals.inspect,
    models,
    groups,
    router,
    matrix,
    peers,
    profiles: {},
    selectors: {},
    priority,
    preload,
    ignorePaths: draft.ignorePaths,
    performance: draft.performance,
    aliases: Object.fromEntries(aliases),
    warnings: inLineOrder(warnings, files),
  };
  // The named namespaces refer to each other, so they are checked here, once all are decoded,
  // in llama-swap's order: the peer namespace (above, against local names; selector ids in
  // validateSelectors; pin names here), then selectors, then profiles (whose targets may be
  // peer models or selectors).
  config.selectors = validateSelectors(selectorDrafts, config);
  checkPeerNamespace(
    peers,
    profileDrafts.flatMap((p) => p.pins.map((pin) => ({ name: pin.name, label: `profile ${p.name} pin ${JSON.stringify(pin.name)}`, where: pin.field.where }))),
  );
  config.profiles = validateProfiles(profileDrafts, config);
  return config;
}

/** Warnings are collected section by section; a reader wants them in file order (files in load order). */
function inLineOrder(warnings: readonly string[], files: readonly string[]): string[] {
  const positionOf = (warning: string): [number, number] => {
    const index = files.findIndex((file) => warning.startsWith(`${file}:`));
    if (index < 0) return [0, 0];
    const line = Number.parseInt(warning.slice(files[index]!.length + 1), 10);
    return [index, Number.isNaN(line) ? 0 : line];
  };
  const keyed = warnings.map((warning) => ({ warning, at: positionOf(warning) }));
  return keyed.sort((a, b) => a.at[0] - b.at[0] || a.at[1] - b.at[1]).map(({ warning }) => warning);
}
