/**
 * swapstate's configuration after loading: llama-swap's `config.yaml` keys with every
 * default applied, every macro expanded and every rule of reference/llama-swap.md section 2
 * checked. Times are kept in llama-swap's units (seconds) except where the name says ms.
 */
import type { UpstreamTimeouts } from './timeouts.ts';
import type { MatrixSet } from '../core/matrix-dsl.ts';
import type { ModelConfig } from './model-fields.ts';
import type { ModelFilters } from './model-filters.ts';
import type { PerformanceConfig } from './performance.ts';

// A model's types come from its field table (model-fields.ts); here for the other layers.
export { ConfigError } from './config-error.ts';
export type { ModelCapabilities } from './model-capabilities.ts';
export type { ModelConfig };
export type { ModelFilters } from './model-filters.ts';
export type { SleepEndpoint, SleepEndpointMethod, SleepMode } from './model-sleep.ts';

/** One `groups.<name>` entry (legacy top-level or `routing.router.settings.groups`). */
export interface GroupConfig {
  swap: boolean;
  exclusive: boolean;
  persistent: boolean;
  members: string[];
}

/** The matrix router's compiled block (`matrix` or `routing.router.settings.matrix`, reference 2.5). */
export interface MatrixRouting {
  /** Expanded combinations in evaluation order (the core's MatrixSet[]). */
  sets: MatrixSet[];
  /** Evict costs keyed by real model id (vars resolved); unlisted models cost 1. */
  evictCosts: Record<string, number>;
}

export type { MatrixSet };

/** Seconds (0 = disabled) a peer's transport may take per phase (reference 2.6). */
export type { UpstreamTimeouts };
export type PeerTimeouts = UpstreamTimeouts;

/** One `peers.<id>` entry (reference 2.6, 5.5): another server whose models are forwarded to. */
export interface PeerConfig {
  id: string;
  /** Base URL; the request path is appended to its path. */
  proxy: string;
  /** '' none; else sent as `Authorization: Bearer` and `x-api-key` on forwarded requests. */
  apiKey: string;
  /** Model ids on the peer, de-duplicated, in config order. */
  models: string[];
  /**
   * JSON body filters: stripParams, setParams, and setParamsByID keyed by the name the client
   * asked for (the FQN or the bare id), as llama-swap's shared filter code applies them. Its
   * keys make no aliases here: a peer's names are its FQNs and bare ids.
   */
  filters: ModelFilters;
  timeouts: PeerTimeouts;
}

/** One `profiles.<name>` entry (reference 2.7, 3.12). */
export interface ProfileConfig {
  name: string;
  description: string;
  /** Pin name (virtual or real id) -> target; '' disables that id while the profile is active. */
  pins: Record<string, string>;
}

export type SelectorStrategy = 'warm' | 'pin' | 'spillover';

