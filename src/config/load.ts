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
 * 6. validation and normalization in llama-swap's order (validate-*.ts).
 *
 * Every failure is a `ConfigError` whose `where` is `file:line` whenever the offending key
 * can be located.
 */
import { checkConfigSize, readConfigText } from './config-text.ts';
import { decodeConfig } from './decode-config.ts';
import { substituteEnv } from './env-substitute.ts';
import { expandMacros } from './expand-macros.ts';
import { decodeProfiles, validateProfiles } from './profiles.ts';
import type { Config } from './types.ts';
import { validateApiKeys, validateGlobals } from './validate-globals.ts';
import { validateModels } from './validate-models.ts';
import { validateRouting } from './validate-routing.ts';
import { resolvePreload, validateScheduler } from './validate-scheduler.ts';
import { checkTopLevelTypos } from './top-level-keys.ts';
import { parseYamlTree } from './yaml-tree.ts';

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
  const { root, sources, warnings } = parseYamlTree(substituteEnv(text, env, file), file);
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
    peers: {},
    profiles: {},
    selectors: {},
    priority,
    preload,
    ignorePaths: draft.ignorePaths,
    aliases: Object.fromEntries(aliases),
    warnings: inLineOrder(warnings, file),
  };

  // The named namespaces refer to each other, so they are checked here, once all are decoded
  // into `config`, in llama-swap's order: the peer namespace, then selectors, then profiles
  // (whose targets may be peer models or selectors). Peer and selector checks go above this
  // line; the peer namespace's rule against pin names reads them from `profileDrafts`.
  config.profiles = validateProfiles(profileDrafts, config);
  return config;
}

/** Warnings are collected section by section; a reader wants them in file order. */
function inLineOrder(warnings: readonly string[], file: string): string[] {
  const lineOf = (warning: string): number => {
    const line = warning.startsWith(`${file}:`) ? Number.parseInt(warning.slice(file.length + 1), 10) : Number.NaN;
    return Number.isNaN(line) ? 0 : line;
  };
  return [...warnings].sort((a, b) => lineOf(a) - lineOf(b));
}
