/**
 * The FIFO scheduler's decision tree, as pure functions: (state, event) -> (state, effects).
 *
 * This is llama-swap's `internal/router/scheduler/fifo.go` rethought for an actor: the
 * scheduler machine holds a {@link FifoState} in its context, calls one of the `on*`
 * functions per event and turns the returned {@link Effect}s into named actions. Nothing
 * here does I/O, reads a clock or keeps a reference to anything outside the state, so every
 * decision is reproducible in a unit test.
 *
 * The request path, in llama-swap's order (reference section 6):
 *  1. unknown model                        -> admit error MODEL_NOT_FOUND
 *     backing off after failed starts       -> admit error BACKING_OFF (swapstate only)
 *  2. reserved(model) >= concurrencyLimit   -> admit error CONCURRENCY_LIMIT
 *  3. a swap to the same model is running   -> join its waiters (one load serves all)
 *  4. ready, nothing to evict, not evicted  -> grant at once (fast path)
 *  5. collides with a running swap          -> queue
 *  6. would evict a model that is serving   -> queue (swaps never kill busy models)
 *  7. otherwise                             -> start a swap, in parallel with disjoint ones
 */
import { queuePositions, type Effect, type Req, type RetireKind, type SchedError, type Swapper } from './effects.ts';

/** Per-model scheduling policy from the config. */
export interface ModelPolicy {
  /** `concurrencyLimit`: admitted-and-unfinished requests allowed at once (default 10). */
  limit: number;
  /** `routing.scheduler.settings.fifo.priority`: higher is served first among queued. */
  priority: number;
}

/** The scheduler's advisory copy of a process's tags (machines/process.protocol.ts). */
export interface ProcMirror {
  resident: boolean;
  serving: boolean;
  halted: boolean;
  /** Set while the process refuses starts after repeated failures (crash-loop protection). */
  backoff?: { error: string; retryAfterMs: number } | null;
  /** Not resident, but its process lives (asleep): an unload of every model stops it too. */
  resting?: boolean;
}

/** A swap actor that has been started and has not reported done yet. */
export interface ActiveSwap {
  swapId: string;
  /** The model being made ready; `null` for an unload. */
  target: string | null;
  evict: string[];
  /** Admitted requests waiting for this swap's result. */
  waiters: Req[];
  /**
   * An unload took this swap's target away: its waiters have been answered, but the swap
   * actor is still running, so it keeps blocking colliding swaps until it reports done.
   * (llama-swap forgets such a swap at once, letting a new swap race the old one.)
   */
  cancelled: boolean;
  /** For an unload: the caller's id, echoed in the `unloaded` effect. */
  ticket: string | null;
  /** Bumped each time the swap loses its last waiter, so a stale abandon check is ignored. */
  abandonSeq: number;
}

export interface FifoState {
  models: Record<string, ModelPolicy>;
  procs: Record<string, ProcMirror>;
  /** Running swaps, in start order. */
  active: ActiveSwap[];
  /** Admitted and not yet finished (queued + waiting + serving), per model. */
  reserved: Record<string, number>;
  /** Granted and not yet SERVE_DONE, per model. */
  inFlight: Record<string, number>;
  /** Priority order, arrival order within a priority. */
  queue: Req[];
  /** Sequence for unique swap ids (an actor system id may never be reused while alive). */
  seq: number;
  shuttingDown: boolean;
  /**
   * Models a reload stops once idle (see onReconfigure), with the unload swap that stops
   * them once it has begun. Absent until the first reload.
   */
  retiring?: Record<string, Retiring>;
}

export interface Retiring {
  kind: RetireKind;
  /** The unload swap stopping the model, once started. */
  swapId: string | null;
}

export const DEFAULT_CONCURRENCY_LIMIT = 10;

/** The result of every transition function. */
export interface Step {
  state: FifoState;
  effects: Effect[];
}

/** Fresh scheduler state for the configured models; every process starts stopped. */
export function initialFifoState(
  models: Record<string, { concurrencyLimit?: number | undefined; priority?: number | undefined }>,
): FifoState {
  const policies: Record<string, ModelPolicy> = {};
  const procs: Record<string, ProcMirror> = {};
  for (const [id, m] of Object.entries(models)) {
    const limit = m.concurrencyLimit && m.concurrencyLimit > 0 ? m.concurrencyLimit : DEFAULT_CONCURRENCY_LIMIT;
    policies[id] = { limit, priority: m.priority ?? 0 };
    procs[id] = { resident: false, serving: false, halted: false };
  }
  return { models: policies, procs, active: [], reserved: {}, inFlight: {}, queue: [], seq: 0, shuttingDown: false };
}

