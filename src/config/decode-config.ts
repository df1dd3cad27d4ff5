/**
 * Typed decoding of the top level (reference 2.2, 2.3, 2.4, 2.6, 2.9): every value read with its
 * type checked and its default applied. Cross-field rules run afterwards, in llama-swap's
 * order, in validate-*.ts; only what llama-swap checks while decoding (ignorePaths regular
 * expressions, a peer's required keys) fails here.
 */
import { decodeAllowedHosts, decodeAllowedOrigins } from './browser-safety.ts';
import { Field, type DecodeContext } from './field.ts';
import { compileIgnorePath, DEFAULT_IGNORE_PATHS, runsInLinearTime } from './ignore-paths.ts';
import { decodeMatrix, type MatrixDraft } from './matrix.ts';
import { decodeModel, type ModelDraft } from './model-fields.ts';
import { decodePeers, type PeerDraft } from './peers.ts';
import { decodePerformance, type PerformanceConfig } from './performance.ts';
import { DEFAULT_START_PORT } from './ports.ts';
import { TOP_LEVEL_KEYS, TOP_LEVEL_UNSUPPORTED } from './top-level-keys.ts';
import { decodeTrustProxy, type TrustProxy } from './trust-proxy.ts';
import type { LogLevel } from './types.ts';

export interface GroupDraft {
  name: string;
  field: Field;
  swap: boolean;
  exclusive: boolean;
  persistent: boolean;
  members: string[];
}

export interface ConfigDraft {
  root: Field;
  healthCheckTimeout: number;
  healthCheckInterval: number;
  maxRequestBodyBytes: number;
  /** null when absent: the default depends on maxRequestBodyBytes. */
  maxBufferedRequestBytes: number | null;
  allowedHosts: string[];
  allowedOrigins: string[];
  trustProxy: TrustProxy;
  abandonedLoadGraceMs: number;
  inspect: string;
  logLevel: LogLevel;
  logTimeFormat: string;
  /** Checked later, as in llama-swap. */
  logToStdout: string;
  startPort: number;
  sendLoadingState: boolean;
  includeAliasesInList: boolean;
  globalTTL: number;
  unloadTimeout: number;
  sleepRequestTimeout: number;
  wakeRequestTimeout: number;
  apiKeys: string[];
  /** Activity rows kept (reference 7.3); <= 0 means the default. */
  metricsMaxInMemory: number;
  /** Capture cache, MB (reference 7.4); <= 0: no captures. */
  captureBuffer: number;
  models: ModelDraft[];
  legacyGroups: GroupDraft[];
  /** Top-level `matrix`; null when absent. */
  legacyMatrix: MatrixDraft | null;
  routerUse: string;
  routerGroups: GroupDraft[];
  /** `routing.router.settings.matrix`; null when absent. */
  routerMatrix: MatrixDraft | null;
  schedulerUse: string;
  priority: Array<{ key: string; value: number; field: Field }>;
  preload: string[];
  ignorePaths: string[];
  /** `peers`, in file order (reference 2.6). */
  peers: PeerDraft[];
  performance: PerformanceConfig;
}

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
export const LOG_TIME_FORMATS: readonly string[] = [
  'ansic',
  'unixdate',
  'rubydate',
  'rfc822',
  'rfc822z',
  'rfc850',
  'rfc1123',
  'rfc1123z',
  'rfc3339',
  'rfc3339nano',
  'kitchen',
  'stamp',
  'stampmilli',
  'stampmicro',
  'stampnano',
];

export const DEFAULT_HEALTH_CHECK_TIMEOUT = 120;
export const DEFAULT_HEALTH_CHECK_INTERVAL_MS = 50;
export const DEFAULT_MAX_REQUEST_BODY_BYTES = 64 * 1024 * 1024;
/** swapstate: request-body bytes held in memory at once, over all requests (raised to maxRequestBodyBytes). */
export const DEFAULT_MAX_BUFFERED_REQUEST_BYTES = 256 * 1024 * 1024;
/** swapstate: how long a start may run with nobody waiting for it before it is aborted. */
export const DEFAULT_ABANDONED_LOAD_GRACE_MS = 2_000;
export const DEFAULT_UNLOAD_TIMEOUT = 10;
/** llama-swap's activity row bound (also for 0 or less). */
export const DEFAULT_METRICS_MAX_IN_MEMORY = 1000;
/** swapstate keeps no captures unless asked (llama-swap: 5 MB): they hold prompts and answers. */
export const DEFAULT_CAPTURE_BUFFER_MB = 0;
/** llmsnap: seconds per sleep or wake call of an endpoint without its own `timeout`. */
export const DEFAULT_SLEEP_REQUEST_TIMEOUT = 10;
export const DEFAULT_WAKE_REQUEST_TIMEOUT = 10;

