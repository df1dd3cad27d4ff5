/**
 * The top-level keys in config-schema.json, one entry per key of TOP_LEVEL_KEYS: the keys
 * decode-config.ts reads itself (globals, groups, routing, hooks, upstream) are described
 * here, the blocks with modules of their own (peers, matrix, ...) come from those modules.
 * `models` is built from the model field table by config-schema.ts.
 *
 * Bounds are the ones the loader enforces (validate-globals.ts, limits.ts); where it clamps or
 * only warns (healthCheckTimeout below 15, an unknown logLevel) the schema says so in words
 * and lets the value through, since a schema error must never be raised for a config that
 * loads. maxRequestBodyBytes has no maximum here: its limit is the platform's largest Buffer,
 * and the committed schema must not depend on the machine that generated it.
 */
import { ALLOWED_HOSTS_SCHEMA, ALLOWED_ORIGINS_SCHEMA } from './browser-safety.ts';
import {
  DEFAULT_ABANDONED_LOAD_GRACE_MS,
  DEFAULT_CAPTURE_BUFFER_MB,
  DEFAULT_METRICS_MAX_IN_MEMORY,
  DEFAULT_HEALTH_CHECK_INTERVAL_MS,
  DEFAULT_HEALTH_CHECK_TIMEOUT,
  DEFAULT_MAX_BUFFERED_REQUEST_BYTES,
  DEFAULT_MAX_REQUEST_BODY_BYTES,
  DEFAULT_SLEEP_REQUEST_TIMEOUT,
  DEFAULT_UNLOAD_TIMEOUT,
  DEFAULT_WAKE_REQUEST_TIMEOUT,
  LOG_LEVELS,
  LOG_TIME_FORMATS,
} from './decode-config.ts';
import { DEFAULT_IGNORE_PATHS } from './ignore-paths.ts';
import { MAX_TIMER_MS, MAX_TIMER_SECONDS } from './limits.ts';
import { MATRIX_SCHEMA } from './matrix.ts';
import { PEERS_SCHEMA } from './peers.ts';
import { PERFORMANCE_SCHEMA } from './performance.ts';
import { DEFAULT_START_PORT } from './ports.ts';
import { PROFILES_SCHEMA } from './profiles.ts';
import { block, boolean, integer, mapOf, MACRO_TEXT, oneOf, text, textList, type JsonSchema } from './schema-shapes.ts';
import { SELECTORS_SCHEMA } from './selectors.ts';
import { TRUST_PROXY_SCHEMA } from './trust-proxy.ts';

const seconds = (description: string, minimum: number | undefined, fallback: number): JsonSchema =>
  integer(description, { ...(minimum === undefined ? {} : { minimum }), maximum: MAX_TIMER_SECONDS, default: fallback });

const milliseconds = (description: string, minimum: number, fallback: number): JsonSchema =>
  integer(description, { minimum, maximum: MAX_TIMER_MS, default: fallback });

/** A group, under `groups` or `routing.router.settings.groups`. */
const GROUPS_SCHEMA = mapOf(
  'Swap groups: what a model evicts when it starts. Models in no group form the implicit (default) group.',
  block('A group.', {
    swap: boolean('Only one member runs at a time.', { default: true }),
    exclusive: boolean('Starting a member stops the models of other, non-persistent groups.', { default: true }),
    persistent: boolean('Other groups never stop this group\'s members.', { default: false }),
    members: textList('Model ids (or aliases) in this group; a model is in one group at most.'),
  }),
);

/** `inspect`: parseInspectMode's values, which it trims. */
const INSPECT_SCHEMA: JsonSchema = {
  description: 'swapstate: `log` writes actor transitions at debug level; a ws:// or wss:// URL streams the actor tree to a Stately inspector.',
  default: 'off',
  anyOf: [{ type: 'string', pattern: '^\\s*(off|log|wss?://\\S+)\\s*$', examples: ['off', 'log'] }, { type: 'null' }, MACRO_TEXT],
};