/** Why a request cannot be granted right now, or what to do with it. */
export type Decision =
  | { kind: 'join'; swapId: string }
  | { kind: 'fast' }
  | { kind: 'collide'; swapId: string }
  | { kind: 'busy'; model: string; inFlight: number }
  /** A reload stops the model's process once idle; the request waits for its successor. */
  | { kind: 'retiring'; retire: RetireKind }
  | { kind: 'swap'; evict: string[]; running: string[] };

/**
 * Steps 3-7 of the decision tree for an admitted request. Pure: exported so that the
 * scheduler machine's guards and the "why is it waiting" API can show the branch taken.
 */
export function classify(s: FifoState, model: string, swapper: Swapper): Decision {
  const retiring = s.retiring?.[model];
  if (retiring && retiring.kind !== 'remove') return { kind: 'retiring', retire: retiring.kind };
  const own = s.active.find((sw) => sw.target === model);
  if (own && !own.cancelled) return { kind: 'join', swapId: own.swapId };

  const running = runningSet(s, model);
  const evict = swapper(model, running);
  const collision = own ?? collidingSwap(s, model, evict);
  if (s.procs[model]?.serving && evict.length === 0 && !collision) return { kind: 'fast' };
  if (collision) return { kind: 'collide', swapId: collision.swapId };
  const busy = evict.find((m) => (s.inFlight[m] ?? 0) > 0);
  if (busy !== undefined) return { kind: 'busy', model: busy, inFlight: s.inFlight[busy] ?? 0 };
  return { kind: 'swap', evict, running };
}

/** A new request: admission, then the decision tree. */
export function onRequest(state: FifoState, req: Req, swapper: Swapper): Step {
  const d = new Draft(state);
  const policy = d.s.models[req.model];
  if (!policy) {
    d.emit({ type: 'admit', reqId: req.reqId, model: req.model, error: errors.notFound() });
  } else if (d.s.shuttingDown) {
    d.emit({ type: 'admit', reqId: req.reqId, model: req.model, error: errors.shuttingDown() });
  } else if (d.s.procs[req.model]?.backoff) {
    // Refused before admission: no slot is taken, and nothing is evicted for a start that
    // would be refused anyway.
    d.emit({ type: 'admit', reqId: req.reqId, model: req.model, error: errors.backingOff(req.model, d.s.procs[req.model]!.backoff!) });
  } else if ((d.s.reserved[req.model] ?? 0) >= policy.limit) {
    d.emit({ type: 'admit', reqId: req.reqId, model: req.model, error: errors.overLimit() });
  } else {
    d.s.reserved[req.model] = (d.s.reserved[req.model] ?? 0) + 1;
    d.emit({ type: 'admit', reqId: req.reqId, model: req.model });
    if (!d.route(req, swapper)) d.enqueue(req);
    d.emitPositionsIfChanged();
  }
  return d.done();
}

/**
 * The client went away before it was granted: drop it from the queue and from swap waiters
 * and free its reservation. A swap it started keeps running (its model stays loaded);
 * cancelling a request that was already granted is a no-op (SERVE_DONE will follow).
 */
export function onCancel(state: FifoState, reqId: string): Step {
  const d = new Draft(state);
  const inQueue = d.s.queue.find((r) => r.reqId === reqId);
  if (inQueue) {
    d.s.queue = d.s.queue.filter((r) => r.reqId !== reqId);
    d.release(inQueue.model);
  }
  d.s.active = d.s.active.map((sw) => {
    const waiter = sw.waiters.find((r) => r.reqId === reqId);
    if (!waiter) return sw;
    d.release(waiter.model);
    const waiters = sw.waiters.filter((r) => r.reqId !== reqId);
    if (waiters.length > 0 || sw.cancelled) return { ...sw, waiters };
    // The last client of this start has gone: it may be abandoned after a grace.
    const abandonSeq = sw.abandonSeq + 1;
    d.emit({ type: 'swapAbandoned', swapId: sw.swapId, seq: abandonSeq });
    return { ...sw, waiters, abandonSeq };
  });
  d.emitPositionsIfChanged();
  return d.done();
}

