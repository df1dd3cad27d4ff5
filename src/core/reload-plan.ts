/**
 * What a config reload does to the models that run: the pure decision behind swapstate's
 * reload, which keeps unchanged models running (llama-swap builds a new server and stops every
 * model, reference 1.4; a config edit should not cost a reload of every model).
 *
 * A model's "effective config" is what its process was started from, after macros and
 * `${PORT}`: `cmd`, `cmdStop`, `env`, `proxy`, `checkEndpoint` and the sleep-mode calls. A
 * change to any of them means the running server is not what the config now describes, so
 * the model is replaced (stopped once idle, started again from the new config on demand).
 * Everything else a process knows is about how swapstate treats it, and is applied to the
 * running process: `ttl`, `unloadTimeout`, the health-check timeout and interval (they matter
 * at the next start), `concurrencyLimit` and priority. Keys the process never sees (name,
 * aliases, filters, metadata, ...) are read from the current config per request anyway.
 */
import type { Swapper } from './effects.ts';

/** The parts of a model's process config the plan compares (machines' ProcessConfig fits it). */
export interface ReloadProcess {
  cmd: string;
  cmdStop?: string | undefined;
  env: Record<string, string>;
  proxy: string;
  checkEndpoint: string;
  sleepMode?: unknown;
  ttlMs: number;
  unloadGraceMs: number;
  healthCheckTimeoutMs: number;
  healthCheckIntervalMs: number;
}

/** One model of a config as the scheduler gets it (machines' SchedulerModel fits it). */
export interface ReloadModel {
  process: ReloadProcess;
  concurrencyLimit?: number | undefined;
  priority?: number | undefined;
}

export interface ReloadPlan {
  /** Unchanged in every respect: nothing is done to them. */
  keep: string[];
  /** Same process, new settings (ttl, unloadTimeout, limit, ...): applied to the running process. */
  update: string[];
  /** The process is not what the config describes any more: stopped once idle, then started anew. */
  replace: string[];
  /** Gone from the config: stopped once idle; new requests get the unknown-model error. */
  remove: string[];
  /** New in the config: spawned stopped. */
  add: string[];
}

/** The fields whose change means the running server is not the configured one. */
function restartKey(p: ReloadProcess): string {
  const env = Object.keys(p.env)
    .sort()
    .map((k) => [k, p.env[k]]);
  return JSON.stringify([p.cmd, p.cmdStop ?? null, env, p.proxy, p.checkEndpoint, p.sleepMode ?? null]);
}

/** Whether a change from `a` to `b` needs the model's process restarted. */
export function needsRestart(a: ReloadProcess, b: ReloadProcess): boolean {
  return restartKey(a) !== restartKey(b);
}

function sameSettings(a: ReloadModel, b: ReloadModel): boolean {
  return (
    a.process.ttlMs === b.process.ttlMs &&
    a.process.unloadGraceMs === b.process.unloadGraceMs &&
    a.process.healthCheckTimeoutMs === b.process.healthCheckTimeoutMs &&
    a.process.healthCheckIntervalMs === b.process.healthCheckIntervalMs &&
    (a.concurrencyLimit ?? null) === (b.concurrencyLimit ?? null) &&
    (a.priority ?? null) === (b.priority ?? null)
  );
}

/**
 * Sorts every model of the old and the new config into keep / update / replace / remove / add.
 * Each list is sorted, so the plan (and what is logged of it) is the same for the same configs.
 */
export function planReload(oldModels: Record<string, ReloadModel>, newModels: Record<string, ReloadModel>): ReloadPlan {
  const plan: ReloadPlan = { keep: [], update: [], replace: [], remove: [], add: [] };
  for (const id of Object.keys(oldModels).sort()) {
    const before = oldModels[id]!;
    const after = Object.hasOwn(newModels, id) ? newModels[id] : undefined;
    if (!after) plan.remove.push(id);
    else if (needsRestart(before.process, after.process)) plan.replace.push(id);
    else if (!sameSettings(before, after)) plan.update.push(id);
    else plan.keep.push(id);
  }
  for (const id of Object.keys(newModels).sort()) if (!Object.hasOwn(oldModels, id)) plan.add.push(id);
  return plan;
}

/**
 * Which of the `running` models may not run together under the new rules (groups or matrix,
 * as `swapper` decides), and so must be stopped once idle.
 *
 * A set of models may run together when some order of loading them, one by one, evicts none
 * of them: that is how they could have come to run under these rules. (Asking that no model
 * would evict any other is too strict: llama-swap's groups let a non-exclusive group's model
 * load beside an exclusive group's one, which would evict it if loaded second.) Models are
 * taken in `preferred` order, each one inserted wherever in the load order it breaks nothing;
 * what cannot be taken is returned, sorted. Put the models that are serving first in
 * `preferred`: they are the ones kept when two exclude each other.
 */
export function evictForRules(swapper: Swapper, running: readonly string[], preferred: readonly string[] = running): string[] {
  const order = [...new Set([...preferred.filter((m) => running.includes(m)), ...running])];
  const valid = (load: readonly string[]) => load.every((m, i) => swapper(m, load.slice(0, i)).length === 0);
  let load: string[] = [];
  const out: string[] = [];
  for (const m of order) {
    let placed = false;
    for (let at = load.length; at >= 0 && !placed; at--) {
      const tried = [...load.slice(0, at), m, ...load.slice(at)];
      if (valid(tried)) {
        load = tried;
        placed = true;
      }
    }
    if (!placed) out.push(m);
  }
  return out.sort();
}