export function decodeConfig(ctx: DecodeContext): ConfigDraft {
  const root = Field.root(ctx).keys(TOP_LEVEL_KEYS, TOP_LEVEL_UNSUPPORTED);
  const get = (key: string): Field => root.get(key);
  root.get('logRequests').bool(false); // parsed for its type only: llama-swap never uses it

  const routing = get('routing').keys(['router', 'scheduler']);
  const router = routing.get('router').keys(['use', 'settings']);
  const routerSettings = router.get('settings').keys(['groups', 'matrix']);
  const scheduler = routing.get('scheduler').keys(['use', 'settings']);
  const fifo = scheduler.get('settings').keys(['fifo']).get('fifo').keys(['priority']);
  const routerUse = router.get('use').string();

  const hooks = get('hooks').keys(['on_startup']).get('on_startup').keys(['preload']);
  const upstream = get('upstream').keys(['ignorePaths']);

  return {
    root,
    healthCheckTimeout: get('healthCheckTimeout').int(DEFAULT_HEALTH_CHECK_TIMEOUT),
    healthCheckInterval: get('healthCheckInterval').int(DEFAULT_HEALTH_CHECK_INTERVAL_MS),
    maxRequestBodyBytes: get('maxRequestBodyBytes').int(DEFAULT_MAX_REQUEST_BODY_BYTES),
    maxBufferedRequestBytes: get('maxBufferedRequestBytes').isSet ? get('maxBufferedRequestBytes').int(0) : null,
    allowedHosts: decodeAllowedHosts(get('allowedHosts')),
    allowedOrigins: decodeAllowedOrigins(get('allowedOrigins')),
    trustProxy: decodeTrustProxy(get('trustProxy')),
    abandonedLoadGraceMs: get('abandonedLoadGraceMs').int(DEFAULT_ABANDONED_LOAD_GRACE_MS),
    inspect: get('inspect').string('off'),
    logLevel: decodeLogLevel(get('logLevel')),
    logTimeFormat: decodeLogTimeFormat(get('logTimeFormat')),
    logToStdout: get('logToStdout').string('proxy'),
    startPort: get('startPort').int(DEFAULT_START_PORT),
    sendLoadingState: get('sendLoadingState').bool(false),
    includeAliasesInList: get('includeAliasesInList').bool(false),
    globalTTL: get('globalTTL').int(0),
    unloadTimeout: get('unloadTimeout').int(DEFAULT_UNLOAD_TIMEOUT),
    sleepRequestTimeout: get('sleepRequestTimeout').int(DEFAULT_SLEEP_REQUEST_TIMEOUT),
    wakeRequestTimeout: get('wakeRequestTimeout').int(DEFAULT_WAKE_REQUEST_TIMEOUT),
    apiKeys: get('apiKeys').stringList(),
    metricsMaxInMemory: get('metricsMaxInMemory').int(DEFAULT_METRICS_MAX_IN_MEMORY),
    captureBuffer: get('captureBuffer').int(DEFAULT_CAPTURE_BUFFER_MB),
    models: get('models')
      .entries()
      .map(([id, field]) => decodeModel(id, field)),
    legacyGroups: decodeGroups(get('groups')),
    legacyMatrix: decodeMatrix(get('matrix')),
    routerUse,
    routerGroups: decodeGroups(routerSettings.get('groups')),
    routerMatrix: decodeMatrix(routerSettings.get('matrix')),
    schedulerUse: scheduler.get('use').string(),
    priority: fifo
      .get('priority')
      .entries()
      .map(([key, field]) => ({ key, value: field.int(0), field })),
    preload: hooks.get('preload').stringList(),
    ignorePaths: decodeIgnorePaths(upstream.get('ignorePaths')),
    peers: decodePeers(get('peers')),
    performance: decodePerformance(get('performance')),
  };
}

function decodeGroups(field: Field): GroupDraft[] {
  return field.entries().map(([name, group]) => {
    group.keys(['swap', 'exclusive', 'persistent', 'members']);
    return {
      name,
      field: group,
      swap: group.get('swap').bool(true),
      exclusive: group.get('exclusive').bool(true),
      persistent: group.get('persistent').bool(false),
      members: group.get('members').stringList(),
    };
  });
}

/** Case-insensitive; anything else means `info`, as in llama-swap (we also warn). */
function decodeLogLevel(field: Field): LogLevel {
  const value = field.string('info');
  const level = LOG_LEVELS.find((l) => l === value.toLowerCase());
  if (level) return level;
  field.ctx.warnings.push(`${field.where}: logLevel "${value}" is not one of ${LOG_LEVELS.join(', ')}; using info`);
  return 'info';
}

/** A Go layout name; anything else means no timestamp, as in llama-swap (we also warn). */
function decodeLogTimeFormat(field: Field): string {
  const value = field.string('');
  if (value === '' || LOG_TIME_FORMATS.includes(value.toLowerCase())) return value.toLowerCase();
  field.ctx.warnings.push(`${field.where}: logTimeFormat "${value}" is not a known layout; timestamps disabled`);
  return '';
}

/** A non-empty list replaces the default; each entry must compile. */
function decodeIgnorePaths(field: Field): string[] {
  const items = field.items();
  for (const item of items) {
    const source = item.string();
    const compiled = compileOrFail(item, source);
    // These run against paths any client sends: say so when one may take time quadratic in them.
    if (!runsInLinearTime(compiled)) {
      field.ctx.warnings.push(
        `${item.where ?? field.ctx.sources.file}: upstream.ignorePaths: ${JSON.stringify(source)} cannot run in linear time here ` +
          '(case-insensitive, a look-around, a back-reference or a large counted repeat); a long request path may cost CPU',
      );
    }
  }
  return items.length === 0 ? [...DEFAULT_IGNORE_PATHS] : items.map((item) => item.string());
}

function compileOrFail(item: Field, source: string): RegExp {
  try {
    return compileIgnorePath(source);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return item.fail(`upstream.ignorePaths: invalid regular expression ${JSON.stringify(source)}: ${reason}`);
  }
}