/**
 * The grace after a swap lost its last waiter is over. If still nobody waits, the start is
 * aborted instead of loading a model nobody wants while others queue behind it (llama-swap
 * #727 lets it finish). The swap keeps blocking collisions until it reports done.
 */
export function onAbandonCheck(state: FifoState, swapId: string, seq: number): Step {
  const d = new Draft(state);
  const sw = d.s.active.find((a) => a.swapId === swapId);
  if (!sw || sw.target === null || sw.cancelled || sw.waiters.length > 0 || sw.abandonSeq !== seq) return d.done();
  d.s.active = d.s.active.map((a) => (a === sw ? { ...a, cancelled: true } : a));
  d.emit({
    type: 'abortSwap',
    swapId,
    target: sw.target,
    reason: `load of ${sw.target} abandoned: every client waiting for it has gone`,
  });
  return d.done();
}

/** A swap actor finished: answer its waiters, forget it, re-drain the queue. */
export function onSwapDone(
  state: FifoState,
  done: { swapId: string; error?: string | undefined; retryAfterMs?: number | undefined; retriedAfterEvicting?: string[] | undefined },
  swapper: Swapper,
): Step {
  const d = new Draft(state);
  const sw = d.s.active.find((a) => a.swapId === done.swapId);
  if (!sw) return d.done();
  d.s.active = d.s.active.filter((a) => a !== sw);
  const retired = Object.entries(d.s.retiring ?? {}).find(([, r]) => r.swapId === sw.swapId)?.[0];
  if (retired !== undefined) d.retire(retired);
  if (sw.target === null) {
    d.emit({
      type: 'unloaded',
      swapId: sw.swapId,
      ticket: sw.ticket,
      targets: sw.evict,
      ...(done.error ? { error: done.error } : {}),
    });
  } else {
    const target = sw.target;
    const failure =
      done.error === undefined
        ? null
        : done.retryAfterMs !== undefined
          ? errors.backingOff(target, { error: done.error, retryAfterMs: done.retryAfterMs })
          : errors.swapFailed(done.error, done.retriedAfterEvicting);
    for (const w of sw.waiters) {
      if (failure) d.fail(w, failure);
      else d.grant(w, target);
    }
  }
  d.startRetirements();
  d.drain(swapper);
  return d.done();
}

/** A granted request finished (or its client left after the grant). */
export function onServeDone(state: FifoState, model: string, swapper: Swapper): Step {
  const d = new Draft(state);
  const left = (d.s.inFlight[model] ?? 0) - 1;
  if (left > 0) d.s.inFlight[model] = left;
  else delete d.s.inFlight[model];
  d.release(model);
  if (left <= 0) {
    d.startRetirements();
    d.drain(swapper);
  }
  return d.done();
}

/** What a reload changes for the core (src/core/reload-plan.ts decided it). */
export interface Reconfiguration {
  /** Every model of the new config, with its policy. */
  models: Record<string, { concurrencyLimit?: number | undefined; priority?: number | undefined }>;
  /** Models to stop once idle, and why. */
  retire: Record<string, RetireKind>;
}

/**
 * A reload: the new config's models and policies apply at once, and every model to retire is
 * stopped as soon as nothing is in flight to it and no swap touches it. Until then its own
 * requests keep being served; new ones queue (a replaced model's are served by its new
 * process) or, for a removed model, get the unknown-model error, as any unknown model does.
 * Models of the new config that have no process yet start stopped. `swapper` is the new one.
 */
export function onReconfigure(state: FifoState, change: Reconfiguration, swapper: Swapper): Step {
  const d = new Draft(state);
  const fresh = initialFifoState(change.models);
  d.s.models = fresh.models;
  const procs = { ...d.s.procs };
  for (const id of Object.keys(fresh.procs)) procs[id] ??= fresh.procs[id]!;
  d.s.procs = procs;
  const retiring = { ...d.s.retiring };
  for (const [model, kind] of Object.entries(change.retire)) {
    if (!procs[model]) continue;
    const was = retiring[model];
    // A stop already under way goes on; what follows it is the latest reload's say.
    retiring[model] = { kind, swapId: was?.swapId ?? null };
  }
  // A model an earlier reload was retiring that this one leaves alone (its running process is
  // what this config describes again): not stopped after all, unless its stop has begun;
  // then it is started again from this config.
  for (const [model, r] of Object.entries(retiring)) {
    if (model in change.retire) continue;
    if (r.swapId === null) delete retiring[model];
    else retiring[model] = { ...r, kind: fresh.models[model] ? 'replace' : 'remove' };
  }
  d.s.retiring = retiring;
  // A replaced model still loading would serve its waiters from the old config's process:
  // they go back to the queue and the start is abandoned, so the new process serves them.
  for (const [model, kind] of Object.entries(change.retire)) if (kind === 'replace') d.requeueLoading(model);
  d.startRetirements();
  d.drain(swapper);
  return d.done();
}

