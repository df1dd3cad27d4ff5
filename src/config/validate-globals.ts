/**
 * Global values (reference 2.2): llama-swap's range checks and normalizations, plus
 * swapstate's own keys, in llama-swap's order.
 */
import { DEFAULT_MAX_BUFFERED_REQUEST_BYTES, DEFAULT_UNLOAD_TIMEOUT, type ConfigDraft } from './decode-config.ts';
import { parseInspectMode, type InspectMode } from './inspect-mode.ts';
import { checkMilliseconds, checkSeconds, MAX_BUFFER_BYTES } from './limits.ts';
import { ConfigError } from './config-error.ts';
import type { LogToStdout } from './types.ts';

/** A model that cannot come up within 15 s of its own timeout is not worth waiting less for. */
const MIN_HEALTH_CHECK_TIMEOUT = 15;

const LOG_TO_STDOUT: readonly LogToStdout[] = ['proxy', 'upstream', 'both', 'none'];

export interface Globals {
  healthCheckTimeout: number;
  healthCheckInterval: number;
  maxRequestBodyBytes: number;
  maxBufferedRequestBytes: number;
  abandonedLoadGraceMs: number;
  inspect: InspectMode;
  globalTTL: number;
  unloadTimeout: number;
  sleepRequestTimeout: number;
  wakeRequestTimeout: number;
  logToStdout: LogToStdout;
}

export function validateGlobals(draft: ConfigDraft): Globals {
  const where = (key: string): string | undefined => draft.root.get(key).where;
  // Every duration becomes a timer; past MAX_TIMER_MS Node would fire it after 1 ms.
  checkSeconds(draft.healthCheckTimeout, 'healthCheckTimeout', where('healthCheckTimeout'));
  if (draft.globalTTL < 0) throw new ConfigError('globalTTL must be >= 0', where('globalTTL'));
  checkSeconds(draft.globalTTL, 'globalTTL', where('globalTTL'));
  if (draft.unloadTimeout < 0) throw new ConfigError('unloadTimeout must be >= 0', where('unloadTimeout'));
  checkSeconds(draft.unloadTimeout, 'unloadTimeout', where('unloadTimeout'));
  // llmsnap's keys (its schema: minimum 1). Unlike unloadTimeout, 0 does not mean "the
  // default": a call with no time at all could never succeed, so 0 is an error, as is a negative.
  for (const key of ['sleepRequestTimeout', 'wakeRequestTimeout'] as const) {
    if (draft[key] < 1) throw new ConfigError(`${key} must be >= 1 (seconds), got ${draft[key]}`, where(key));
    checkSeconds(draft[key], key, where(key));
  }
  // Our own keys: a zero or negative interval would spin, a zero body limit would refuse all.
  if (draft.healthCheckInterval <= 0) {
    throw new ConfigError('healthCheckInterval must be a positive integer (milliseconds)', where('healthCheckInterval'));
  }
  checkMilliseconds(draft.healthCheckInterval, 'healthCheckInterval', where('healthCheckInterval'));
  if (draft.maxRequestBodyBytes <= 0) {
    throw new ConfigError('maxRequestBodyBytes must be a positive integer (bytes)', where('maxRequestBodyBytes'));
  }
  // A body is held in one Buffer before it is forwarded.
  if (draft.maxRequestBodyBytes > MAX_BUFFER_BYTES) {
    throw new ConfigError(
      `maxRequestBodyBytes must be at most ${MAX_BUFFER_BYTES} bytes (the largest Node.js Buffer), got ${draft.maxRequestBodyBytes}`,
      where('maxRequestBodyBytes'),
    );
  }
  const maxBufferedRequestBytes = validateBufferedBytes(draft, where('maxBufferedRequestBytes'));
  if (draft.abandonedLoadGraceMs < 0) {
    throw new ConfigError('abandonedLoadGraceMs must be >= 0 (milliseconds)', where('abandonedLoadGraceMs'));
  }
  checkMilliseconds(draft.abandonedLoadGraceMs, 'abandonedLoadGraceMs', where('abandonedLoadGraceMs'));
  let inspect: InspectMode;
  try {
    inspect = parseInspectMode(draft.inspect);
  } catch (err) {
    throw new ConfigError((err as Error).message, where('inspect'));
  }
  const logToStdout = LOG_TO_STDOUT.find((v) => v === draft.logToStdout);
  if (!logToStdout) throw new ConfigError('logToStdout must be one of: proxy, upstream, both, none', where('logToStdout'));
  return {
    healthCheckTimeout: Math.max(draft.healthCheckTimeout, MIN_HEALTH_CHECK_TIMEOUT),
    healthCheckInterval: draft.healthCheckInterval,
    maxRequestBodyBytes: draft.maxRequestBodyBytes,
    maxBufferedRequestBytes,
    abandonedLoadGraceMs: draft.abandonedLoadGraceMs,
    inspect,
    globalTTL: draft.globalTTL,
    unloadTimeout: draft.unloadTimeout === 0 ? DEFAULT_UNLOAD_TIMEOUT : draft.unloadTimeout,
    sleepRequestTimeout: draft.sleepRequestTimeout,
    wakeRequestTimeout: draft.wakeRequestTimeout,
    logToStdout,
  };
}

/**
 * The budget for buffered bodies must hold at least one body of the largest size, or such a
 * body could never be accepted. Absent, it is 256 MiB, or maxRequestBodyBytes when that is
 * larger (so a config that only raises the body limit keeps loading).
 */
function validateBufferedBytes(draft: ConfigDraft, where: string | undefined): number {
  const value = draft.maxBufferedRequestBytes;
  if (value === null) return Math.max(DEFAULT_MAX_BUFFERED_REQUEST_BYTES, draft.maxRequestBodyBytes);
  if (value <= 0) throw new ConfigError('maxBufferedRequestBytes must be a positive integer (bytes)', where);
  if (value < draft.maxRequestBodyBytes) {
    throw new ConfigError(`maxBufferedRequestBytes must be at least maxRequestBodyBytes (${draft.maxRequestBodyBytes})`, where);
  }
  return value;
}

/** Checked last, as in llama-swap: keys are compared verbatim, so a space can never match. */
export function validateApiKeys(draft: ConfigDraft): string[] {
  const items = draft.root.get('apiKeys').items();
  draft.apiKeys.forEach((key, index) => {
    if (key === '') throw new ConfigError('empty api key found in apiKeys', items[index]?.where);
    if (key.includes(' ')) throw new ConfigError(`apiKeys[${index}]: api key cannot contain spaces`, items[index]?.where);
  });
  return draft.apiKeys;
}
