/**
 * A simulated world around the pure FIFO core, for the property tests in
 * fifo.property.test.ts.
 *
 * The world owns everything the core does not: the requests and what each was told, the
 * running swap actors (one per `startSwap` effect, until the test reports it done) and the
 * processes (stopped / starting / ready / stopping), whose tags it feeds to
 * `onProcessChange` the way the scheduler machine mirrors them. It drives the core only
 * through its exported functions and checks, after every step, invariants stated in terms
 * of this world (the core's state is read, never trusted as the model):
 *
 * - every request gets exactly one `admit`, with the error the world expects (unknown model,
 *   shutting down, over the limit counted from the world's own requests);
 * - an admitted request gets at most one grantServe/grantError, never after its cancel, and
 *   (unless cancelled) exactly one by the end of the drain;
 * - reserved/inFlight hold only positive counts, equal to the world's admitted-unfinished and
 *   granted-unfinished requests, reserved <= limit, inFlight <= reserved, empty at the end;
 * - a grantServe goes to a ready process that no running swap is evicting;
 * - a swap never starts beside one it collides with, and never evicts a committed model;
 * - a model becoming committed would not evict one already committed; in particular no swap
 *   group ever has two committed members (see {@link World.committed});
 * - every pending request sits in exactly one place (queue or one swap's waiters); the queue
 *   is in priority order, FIFO within a priority; every queuePositions lists it, 1..n; a
 *   queued request always waits for something (a running swap or an in-flight request);
 * - the core's running swaps are exactly the world's; runningSet matches the world;
 * - every answer has a cause the world can name: a just-admitted request is served at once, a
 *   finished swap answers exactly its waiters (served, SWAP_FAILED, or BACKING_OFF carrying the
 *   done event's retryAfterMs), an unload fails exactly the pending requests of its models
 *   (MODEL_UNLOADED), shutdown fails everything (SHUTTING_DOWN), and a drain serves queued
 *   requests or fails those whose model is backing off (BACKING_OFF, the mirror's wait);
 * - crash-loop backoff: a request for a model whose mirror carries a backoff is refused at
 *   admission with BACKING_OFF and the mirror's wait, takes no slot and causes nothing else;
 *   no swap ever targets such a model; after a drain no queued request is for one;
 * - abandoned loads: swapAbandoned comes only from the cancel of the last waiter of a running,
 *   not cancelled load, always then, with seq one past the swap's previous one; an abandon
 *   check aborts (abortSwap) exactly when the swap still runs, is not cancelled, has no waiters
 *   and the seq is the latest; a cancelled (aborted or unloaded) swap keeps blocking
 *   collisions until done, is never joined, and its done event answers no one;
 * - the core never mutates the state it is given (each input is deep-frozen).
 */
import type { Effect, Req, Swapper } from '../../src/core/effects.ts';
import {
  initialFifoState,
  onAbandonCheck,
  onCancel,
  onProcessChange,
  onRequest,
  onServeDone,
  onShutdown,
  onSwapDone,
  onUnload,
  runningSet,
  type FifoState,
  type Step,
} from '../../src/core/fifo.ts';
import { groupSwapper, withDefaultGroup, type Groups } from '../../src/core/group-swapper.ts';

export const MODEL_IDS = ['a', 'b', 'c', 'd', 'e'] as const;
export const UNKNOWN_MODEL = 'ghost';

export interface ModelSpec {
  limit: number;
  priority: number;
  /** Index into `groups`; -1 (or an index past the end) means no configured group. */
  group: number;
}

export interface GroupSpec {
  swap: boolean;
  exclusive: boolean;
  persistent: boolean;
}

export interface WorldConfig {
  models: ModelSpec[];
  groups: GroupSpec[];
}

type ProcState = 'stopped' | 'starting' | 'ready' | 'stopping';

type ReqStatus = 'rejected' | 'pending' | 'granted' | 'served' | 'errored' | 'cancelled';

interface WorldReq {
  reqId: string;
  model: string;
  /** Admission order among admitted requests (FIFO tie-break in the queue). */
  arrival: number;
  status: ReqStatus;
  /** grantServe + grantError received. */
  answers: number;
  /** The process epoch of the model when it was granted (see {@link World.epoch}). */
  epoch: number;
}

interface WorldSwap {
  swapId: string;
  target: string | null;
  evict: string[];
  /** 0 started, 1 evictees stopping, 2 evictees stopped and target starting. */
  phase: 0 | 1 | 2;
  /** For an unload: the ticket passed to onUnload. */
  ticket: string | null;
  /** Its target was unloaded or its load aborted: the actor runs on, nobody may join it. */
  cancelled: boolean;
  /** An abortSwap was emitted for it: its actor will report done with an error. */
  aborted: boolean;
  /** The seq of the last swapAbandoned emitted for it (0: none yet). */
  abandonSeq: number;
}

/** A swapAbandoned effect whose ABANDON_CHECK the machine has not delivered yet. */
export interface AbandonNotice {
  swapId: string;
  seq: number;
}

export interface Backoff {
  error: string;
  retryAfterMs: number;
}

/** What the current step is expected to produce, for the effect checks. */
interface StepContext {
  requested?: Req;
  doneSwap?: { swap: WorldSwap; error: string | undefined; retryAfterMs: number | undefined };
  unloadTicket?: string;
  /** The requested unload targets (undefined: all). */
  unloadTargets?: string[] | undefined;
  cancelled?: string;
  abandonCheck?: { swapId: string; seq: number };
  shutdown?: boolean;
  /** The step re-runs the decision tree over the queue (swap done, serve done, unload). */
  drains?: boolean;
}