/**
 * Unload `targets` (all resident or resting models when omitted): error the waiters and queued requests
 * of those models, then start an unload swap (no target) that stops them. The unload never
 * blocks the scheduler; while it runs it collides with every swap touching its targets.
 * In-flight requests of a target are not waited for, as in llama-swap.
 */
export function onUnload(
  state: FifoState,
  targets: readonly string[] | undefined,
  swapper: Swapper,
  ticket: string | null = null,
): Step {
  const d = new Draft(state);
  const set = new Set(targets ?? Object.keys(d.s.procs).filter((m) => d.s.procs[m]?.resident || d.s.procs[m]?.resting));
  for (const m of d.s.active.map((sw) => sw.target)) if (targets === undefined && m !== null) set.add(m);
  const unloaded = errors.unloaded();
  d.s.active = d.s.active.map((sw) => {
    if (sw.target === null || !set.has(sw.target)) return sw;
    for (const w of sw.waiters) d.fail(w, unloaded);
    // The swap must not go on to start its target after the unload has answered: a swap
    // still evicting would otherwise load the model once the unload found it stopped.
    if (!sw.cancelled) d.emit({ type: 'abortSwap', swapId: sw.swapId, target: sw.target, reason: `${sw.target} unloaded` });
    return { ...sw, waiters: [], cancelled: true };
  });
  const keep: Req[] = [];
  for (const r of d.s.queue) {
    if (set.has(r.model)) d.fail(r, unloaded);
    else keep.push(r);
  }
  d.s.queue = keep;
  d.startSwap(null, [...set].sort(), [], [], ticket);
  d.drain(swapper);
  return d.done();
}

/** Shutdown: every waiter and queued request fails; later requests are refused at admission. */
export function onShutdown(state: FifoState): Step {
  const d = new Draft(state);
  d.s.shuttingDown = true;
  const err = errors.shuttingDown();
  d.s.active = d.s.active.map((sw) => {
    for (const w of sw.waiters) d.fail(w, err);
    return { ...sw, waiters: [] };
  });
  for (const r of d.s.queue) d.fail(r, err);
  d.s.queue = [];
  d.emitPositionsIfChanged();
  return d.done();
}

/** A process's tags changed. The mirror is advisory: it picks branches, never gates a start. */
export function onProcessChange(state: FifoState, model: string, mirror: ProcMirror): FifoState {
  const old = state.procs[model];
  if (
    old &&
    old.resident === mirror.resident &&
    old.serving === mirror.serving &&
    old.halted === mirror.halted &&
    old.resting === mirror.resting &&
    old.backoff?.error === mirror.backoff?.error &&
    old.backoff?.retryAfterMs === mirror.backoff?.retryAfterMs
  ) {
    return state;
  }
  return { ...state, procs: { ...state.procs, [model]: mirror } };
}

/**
 * The models the swapper must consider running: resident processes (starting, ready and
 * stopping included) plus targets of running swaps other than `exclude`, sorted so eviction
 * decisions are deterministic.
 */
export function runningSet(s: FifoState, exclude: string): string[] {
  const out = new Set<string>();
  for (const [id, p] of Object.entries(s.procs)) if (p.resident) out.add(id);
  for (const sw of s.active) if (sw.target !== null && sw.target !== exclude) out.add(sw.target);
  return [...out].sort();
}

/**
 * The running swap a new swap (target, evict) cannot run beside: one whose target it would
 * evict, one that evicts it, or one whose evict set overlaps. Same-target swaps were joined
 * before this is asked.
 */
function collidingSwap(s: FifoState, target: string, evict: readonly string[]): ActiveSwap | undefined {
  return s.active.find(
    (sw) =>
      sw.target !== target &&
      ((sw.target !== null && evict.includes(sw.target)) ||
        sw.evict.includes(target) ||
        sw.evict.some((m) => evict.includes(m))),
  );
}