/** Every key of TOP_LEVEL_KEYS but `models`. */
export const TOP_LEVEL_SCHEMAS: Readonly<Record<string, JsonSchema>> = {
  healthCheckTimeout: seconds(
    'Seconds a model may take to become healthy (values below 15 count as 15); also the stop grace of models evicted by a swap.',
    undefined,
    DEFAULT_HEALTH_CHECK_TIMEOUT,
  ),
  healthCheckInterval: milliseconds('swapstate: milliseconds between health probes.', 1, DEFAULT_HEALTH_CHECK_INTERVAL_MS),
  maxRequestBodyBytes: integer('swapstate: larger request bodies get 413 (at most the largest Node.js Buffer).', {
    minimum: 1,
    default: DEFAULT_MAX_REQUEST_BODY_BYTES,
  }),
  maxBufferedRequestBytes: integer(
    'swapstate: request-body bytes held in memory at once over all requests; at least maxRequestBodyBytes (which raises the default).',
    { minimum: 1, default: DEFAULT_MAX_BUFFERED_REQUEST_BYTES },
  ),
  allowedHosts: ALLOWED_HOSTS_SCHEMA,
  allowedOrigins: ALLOWED_ORIGINS_SCHEMA,
  trustProxy: TRUST_PROXY_SCHEMA,
  abandonedLoadGraceMs: milliseconds(
    'swapstate: a model start whose every waiting client has gone is aborted after this many milliseconds.',
    0,
    DEFAULT_ABANDONED_LOAD_GRACE_MS,
  ),
  inspect: INSPECT_SCHEMA,
  logLevel: text(`Log level: ${LOG_LEVELS.join(', ')} (any case; anything else means info, with a warning).`, {
    default: 'info',
    examples: LOG_LEVELS,
  }),
  logTimeFormat: text('A Go time layout name prefixing log lines (rfc3339, kitchen, stamp, ...); empty: none. An unknown name warns.', {
    default: '',
    examples: LOG_TIME_FORMATS,
  }),
  logToStdout: oneOf('What stdout and /logs show: proxy, upstream, both or none.', ['proxy', 'upstream', 'both', 'none'], {
    default: 'proxy',
  }),
  logRequests: boolean('Accepted for llama-swap compatibility; unused.'),
  startPort: integer('First port handed out to models whose cmd uses ${PORT}.', { default: DEFAULT_START_PORT }),
  sendLoadingState: boolean('Default of every model\'s sendLoadingState: stream loading progress to a streamed chat request.', {
    default: false,
  }),
  includeAliasesInList: boolean('List aliases in /v1/models too.', { default: false }),
  globalTTL: seconds('Default ttl of every model: seconds idle before unload; 0 never.', 0, 0),
  unloadTimeout: seconds('Seconds between SIGTERM (or cmdStop) and SIGKILL for unloads and TTL; 0: 10.', 0, DEFAULT_UNLOAD_TIMEOUT),
  sleepRequestTimeout: seconds('llmsnap: seconds per sleep call of an endpoint without its own timeout.', 1, DEFAULT_SLEEP_REQUEST_TIMEOUT),
  wakeRequestTimeout: seconds('llmsnap: seconds per wake call of an endpoint without its own timeout.', 1, DEFAULT_WAKE_REQUEST_TIMEOUT),
  apiKeys: textList('When set, every route but /health needs one of these keys (Bearer, Basic password or x-api-key); no spaces.', {
    default: [],
  }),
  hooks: block('Actions on events.', {
    on_startup: block('At start.', { preload: textList('Models loaded at start.', { default: [] }) }),
  }),
  upstream: block('The /upstream passthrough.', {
    ignorePaths: textList('Regular expressions of /upstream paths that never start a model; a non-empty list replaces the default.', {
      default: DEFAULT_IGNORE_PATHS,
    }),
  }),
  routing: block('Router and scheduler (the newer spelling of groups and matrix).', {
    router: block('How a model to start is fitted beside running ones.', {
      use: oneOf('group (the default) or matrix.', ['group', 'matrix', ''], { default: 'group' }),
      settings: block('Router settings.', { groups: GROUPS_SCHEMA, matrix: MATRIX_SCHEMA }),
    }),
    scheduler: block('Which queued request is served first.', {
      use: oneOf('fifo (the only one).', ['fifo', ''], { default: 'fifo' }),
      settings: block('Scheduler settings.', {
        fifo: block('fifo settings.', {
          priority: mapOf('Model -> priority; higher is served first among queued requests.', integer('Priority.', { default: 0 })),
        }),
      }),
    }),
  }),
  groups: GROUPS_SCHEMA,
  matrix: MATRIX_SCHEMA,
  peers: PEERS_SCHEMA,
  selectors: SELECTORS_SCHEMA,
  profiles: PROFILES_SCHEMA,
  performance: PERFORMANCE_SCHEMA,
  metricsMaxInMemory: integer('Activity rows kept in memory (GET /api/metrics/activity), the newest; 0 or less: 1000.', {
    default: DEFAULT_METRICS_MAX_IN_MEMORY,
  }),
  captureBuffer: integer(
    'Megabytes of request/response captures kept in memory (GET /api/captures/<id>); 0 (swapstate\'s default; llama-swap\'s is 5) keeps none.',
    { default: DEFAULT_CAPTURE_BUFFER_MB },
  ),
};