/** One `selectors.<id>` entry (reference 2.8, 5.6): a virtual model that picks a target. */
export interface SelectorConfig {
  id: string;
  strategy: SelectorStrategy;
  /** Model ids, aliases or peer models (FQN or bare), as written. */
  targets: string[];
  /** `settings.spillover` (default 1; spillover only). */
  spillover: number;
  name: string;
  description: string;
  unlisted: boolean;
  metadata: Record<string, unknown>;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogToStdout = 'proxy' | 'upstream' | 'both' | 'none';

export interface Config {
  /** Seconds a model may take to turn healthy; values below 15 are raised to 15. */
  healthCheckTimeout: number;
  /** swapstate's own key: ms between health probes (default 50; the first goes out at once). */
  healthCheckInterval: number;
  logLevel: LogLevel;
  /** '' none, else a Go layout name (rfc3339, kitchen, ...). */
  logTimeFormat: string;
  logToStdout: LogToStdout;
  startPort: number;
  globalTTL: number;
  /** Global stop grace in seconds for unloads and TTL (default 10). */
  unloadTimeout: number;
  /**
   * llmsnap's key: seconds each sleep call (sleepEndpoints) may take when it has no `timeout`
   * of its own (default 10, at least 1). Already applied to every model's SleepEndpoint.timeout.
   */
  sleepRequestTimeout: number;
  /** llmsnap's key: the same for each wake call (wakeEndpoints; default 10, at least 1). */
  wakeRequestTimeout: number;
  includeAliasesInList: boolean;
  sendLoadingState: boolean;
  /** Activity rows kept in memory, the newest (default 1000; 0 or less in the file means 1000). */
  metricsMaxInMemory: number;
  /** Capture cache in MB (default 0: no captures; llama-swap's default is 5). */
  captureBuffer: number;
  apiKeys: string[];
  /** swapstate's own key: largest accepted request body (default 64 MiB). */
  maxRequestBodyBytes: number;
  /**
   * swapstate's own key: the most request-body bytes held in memory at once, over all
   * requests (default 256 MiB, or maxRequestBodyBytes when larger; never below it).
   */
  maxBufferedRequestBytes: number;
  /**
   * swapstate's own key: host names accepted in the `Host` header beyond the listen address's
   * own names (default none). Lowercased, without port: `*` any host, `.example.com` every
   * subdomain of example.com, `[::1]` an IPv6 address, else a name or IPv4 address.
   */
  allowedHosts: string[];
  /**
   * swapstate's own key: origins whose cross-site browser requests are allowed (default none).
   * Lowercased `http(s)://host[:port]` exactly as a browser's `Origin` header has it, or `*`.
   */
  allowedOrigins: string[];
  /**
   * swapstate's own key, with Express's `trust proxy` semantics: which hops may set the client
   * address via `X-Forwarded-For`. `false` (default) none, `true` all, n the n nearest hops,
   * else addresses, CIDR ranges and `loopback`/`linklocal`/`uniquelocal` (all compiled by
   * proxy-addr at load). Passable to Express's `app.set('trust proxy', ...)` as is.
   */
  trustProxy: boolean | number | string[];
  /**
   * swapstate's own key: ms a model start may go on after every client waiting for it has
   * gone; then it is aborted (default 2000; 0 aborts at once).
   */
  abandonedLoadGraceMs: number;
  /** swapstate's own key: XState inspection, `off` (default), `log` or a `ws://` URL. */
  inspect: 'off' | 'log' | `ws://${string}` | `wss://${string}`;
  models: Record<string, ModelConfig>;
  /**
   * Configured groups, without the implicit `(default)` group. Under the matrix router they
   * may be present (routing.router.settings.groups) but do not decide swaps.
   */
  groups: Record<string, GroupConfig>;
  /** The router in use: `routing.router.use`, or `matrix` when the legacy top-level `matrix` is set. */
  router: 'group' | 'matrix';
  /** The compiled matrix when `router` is 'matrix', else null. */
  matrix: MatrixRouting | null;
  /** `peers.<id>` (reference 2.6); empty when none. */
  peers: Record<string, PeerConfig>;
  /** `profiles.<name>` (reference 2.7); empty when none. None is active at startup or after a reload. */
  profiles: Record<string, ProfileConfig>;
  /** `selectors.<id>` (reference 2.8); empty when none. */
  selectors: Record<string, SelectorConfig>;
  /** `routing.scheduler.settings.fifo.priority`, keyed by real model id. */
  priority: Record<string, number>;
  /** `hooks.on_startup.preload`, aliases resolved, unknown names dropped. */
  preload: string[];
  /** `upstream.ignorePaths` regular expression sources. */
  ignorePaths: string[];
  /** `performance` (reference 2.2): the system sampling behind `/metrics`. */
  performance: PerformanceConfig;
  /** alias -> model id, including the automatic aliases of `setParamsByID`. */
  aliases: Record<string, string>;
  /** Things the loader accepted but wants the user to know (unknown keys, ...). */
  warnings: string[];
}