/** The core's refusals: codes and facts only (see SchedError); the HTTP catalogue words them. */
const errors = {
  notFound: (): SchedError => ({ code: 'MODEL_NOT_FOUND' }),
  overLimit: (): SchedError => ({ code: 'CONCURRENCY_LIMIT' }),
  swapFailed: (why: string, retriedAfterEvicting?: string[]): SchedError => ({
    code: 'SWAP_FAILED',
    message: why,
    ...(retriedAfterEvicting && retriedAfterEvicting.length > 0 ? { retriedAfterEvicting: [...retriedAfterEvicting] } : {}),
  }),
  unloaded: (): SchedError => ({ code: 'MODEL_UNLOADED' }),
  shuttingDown: (): SchedError => ({ code: 'SHUTTING_DOWN' }),
  backingOff: (model: string, b: { error: string; retryAfterMs: number }): SchedError => ({
    code: 'BACKING_OFF',
    model,
    message: b.error,
    retryAfterMs: b.retryAfterMs,
  }),
};

/**
 * A copy-on-write working copy of the state plus the effects produced so far. Only the
 * containers a step touches are copied, so a step costs O(queue) at worst.
 */
class Draft {
  readonly s: FifoState;
  private readonly effects: Effect[] = [];
  private readonly queueBefore: readonly Req[];
  /** The state's list of swaps, shared with it: never changed in place. */
  private readonly activeBefore: readonly ActiveSwap[];
  /** Swaps this step made (copies or new): not in any earlier state, so changed in place. */
  private ownSwaps: Set<ActiveSwap> | null = null;

  constructor(state: FifoState) {
    this.s = { ...state, reserved: { ...state.reserved }, inFlight: { ...state.inFlight } };
    this.queueBefore = state.queue;
    this.activeBefore = state.active;
  }

  emit(e: Effect): void {
    this.effects.push(e);
  }

  done(): Step {
    return { state: this.s, effects: this.effects };
  }

  /** Steps 3-7 for an admitted request; false when it must (stay) queued. */
  route(req: Req, swapper: Swapper): boolean {
    const d = classify(this.s, req.model, swapper);
    switch (d.kind) {
      case 'join':
        this.join(d.swapId, req);
        return true;
      case 'fast':
        this.grant(req, req.model);
        return true;
      case 'collide':
      case 'busy':
      case 'retiring':
        return false;
      case 'swap':
        this.startSwap(req.model, d.evict, d.running, [req]);
        return true;
    }
  }

  /**
   * Adds `req` to the waiters of swap `swapId`. The swap (and the list of swaps) is copied
   * the first time this step changes it, then extended in place: a drain that joins hundreds
   * of queued requests to one swap costs O(n), not O(n²).
   */
  private join(swapId: string, req: Req): void {
    const i = this.s.active.findIndex((sw) => sw.swapId === swapId);
    let sw = this.s.active[i]!;
    if (!this.ownSwaps?.has(sw)) {
      if (this.s.active === this.activeBefore) this.s.active = [...this.s.active];
      sw = { ...sw, waiters: [...sw.waiters] };
      this.s.active[i] = sw;
      (this.ownSwaps ??= new Set()).add(sw);
    }
    sw.waiters.push(req);
  }

  startSwap(target: string | null, evict: string[], running: string[], waiters: Req[], ticket: string | null = null, retire = false): void {
    this.s.seq += 1;
    const swapId = target === null ? `unload#${this.s.seq}` : `swap:${target}#${this.s.seq}`;
    this.s.active = [...this.s.active, { swapId, target, evict, waiters, cancelled: false, ticket, abandonSeq: 0 }];
    this.emit({ type: 'startSwap', swapId, target, evict, running, ...(retire ? { retire } : {}) });
  }

  /**
   * The start of `model` under way (a reload replaced its config): its waiters go back to the
   * queue, ahead of the requests of their priority that came after them, and the swap is
   * aborted. Like an unloaded swap, it keeps blocking collisions until it reports done.
   */
  requeueLoading(model: string): void {
    const sw = this.s.active.find((a) => a.target === model && !a.cancelled);
    if (!sw) return;
    this.s.active = this.s.active.map((a) => (a === sw ? { ...a, waiters: [], cancelled: true } : a));
    this.emit({ type: 'abortSwap', swapId: sw.swapId, target: model, reason: `${model} was replaced by a reload while it loaded` });
    const p = this.s.models[model]?.priority ?? 0;
    const q = [...this.s.queue];
    const at = q.findIndex((r) => (this.s.models[r.model]?.priority ?? 0) <= p);
    q.splice(at === -1 ? q.length : at, 0, ...sw.waiters);
    this.s.queue = q; // the drain that follows reports the positions
  }