export class InvariantError extends Error {}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v as object)) deepFreeze(child);
  }
  return v;
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export class World {
  s: FifoState;
  readonly ids: string[];
  readonly swapper: Swapper;
  readonly groups: Groups;
  /** Members of every group with swap: true (the implicit (default) group included). */
  readonly swapGroups: string[][];
  readonly limit: Record<string, number>;
  readonly priority: Record<string, number>;

  readonly proc: Record<string, ProcState> = {};
  /**
   * Bumped whenever a model's process reaches stopped. A grant is live (its request is
   * being served by a process) while it is not SERVE_DONE and the epoch has not moved.
   */
  readonly epoch: Record<string, number> = {};
  /** The crash-loop backoff the process mirror carries, per model (null: none). */
  readonly backoff: Record<string, Backoff | null> = {};
  active: WorldSwap[] = [];
  /** swapAbandoned effects not yet answered by an abandon check. */
  notices: AbandonNotice[] = [];
  readonly reqs = new Map<string, WorldReq>();
  readonly trace: string[] = [];
  private readonly swapIds = new Set<string>();
  private nReq = 0;
  private nArrival = 0;
  private nUnload = 0;
  shut = false;
  /** How often interesting branches were taken, for the generator's coverage check. */
  readonly stats = {
    fastGrant: 0,
    joined: 0,
    queued: 0,
    parallelSwaps: 0,
    failedSwap: 0,
    overLimit: 0,
    unknownModel: 0,
    unloadedWaiter: 0,
    cancelledWaiter: 0,
    cancelledQueued: 0,
    shutdownError: 0,
    liveGrantUnloaded: 0,
    crossGroupCommitted: 0,
    crash: 0,
    /** A request refused at admission because its model is backing off. */
    backoffRefused: 0,
    /** A queued request failed by a drain because its model went into backoff meanwhile. */
    backoffDrained: 0,
    /** A swap failed with retryAfterMs and its waiters got BACKING_OFF. */
    backoffSwapFailed: 0,
    abandoned: 0,
    aborted: 0,
    /** An abandon check for a swap someone joined again during the grace. */
    abandonKept: 0,
    /** An abandon check with an old seq for a swap nobody waits on. */
    abandonStale: 0,
    /** An aborted swap's done event let a blocked request start its swap. */
    abortedUnblocked: 0,
  };

  constructor(cfg: WorldConfig) {
    this.ids = MODEL_IDS.slice(0, cfg.models.length);
    const groups: Groups = {};
    cfg.groups.forEach((g, gi) => {
      groups[`g${gi}`] = { ...g, members: this.ids.filter((_, mi) => cfg.models[mi]?.group === gi) };
    });
    this.groups = withDefaultGroup(groups, this.ids);
    this.swapper = groupSwapper(this.groups);
    this.swapGroups = Object.values(this.groups)
      .filter((g) => g.swap)
      .map((g) => g.members);
    this.limit = {};
    this.priority = {};
    cfg.models.forEach((m, i) => {
      const id = this.ids[i] as string;
      this.limit[id] = m.limit;
      this.priority[id] = m.priority;
      this.proc[id] = 'stopped';
      this.epoch[id] = 0;
      this.backoff[id] = null;
    });
    this.s = initialFifoState(
      Object.fromEntries(this.ids.map((id) => [id, { concurrencyLimit: this.limit[id], priority: this.priority[id] }])),
    );
    this.trace.push(
      `config: ${this.ids.map((id) => `${id}(limit ${this.limit[id]}, prio ${this.priority[id]})`).join(' ')}; groups: ${Object.entries(
        this.groups,
      )
        .map(([n, g]) => `${n}{${g.members.join(',')}}${g.swap ? ' swap' : ''}${g.exclusive ? ' excl' : ''}${g.persistent ? ' pers' : ''}`)
        .join('; ')}`,
    );
    this.checkState(null);
  }

  // ---------------------------------------------------------------- what is possible

  pending(): WorldReq[] {
    return [...this.reqs.values()].filter((r) => r.status === 'pending');
  }

  granted(): WorldReq[] {
    return [...this.reqs.values()].filter((r) => r.status === 'granted');
  }

  /** Ready processes no running swap touches: they may exit on their own. */
  crashable(): string[] {
    return this.ids.filter((m) => this.proc[m] === 'ready' && !this.active.some((sw) => sw.target === m || sw.evict.includes(m)));
  }

  progressable(): WorldSwap[] {
    return this.active.filter((sw) => sw.phase < 2);
  }

  /** Stopped models no running swap targets: their process may enter or leave backoff. */
  backoffable(): string[] {
    return this.ids.filter((m) => this.proc[m] === 'stopped' && !this.active.some((sw) => sw.target === m));
  }

  // ---------------------------------------------------------------- commands

  request(model: string): void {
    const req: Req = { reqId: `r${++this.nReq}`, model };
    this.run(`request ${model} -> ${req.reqId}`, (s) => onRequest(s, req, this.swapper), { requested: req });
  }

  cancel(reqId: string): void {
    const r = this.reqs.get(reqId);
    if (r?.status !== 'pending') throw new Error(`test bug: cancel of ${reqId} (${r?.status})`);
    r.status = 'cancelled';
    if (this.s.queue.some((q) => q.reqId === reqId)) this.stats.cancelledQueued++;
    else this.stats.cancelledWaiter++;
    this.run(`cancel ${reqId} (${r.model})`, (s) => onCancel(s, reqId), { cancelled: reqId });
  }

  /** One stage of a running swap, as the process tags would report it. */
  progress(sw: WorldSwap): void {
    this.trace.push(`progress ${sw.swapId} (phase ${sw.phase} -> ${sw.phase + 1})`);
    this.advance(sw);
    this.checkState(null);
  }

  /** A ready process exits by itself; requests it was serving are no longer served by it. */
  crash(model: string): void {
    this.trace.push(`crash ${model}`);
    this.stats.crash++;
    this.setProc(model, 'stopped');
    this.checkState(null);
  }

  /**
   * A swap actor reports done. `retryAfterMs` on a failure means the process refused the start
   * (crash-loop backoff); with `mirrorBackoff` the process's tags report that backoff before
   * the done event arrives. An aborted swap always ends with an error: its start was stopped.
   */
  swapDone(sw: WorldSwap, ok: boolean, retryAfterMs?: number, mirrorBackoff = false): void {
    // A real swap stops every evictee first, then makes the target ready (or fails to).
    const failed = !ok || sw.aborted;
    while (sw.phase < 2) this.advance(sw);
    if (sw.target !== null) this.setProc(sw.target, failed ? 'stopped' : 'ready');
    this.active = this.active.filter((a) => a !== sw);
    const error = failed ? (sw.aborted ? 'aborted' : 'boom') : undefined;
    const retry = failed ? retryAfterMs : undefined;
    if (sw.target !== null && retry !== undefined && mirrorBackoff) this.setBackoff(sw.target, { error: 'boom', retryAfterMs: retry });
    this.run(
      `swapDone ${sw.swapId}${failed ? ` FAILED${retry !== undefined ? ` retryAfter ${retry}` : ''}` : ''}`,
      (s) => onSwapDone(s, { swapId: sw.swapId, error, ...(retry !== undefined ? { retryAfterMs: retry } : {}) }, this.swapper),
      { doneSwap: { swap: sw, error, retryAfterMs: retry }, drains: true },
    );
  }

  /** The grace after a swapAbandoned is over: the machine delivers the check (maybe with a stale seq). */
  abandonCheck(notice: AbandonNotice, stale: boolean): void {
    this.notices = this.notices.filter((n) => n !== notice);
    // Never seq 0: the machine only echoes seqs it was given, and those start at 1.
    const seq = stale ? (notice.seq > 1 ? notice.seq - 1 : notice.seq + 1) : notice.seq;
    this.run(`abandonCheck ${notice.swapId} seq ${seq}${stale ? ' (stale)' : ''}`, (s) => onAbandonCheck(s, notice.swapId, seq), {
      abandonCheck: { swapId: notice.swapId, seq },
    });
  }

  /** A stopped process no swap targets enters crash-loop backoff, or its backoff runs out. */
  toggleBackoff(model: string, retryAfterMs: number): void {
    if (this.proc[model] !== 'stopped' || this.active.some((sw) => sw.target === model)) {
      throw new Error(`test bug: backoff for ${model} (${this.proc[model]})`);
    }
    const next = this.backoff[model] ? null : { error: `exit ${retryAfterMs}`, retryAfterMs };
    this.trace.push(`backoff ${model} ${next ? `on (${retryAfterMs}ms)` : 'off'}`);
    this.setBackoff(model, next);
    this.checkState(null);
  }

  serveDone(reqId: string): void {
    const r = this.reqs.get(reqId);
    if (r?.status !== 'granted') throw new Error(`test bug: serveDone of ${reqId} (${r?.status})`);
    r.status = 'served';
    this.run(`serveDone ${reqId} (${r.model})`, (s) => onServeDone(s, r.model, this.swapper), { drains: true });
  }

  unload(targets: string[] | undefined): void {
    const ticket = `u${++this.nUnload}`;
    this.run(`unload ${targets ? `[${targets.join(',')}]` : 'all'} ticket ${ticket}`, (s) => onUnload(s, targets, this.swapper, ticket), {
      unloadTicket: ticket,
      unloadTargets: targets,
      drains: true,
    });
  }

  shutdown(): void {
    this.shut = true;
    this.run('shutdown', (s) => onShutdown(s), { shutdown: true });
    if (this.pending().length > 0) this.fail(`shutdown left pending requests: ${this.pending().map((r) => r.reqId)}`);
  }

  /** Complete every swap (ok) and finish every granted request until nothing is left. */
  drain(): void {
    this.trace.push('-- drain');
    for (let i = 0; ; i++) {
      if (i > 10_000) this.fail('drain does not terminate');
      const sw = this.active[0];
      if (sw) {
        this.swapDone(sw, true);
        continue;
      }
      const g = this.granted()[0];
      if (g) {
        this.serveDone(g.reqId);
        continue;
      }
      break;
    }
    const stuck = this.pending();
    if (stuck.length > 0) this.fail(`stuck after drain (no swap running, nothing in flight): ${stuck.map((r) => `${r.reqId}(${r.model})`)}`);
    for (const r of this.reqs.values()) {
      const want = r.status === 'rejected' || r.status === 'cancelled' ? 0 : 1;
      if (r.answers !== want) this.fail(`${r.reqId} (${r.status}) got ${r.answers} answers, expected ${want}`);
    }
    if (Object.keys(this.s.reserved).length > 0) this.fail(`reserved not empty at the end: ${JSON.stringify(this.s.reserved)}`);
    if (Object.keys(this.s.inFlight).length > 0) this.fail(`inFlight not empty at the end: ${JSON.stringify(this.s.inFlight)}`);
    if (this.s.queue.length > 0) this.fail('queue not empty at the end');
    if (this.s.active.length > 0) this.fail('core still has active swaps at the end');
  }

  // ---------------------------------------------------------------- world mechanics

  private setProc(model: string, st: ProcState): void {
    const old = this.proc[model];
    if (old === undefined || old === st) return;
    if (st === 'stopped') this.epoch[model] = (this.epoch[model] ?? 0) + 1;
    this.proc[model] = st;
    this.mirror(model);
  }

  private setBackoff(model: string, b: Backoff | null): void {
    this.backoff[model] = b;
    this.mirror(model);
  }

  /** Feed the process's tags to the core, as the scheduler machine does on every change. */
  private mirror(model: string): void {
    const st = this.proc[model];
    this.s = onProcessChange(deepFreeze(this.s), model, {
      resident: st !== 'stopped',
      serving: st === 'ready',
      halted: false,
      backoff: this.backoff[model] ?? null,
    });
  }

  private advance(sw: WorldSwap): void {
    if (sw.phase === 0) {
      for (const m of sw.evict) if (this.proc[m] === 'ready' || this.proc[m] === 'starting') this.setProc(m, 'stopping');
      sw.phase = 1;
    } else if (sw.phase === 1) {
      for (const m of sw.evict) this.setProc(m, 'stopped');
      if (sw.target !== null && this.proc[sw.target] !== 'ready') this.setProc(sw.target, 'starting');
      sw.phase = 2;
    }
  }

  /**
   * The models the scheduler has committed to: targets of running swaps (also cancelled ones,
   * whose actors still run and which the core keeps blocking collisions) plus models with a
   * live grant (granted, not SERVE_DONE, and its process has not stopped since the grant; a
   * grant whose process was unloaded or crashed serves nothing and blocks nothing but its
   * reservation). A model that is merely resident is not committed: evicting it is the point.
   */
  committed(): Set<string> {
    const out = new Set<string>();
    for (const sw of this.active) if (sw.target !== null) out.add(sw.target);
    for (const r of this.reqs.values()) if (r.status === 'granted' && this.epoch[r.model] === r.epoch) out.add(r.model);
    return out;
  }

  private fail(msg: string): never {
    throw new InvariantError(`${msg}\n  trace:\n    ${this.trace.join('\n    ')}`);
  }

  private describe(e: Effect): string {
    switch (e.type) {
      case 'admit':
        return `admit ${e.reqId}${e.error ? ` ${e.error.code}` : ''}`;
      case 'grantServe':
        return `serve ${e.reqId}@${e.model}`;
      case 'grantError':
        return `error ${e.reqId} ${e.error.code}${e.error.retryAfterMs !== undefined ? `(${e.error.retryAfterMs}ms)` : ''}`;
      case 'startSwap':
        return `start ${e.swapId} evict=[${e.evict.join(',')}]`;
      case 'queuePositions':
        return `queue [${e.positions.map((p) => p.reqId).join(',')}]`;
      case 'unloaded':
        return `unloaded ${e.swapId}${e.error ? ' error' : ''}`;
      case 'swapAbandoned':
        return `abandoned ${e.swapId} seq ${e.seq}`;
      case 'abortSwap':
        return `abort ${e.swapId}`;
      case 'retired':
        return `retired ${e.model} (${e.kind})`;
    }
  }

  /** The models an unload must stop: the given targets, or every resident model and running swap target. */
  private unloadSet(targets: string[] | undefined): Set<string> {
    if (targets) return new Set(targets);
    const out = new Set(this.ids.filter((m) => this.proc[m] !== 'stopped'));
    for (const sw of this.active) if (sw.target !== null) out.add(sw.target);
    return out;
  }

  /** One core step: freeze the input (the core must not mutate it), apply, check everything. */
  private run(label: string, f: (s: FifoState) => Step, ctx: StepContext): void {
    const before = this.s;
    const queueBefore = before.queue.map((r) => r.reqId);
    const preQueued = new Set(queueBefore);
    const base = this.committed();
    // Who waits on which swap is read from the core's state before the step; checkState has
    // held it to the world's rules (pending, same model as the target, swap not cancelled).
    const waitersOf = (swapId: string) => before.active.find((a) => a.swapId === swapId)?.waiters ?? [];
    const done = ctx.doneSwap;
    const doneWaiters = new Set(done ? waitersOf(done.swap.swapId).map((r) => r.reqId) : []);
    if (done?.swap.cancelled && doneWaiters.size > 0) this.fail(`cancelled ${done.swap.swapId} still has waiters at its done`);
    const unloadSet = ctx.unloadTicket !== undefined ? this.unloadSet(ctx.unloadTargets) : null;
    // onCancel: the swap the request leaves, if it was its last waiter, must be reported abandoned.
    const left = ctx.cancelled === undefined ? undefined : before.active.find((a) => a.waiters.some((w) => w.reqId === ctx.cancelled));
    const leftWorld = left && this.active.find((a) => a.swapId === left.swapId);
    const wantAbandon = left && leftWorld && left.target !== null && !leftWorld.cancelled && left.waiters.length === 1 ? left.swapId : undefined;
    // onAbandonCheck: abort exactly when the load still runs, nobody waits and the seq is the latest.
    const chk = ctx.abandonCheck;
    const chkSwap = chk && this.active.find((a) => a.swapId === chk.swapId);
    const chkWaiters = chk ? waitersOf(chk.swapId).length : 0;
    const abortable = chkSwap !== undefined && chkSwap.target !== null && !chkSwap.cancelled && chkWaiters === 0;
    const wantAbort = abortable && chk?.seq === chkSwap.abandonSeq;

    const step = f(deepFreeze(this.s));
    this.s = step.state;
    this.trace.push(`${label}: ${step.effects.map((e) => this.describe(e)).join(', ') || '-'}`);

    let admits = 0;
    let unloaded = 0;
    const abandons: string[] = [];
    let aborts = 0;
    const committed = new Set(base);
    const positions: Array<Array<{ reqId: string; position: number }>> = [];
    for (const e of step.effects) {
      switch (e.type) {
        case 'admit': {
          admits++;
          const req = ctx.requested;
          if (!req || e.reqId !== req.reqId || e.model !== req.model) this.fail(`unexpected admit ${e.reqId}`);
          if (this.reqs.has(e.reqId)) this.fail(`second admit for ${e.reqId}`);
          const known = this.limit[req.model] !== undefined;
          const backoff = known ? this.backoff[req.model] : null;
          const held = [...this.reqs.values()].filter(
            (r) => r.model === req.model && (r.status === 'pending' || r.status === 'granted'),
          ).length;
          const expected = !known
            ? 'MODEL_NOT_FOUND'
            : this.shut
              ? 'SHUTTING_DOWN'
              : backoff
                ? 'BACKING_OFF'
                : held >= (this.limit[req.model] ?? 0)
                  ? 'CONCURRENCY_LIMIT'
                  : undefined;
          if (e.error?.code !== expected) this.fail(`admit ${e.reqId}: got ${e.error?.code ?? 'ok'}, expected ${expected ?? 'ok'}`);
          if (e.error && step.effects.length !== 1) this.fail(`refused ${e.reqId} caused more than its admit`);
          if (expected === 'BACKING_OFF') {
            if (e.error?.retryAfterMs !== backoff?.retryAfterMs || e.error?.message !== backoff?.error || e.error?.model !== req.model) {
              this.fail(`admit ${e.reqId}: BACKING_OFF ${JSON.stringify(e.error)} does not carry the mirror's ${JSON.stringify(backoff)}`);
            }
            this.stats.backoffRefused++;
          }
          if (expected === 'CONCURRENCY_LIMIT') this.stats.overLimit++;
          if (expected === 'MODEL_NOT_FOUND') this.stats.unknownModel++;
          this.reqs.set(e.reqId, {
            reqId: e.reqId,
            model: e.model,
            arrival: e.error ? -1 : this.nArrival++,
            status: e.error ? 'rejected' : 'pending',
            answers: 0,
            epoch: -1,
          });
          break;
        }
        case 'grantServe': {
          const r = this.answer(e.reqId, 'granted');
          if (e.model !== r.model) this.fail(`${e.reqId} for ${r.model} granted on ${e.model}`);
          this.checkCause(r, e, ctx, doneWaiters, preQueued, unloadSet);
          if (this.proc[e.model] !== 'ready') this.fail(`grantServe ${e.reqId}: ${e.model} is ${this.proc[e.model]}, not ready`);
          const evictor = this.active.find((sw) => sw.evict.includes(e.model));
          if (evictor) this.fail(`grantServe ${e.reqId} on ${e.model} while ${evictor.swapId} evicts it`);
          r.epoch = this.epoch[e.model] ?? 0;
          if (ctx.requested) this.stats.fastGrant++;
          // The target of the swap that just finished was committed since that swap started.
          if (!committed.has(e.model) && ctx.doneSwap?.swap.target !== e.model) this.checkNewcomer(e.model, committed, `grant ${e.reqId}`);
          committed.add(e.model);
          break;
        }
        case 'grantError': {
          const r = this.answer(e.reqId, 'errored');
          if (e.model !== r.model) this.fail(`grantError ${e.reqId} names ${e.model}`);
          this.checkCause(r, e, ctx, doneWaiters, preQueued, unloadSet);
          if (e.error.code === 'MODEL_UNLOADED') this.stats.unloadedWaiter++;
          if (e.error.code === 'SHUTTING_DOWN') this.stats.shutdownError++;
          break;
        }
        case 'startSwap': {
          if (this.swapIds.has(e.swapId)) this.fail(`swap id ${e.swapId} reused`);
          this.swapIds.add(e.swapId);
          if (e.target !== null) {
            if (this.limit[e.target] === undefined) this.fail(`swap to unknown model ${e.target}`);
            if (this.backoff[e.target]) this.fail(`${e.swapId} starts ${e.target}, which is backing off`);
            if (e.evict.includes(e.target)) this.fail(`${e.swapId} evicts its own target`);
            // A swap never runs beside one it collides with (same target, evicting the other's
            // target, or overlapping evictions), cancelled and aborted ones included; only
            // unloads start without that check.
            for (const sw of this.active) {
              if (
                sw.target === e.target ||
                (sw.target !== null && e.evict.includes(sw.target)) ||
                sw.evict.includes(e.target) ||
                sw.evict.some((m) => e.evict.includes(m))
              ) {
                this.fail(`${e.swapId} (evict [${e.evict}]) starts beside colliding ${sw.swapId} (evict [${sw.evict}])`);
              }
            }
            const hit = e.evict.filter((m) => committed.has(m));
            if (hit.length > 0) this.fail(`${e.swapId} evicts committed ${hit.join(',')}`);
            this.checkNewcomer(e.target, committed, e.swapId);
            committed.add(e.target);
            if (done?.swap.aborted) this.stats.abortedUnblocked++;
          } else if (ctx.unloadTicket === undefined || !unloadSet) {
            this.fail(`unload swap ${e.swapId} started outside onUnload`);
          } else {
            if (!sameList(e.evict, [...unloadSet].sort())) this.fail(`unload ${e.swapId} stops [${e.evict}], expected [${[...unloadSet].sort()}]`);
            if (e.evict.some((m) => committed.has(m) && !this.active.some((sw) => sw.target === m))) this.stats.liveGrantUnloaded++;
          }
          this.active.push({
            swapId: e.swapId,
            target: e.target,
            evict: [...e.evict],
            phase: 0,
            ticket: e.target === null ? (ctx.unloadTicket ?? null) : null,
            cancelled: false,
            aborted: false,
            abandonSeq: 0,
          });
          break;
        }
        case 'queuePositions':
          positions.push(e.positions);
          e.positions.forEach((p, i) => {
            if (p.position !== i + 1) this.fail(`queuePositions: ${p.reqId} at index ${i} has position ${p.position}`);
          });
          break;
        case 'unloaded': {
          unloaded++;
          if (!done || done.swap.target !== null || done.swap.swapId !== e.swapId) this.fail(`unexpected unloaded ${e.swapId}`);
          if (e.ticket !== done.swap.ticket) this.fail(`unloaded ${e.swapId}: ticket ${e.ticket}, expected ${done.swap.ticket}`);
          if (!sameList(e.targets, done.swap.evict)) this.fail(`unloaded ${e.swapId}: targets ${e.targets}`);
          if ((e.error !== undefined) !== (done.error !== undefined)) this.fail(`unloaded ${e.swapId}: error mismatch`);
          break;
        }
        case 'swapAbandoned': {
          abandons.push(e.swapId);
          const sw = this.active.find((a) => a.swapId === e.swapId);
          if (ctx.cancelled === undefined) this.fail(`swapAbandoned ${e.swapId} outside onCancel`);
          if (!sw) this.fail(`swapAbandoned for ${e.swapId}, which is not running`);
          if (e.seq !== sw.abandonSeq + 1) this.fail(`swapAbandoned ${e.swapId} seq ${e.seq}, previous was ${sw.abandonSeq}`);
          sw.abandonSeq = e.seq;
          this.notices.push({ swapId: e.swapId, seq: e.seq });
          this.stats.abandoned++;
          break;
        }
        case 'abortSwap': {
          aborts++;
          const sw = this.active.find((a) => a.swapId === e.swapId);
          if (!sw || sw.target === null || sw.target !== e.target) this.fail(`abortSwap ${e.swapId} (${e.target}) names no running load`);
          if (sw.cancelled) this.fail(`abortSwap for ${e.swapId}, which is already cancelled`);
          if (unloadSet) {
            // An unload aborts the running loads of the models it stops.
            if (!unloadSet.has(sw.target)) this.fail(`unload aborted ${e.swapId}, whose model it does not stop`);
          } else {
            if (!chk || chk.swapId !== e.swapId) this.fail(`abortSwap ${e.swapId} outside its abandon check or an unload`);
            if (chkWaiters > 0) this.fail(`abortSwap for ${e.swapId}, which has ${chkWaiters} waiters`);
            if (chk.seq !== sw.abandonSeq) this.fail(`abortSwap for ${e.swapId} on stale seq ${chk.seq} (latest ${sw.abandonSeq})`);
          }
          sw.cancelled = true;
          sw.aborted = true;
          this.stats.aborted++;
          break;
        }
        default:
          this.fail(`effect of unknown type: ${JSON.stringify(e)}`);
      }
    }
    if (ctx.requested && admits !== 1) this.fail(`request ${ctx.requested.reqId} got ${admits} admits`);
    if (!ctx.requested && admits > 0) this.fail('admit outside onRequest');
    const wantUnloaded = done?.swap.target === null ? 1 : 0;
    if (unloaded !== wantUnloaded) this.fail(`${unloaded} unloaded effects, expected ${wantUnloaded}`);
    if (ctx.unloadTicket !== undefined && !step.effects.some((e) => e.type === 'startSwap' && e.target === null)) {
      this.fail('onUnload started no unload swap');
    }
    if (!sameList(abandons, wantAbandon ? [wantAbandon] : [])) {
      this.fail(`swapAbandoned for [${abandons}], expected [${wantAbandon ?? ''}]`);
    }
    if (chk) {
      if (step.effects.length !== aborts) this.fail('an abandon check did more than abort');
      if (wantAbort && aborts === 0) this.fail(`abandoned ${chk.swapId} (seq ${chk.seq}, no waiters) was not aborted`);
      if (abortable && chk.seq !== chkSwap.abandonSeq) this.stats.abandonStale++;
      if (chkSwap && chkSwap.target !== null && !chkSwap.cancelled && chkWaiters > 0) this.stats.abandonKept++;
    }
    // A finished swap answers every one of its waiters (an aborted one has none).
    for (const id of doneWaiters) if (this.reqs.get(id)?.status === 'pending') this.fail(`${id} waited on ${done?.swap.swapId} and got no answer`);
    if (unloadSet) {
      // Running loads of unloaded models are aborted (their actors would otherwise start the
      // model after the unload answered); they keep blocking until done.
      for (const sw of this.active) {
        if (sw.target !== null && unloadSet.has(sw.target) && !sw.cancelled) this.fail(`unload did not abort ${sw.swapId}`);
      }
      const stillPending = this.pending().filter((r) => unloadSet.has(r.model));
      if (stillPending.length > 0) this.fail(`unload left requests of its models pending: ${stillPending.map((r) => r.reqId)}`);
    }
    if (done || unloadSet) {
      const stale = this.s.queue.filter((r) => this.backoff[r.model]);
      if (stale.length > 0) this.fail(`queue still holds requests for backing-off models after a drain: ${stale.map((r) => r.reqId)}`);
    }

    // Queue positions: every report is the queue as the step left it; a changed queue is reported.
    const queueAfter = this.s.queue.map((r) => r.reqId);
    for (const p of positions) {
      if (!sameList(p.map((x) => x.reqId), queueAfter)) this.fail(`queuePositions [${p.map((x) => x.reqId)}] but queue is [${queueAfter}]`);
    }
    if (positions.length === 0 && !sameList(queueBefore, queueAfter)) {
      this.fail(`queue changed [${queueBefore}] -> [${queueAfter}] without queuePositions`);
    }

    this.checkState(committed);

    const req = ctx.requested;
    if (req && !step.effects.some((e) => e.type !== 'admit')) {
      if (this.s.active.some((sw) => sw.waiters.some((w) => w.reqId === req.reqId))) this.stats.joined++;
    }
    if (req && this.s.queue.some((q) => q.reqId === req.reqId)) this.stats.queued++;
    if (this.active.filter((sw) => sw.target !== null).length > 1) this.stats.parallelSwaps++;
    if (done?.error !== undefined && done.swap.target !== null) this.stats.failedSwap++;
    const now = [...this.committed()];
    if (now.some((x) => now.some((y) => x !== y && this.swapper(y, [x]).includes(x)))) this.stats.crossGroupCommitted++;
  }

  /**
   * Why a request got its answer in this step. The only causes: its own admission (served at
   * once), the swap it waited on finishing, shutdown, an unload of its model, or a drain of the
   * queue it sat in (served, or refused because its model went into backoff meanwhile).
   */
  private checkCause(
    r: WorldReq,
    e: Extract<Effect, { type: 'grantServe' | 'grantError' }>,
    ctx: StepContext,
    doneWaiters: ReadonlySet<string>,
    preQueued: ReadonlySet<string>,
    unloadSet: ReadonlySet<string> | null,
  ): void {
    const code = e.type === 'grantServe' ? 'served' : e.error.code;
    const retry = e.type === 'grantError' ? e.error.retryAfterMs : undefined;
    const what = `${e.reqId} (${r.model}) answered ${code}`;
    if (ctx.requested?.reqId === r.reqId) {
      if (code !== 'served') this.fail(`${what} right after its admission`);
      return;
    }
    const done = ctx.doneSwap;
    if (done && doneWaiters.has(r.reqId)) {
      const want = done.error === undefined ? 'served' : done.retryAfterMs !== undefined ? 'BACKING_OFF' : 'SWAP_FAILED';
      if (code !== want) this.fail(`${what} as a waiter of ${done.swap.swapId}, expected ${want}`);
      if (want === 'BACKING_OFF') {
        if (retry !== done.retryAfterMs) this.fail(`${what} with retryAfterMs ${retry}, the done event said ${done.retryAfterMs}`);
        this.stats.backoffSwapFailed++;
      }
      if (want === 'SWAP_FAILED' && e.type === 'grantError' && e.error.message !== done.error) this.fail(`${what}: message ${e.error.message}`);
      return;
    }
    if (ctx.shutdown) {
      if (code !== 'SHUTTING_DOWN') this.fail(`${what} at shutdown`);
      return;
    }
    if (unloadSet?.has(r.model)) {
      if (code !== 'MODEL_UNLOADED') this.fail(`${what} by an unload of its model`);
      return;
    }
    if (ctx.drains && preQueued.has(r.reqId)) {
      if (code === 'served') return;
      const b = this.backoff[r.model];
      if (code === 'BACKING_OFF' && b && retry === b.retryAfterMs) {
        this.stats.backoffDrained++;
        return;
      }
      this.fail(`${what} when the queue drained (backoff ${JSON.stringify(b)})`);
    }
    this.fail(`${what}: nothing in this step answers it`);
  }

  /** A request's single answer. */
  private answer(reqId: string, status: 'granted' | 'errored'): WorldReq {
    const r = this.reqs.get(reqId);
    if (!r) this.fail(`answer for unknown or rejected request ${reqId}`);
    if (r.status === 'cancelled') this.fail(`${reqId} answered (${status}) after its cancel`);
    if (r.status !== 'pending') this.fail(`${reqId} answered (${status}) but it is ${r.status}`);
    r.status = status;
    r.answers++;
    return r;
  }

  /**
   * A model becoming committed (a swap to it starts, or it is granted without one) must not be
   * one whose load would evict a model that is already committed. For two members of one
   * swap group this is "never both"; across groups it allows llama-swap's quirk (a
   * non-exclusive group's load beside an exclusive group's model).
   */
  private checkNewcomer(model: string, committed: Set<string>, why: string): void {
    for (const x of committed) {
      if (x !== model && this.swapper(model, [x]).includes(x)) {
        this.fail(`${why}: ${model} becomes committed while ${x} is (loading ${model} evicts ${x})`);
      }
    }
  }

  /** Invariants on the core's state after every step. */
  private checkState(stepCommitted: Set<string> | null): void {
    const s = this.s;
    const reqs = [...this.reqs.values()];

    for (const [name, rec] of [
      ['reserved', s.reserved],
      ['inFlight', s.inFlight],
    ] as const) {
      for (const [m, v] of Object.entries(rec)) {
        if (!(v > 0) || !Number.isInteger(v)) this.fail(`${name}[${m}] = ${v}`);
        if (this.limit[m] === undefined) this.fail(`${name} has unknown model ${m}`);
      }
    }
    for (const m of this.ids) {
      const reserved = s.reserved[m] ?? 0;
      const inFlight = s.inFlight[m] ?? 0;
      if (reserved > (this.limit[m] ?? 0)) this.fail(`reserved[${m}] = ${reserved} > limit ${this.limit[m]}`);
      if (inFlight > reserved) this.fail(`inFlight[${m}] = ${inFlight} > reserved ${reserved}`);
      const held = reqs.filter((r) => r.model === m && (r.status === 'pending' || r.status === 'granted')).length;
      const granted = reqs.filter((r) => r.model === m && r.status === 'granted').length;
      if (reserved !== held) this.fail(`reserved[${m}] = ${reserved}, world holds ${held} admitted unfinished`);
      if (inFlight !== granted) this.fail(`inFlight[${m}] = ${inFlight}, world has ${granted} granted unfinished`);
    }

    // Queue order: priority descending, arrival order within a priority.
    for (let i = 1; i < s.queue.length; i++) {
      const a = this.reqs.get(s.queue[i - 1]?.reqId ?? '');
      const b = this.reqs.get(s.queue[i]?.reqId ?? '');
      if (!a || !b) this.fail('queue holds an unknown request');
      const pa = this.priority[a.model] ?? 0;
      const pb = this.priority[b.model] ?? 0;
      if (pa < pb || (pa === pb && a.arrival > b.arrival)) this.fail(`queue out of order: ${a.reqId}(p${pa}) before ${b.reqId}(p${pb})`);
    }

    // Every pending request sits in exactly one place (queue or one swap's waiters), nothing else does.
    const seen = new Map<string, number>();
    for (const r of [...s.queue, ...s.active.flatMap((sw) => sw.waiters)]) seen.set(r.reqId, (seen.get(r.reqId) ?? 0) + 1);
    for (const [id, n] of seen) {
      if (this.reqs.get(id)?.status !== 'pending') this.fail(`${id} (${this.reqs.get(id)?.status}) is still queued or waiting`);
      if (n !== 1) this.fail(`${id} is queued or waiting ${n} times`);
    }
    for (const r of reqs) if (r.status === 'pending' && !seen.has(r.reqId)) this.fail(`pending ${r.reqId} is neither queued nor waiting (lost)`);
    // A queued request waits for a running swap or for in-flight requests to finish; with
    // neither, nothing will ever drain the queue.
    if (s.queue.length > 0 && this.active.length === 0 && Object.keys(s.inFlight).length === 0) {
      this.fail(`queue [${s.queue.map((r) => r.reqId)}] waits for nothing`);
    }
    if (this.shut && (s.queue.length > 0 || s.active.some((sw) => sw.waiters.length > 0))) this.fail('requests wait after shutdown');

    // The core's running swaps are exactly the world's: none forgotten while its actor runs.
    const coreSwaps = s.active.map((sw) => sw.swapId);
    const worldSwaps = this.active.map((sw) => sw.swapId);
    if (!sameList(coreSwaps, worldSwaps)) this.fail(`core swaps [${coreSwaps}] vs running actors [${worldSwaps}]`);
    for (const sw of s.active) {
      const w = this.active.find((a) => a.swapId === sw.swapId);
      if (sw.target !== w?.target || !sameList(sw.evict, w.evict)) this.fail(`core swap ${sw.swapId} differs from its startSwap`);
      // Cancelled (target unloaded) and aborted loads are never joined; waiters wait for their own model.
      if (sw.cancelled !== w.cancelled) this.fail(`core swap ${sw.swapId} cancelled=${sw.cancelled}, world says ${w.cancelled}`);
      if (w.cancelled && sw.waiters.length > 0) this.fail(`cancelled ${sw.swapId} has waiters ${sw.waiters.map((r) => r.reqId)}`);
      for (const r of sw.waiters) if (r.model !== sw.target) this.fail(`${r.reqId} (${r.model}) waits on ${sw.swapId}`);
      if (sw.abandonSeq !== w.abandonSeq) this.fail(`core swap ${sw.swapId} abandonSeq ${sw.abandonSeq}, last swapAbandoned ${w.abandonSeq}`);
      if (sw.target !== null && this.backoff[sw.target]) this.fail(`${sw.swapId} runs for ${sw.target}, which is backing off`);
    }

    // runningSet: resident processes plus running swap targets.
    for (const exclude of ['', ...this.ids]) {
      const want = new Set(this.ids.filter((m) => this.proc[m] !== 'stopped'));
      for (const sw of this.active) if (sw.target !== null && sw.target !== exclude) want.add(sw.target);
      const got = runningSet(s, exclude);
      if (!sameList(got, [...want].sort())) this.fail(`runningSet(${exclude}) = [${got}], expected [${[...want].sort()}]`);
    }

    // No swap group ever has two committed members.
    const committed = this.committed();
    if (stepCommitted) {
      for (const m of committed) if (!stepCommitted.has(m)) this.fail(`${m} became committed without an effect`);
    }
    for (const members of this.swapGroups) {
      const both = members.filter((m) => committed.has(m));
      if (both.length > 1) this.fail(`swap group {${members}} has ${both.length} committed members: ${both}`);
    }
  }
}
