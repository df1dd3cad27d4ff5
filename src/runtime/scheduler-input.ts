/**
 * What the actors need from a loaded config: a model's `ProcessConfig` and the scheduler's
 * input. Seconds become milliseconds here and nowhere else.
 *
 * The runtime's job, not the config's: the config is plain data and knows no actor; this is
 * where it is adapted to the machines' inputs.
 */
import type { ProcessConfig } from '../../machines/process.machine.ts';
import type { SleepCall } from '../../machines/process.protocol.ts';
import type { SchedulerInput, SchedulerModel } from '../../machines/scheduler.machine.ts';
import type { Config, SleepEndpoint } from '../config/types.ts';

/**
 * The process machine's view of one model.
 *
 * @throws Error when `id` is not a model id of `cfg`.
 */
export function processConfigFor(cfg: Config, id: string): ProcessConfig {
  const model = Object.hasOwn(cfg.models, id) ? cfg.models[id] : undefined;
  if (!model) throw new Error(`no model config for ${JSON.stringify(id)}`);
  return {
    model: id,
    cmd: model.cmd,
    cmdStop: model.cmdStop === '' ? undefined : model.cmdStop,
    env: parseEnv(model.env),
    proxy: model.proxy,
    checkEndpoint: model.checkEndpoint,
    healthCheckTimeoutMs: cfg.healthCheckTimeout * 1000,
    healthCheckIntervalMs: cfg.healthCheckInterval,
    ttlMs: model.ttl * 1000,
    unloadGraceMs: model.unloadTimeout * 1000,
    sleepMode: model.sleepMode === 'enable' ? { sleep: model.sleepEndpoints.map(sleepCall), wake: model.wakeEndpoints.map(sleepCall) } : undefined,
  };
}

/** A configured sleep or wake endpoint as the machine's call (timeout in ms). */
function sleepCall(e: SleepEndpoint): SleepCall {
  return { endpoint: e.endpoint, method: e.method, body: e.body, timeoutMs: e.timeout * 1000 };
}

/**
 * `NAME=value` entries as a record; a later entry for the same name wins, as it would in the
 * environment llama-swap builds. An entry without `=` has no name to set and is skipped.
 */
export function parseEnv(entries: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    Object.defineProperty(env, entry.slice(0, eq), {
      value: entry.slice(eq + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return env;
}

/** The scheduler's input: every model, the configured groups (without `(default)`), eviction grace. */
export function schedulerInputFor(cfg: Config): SchedulerInput {
  const models: Record<string, SchedulerModel> = Object.fromEntries(
    Object.keys(cfg.models).map((id) => [
      id,
      {
        process: processConfigFor(cfg, id),
        concurrencyLimit: cfg.models[id]!.concurrencyLimit,
        priority: Object.hasOwn(cfg.priority, id) ? cfg.priority[id] : undefined,
      },
    ]),
  );
  return {
    models,
    groups: cfg.groups,
    // Set only under the matrix router: then the solver decides evictions, not the groups.
    matrix: cfg.matrix,
    evictGraceMs: cfg.healthCheckTimeout * 1000,
    abandonedLoadGraceMs: cfg.abandonedLoadGraceMs,
  };
}