  /** Insert before the first queued request of strictly lower priority (FIFO within one). */
  enqueue(req: Req): void {
    const p = this.s.models[req.model]?.priority ?? 0;
    const q = [...this.s.queue];
    // The queue is in priority order: when its last request's priority is not lower, the new
    // one goes last, found in O(1) (a burst queues thousands, each searched the whole queue).
    const last = q[q.length - 1];
    const at =
      last === undefined || (this.s.models[last.model]?.priority ?? 0) >= p
        ? -1
        : q.findIndex((r) => (this.s.models[r.model]?.priority ?? 0) < p);
    q.splice(at === -1 ? q.length : at, 0, req);
    this.s.queue = q;
  }

  /**
   * Starts stopping every retiring model that nothing is in flight to and no swap touches:
   * one that runs (or sleeps) gets an unload swap of its own, which stops it with its
   * `unloadTimeout`; one that does not is retired at once.
   */
  startRetirements(): void {
    if (this.s.shuttingDown || !this.s.retiring) return;
    for (const [model, r] of Object.entries(this.s.retiring)) {
      if (r.swapId !== null || (this.s.inFlight[model] ?? 0) > 0) continue;
      if (this.s.active.some((sw) => sw.target === model || sw.evict.includes(model))) continue;
      const p = this.s.procs[model];
      if (p?.resident || p?.resting) {
        this.startSwap(null, [model], [], [], null, true);
        const swapId = this.s.active[this.s.active.length - 1]!.swapId;
        this.s.retiring = { ...this.s.retiring, [model]: { ...r, swapId } };
      } else {
        this.retire(model);
      }
    }
  }

  /** A retiring model is stopped: its process is replaced (or dropped), and the reload is done with it. */
  retire(model: string): void {
    const r = this.s.retiring?.[model];
    if (!r) return;
    const { [model]: _, ...rest } = this.s.retiring!;
    this.s.retiring = rest;
    // Shutting down: the old process has been told to halt, and halts; nothing replaces it.
    if (this.s.shuttingDown) return;
    if (r.kind === 'remove') {
      const { [model]: _gone, ...procs } = this.s.procs;
      this.s.procs = procs;
    } else if (r.kind === 'replace') {
      this.s.procs = { ...this.s.procs, [model]: { resident: false, serving: false, halted: false } };
    }
    this.emit({ type: 'retired', model, kind: r.kind });
  }

  /** Re-run the decision tree over the queue in order; blocked requests keep their place. */
  drain(swapper: Swapper): void {
    if (this.s.queue.length > 0) {
      const pending = this.s.queue;
      this.s.queue = [];
      const remaining: Req[] = [];
      for (const req of pending) {
        const backoff = this.s.procs[req.model]?.backoff;
        if (!this.s.models[req.model]) this.fail(req, errors.notFound());
        else if (backoff) this.fail(req, errors.backingOff(req.model, backoff));
        else if (!this.route(req, swapper)) remaining.push(req);
      }
      this.s.queue = remaining;
    }
    this.emitPositionsIfChanged();
  }

  grant(req: Req, model: string): void {
    this.s.inFlight[model] = (this.s.inFlight[model] ?? 0) + 1;
    this.emit({ type: 'grantServe', reqId: req.reqId, model });
  }

  /** Answer an admitted request with an error and free its reservation. */
  fail(req: Req, error: SchedError): void {
    this.release(req.model);
    this.emit({ type: 'grantError', reqId: req.reqId, model: req.model, error });
  }

  release(model: string): void {
    const left = (this.s.reserved[model] ?? 0) - 1;
    if (left > 0) this.s.reserved[model] = left;
    else delete this.s.reserved[model];
  }

  emitPositionsIfChanged(): void {
    const q = this.s.queue;
    const before = this.queueBefore;
    if (q === before || (q.length === before.length && q.every((r, i) => r === before[i]))) return;
    this.emit(queuePositions(q));
  }
}
