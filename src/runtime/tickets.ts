/**
 * Tickets: the bridge between callers that await (HTTP handlers, tests) and the scheduler
 * actor, which only sends and receives events.
 *
 * One ticket per request, keyed by `reqId`, holding deferreds for its admission and grant.
 * The scheduler's effect actions (`admit`, `grantServe`, ...) resolve them. No function,
 * socket or response object ever enters the machine's context.
 *
 * The exactly-one-SERVE_DONE rule: every grant is answered by exactly one SERVE_DONE. The
 * holder sends it through {@link Ticket.done}; when a grant reaches a ticket whose caller has
 * already gone, the registry sends it at once. So the scheduler's in-flight count can never
 * strand (llama-swap's `GrantServe` returning false, made structural).
 *
 * A grant carries where to send the request ({@link Upstream}): the HTTP side reads nothing
 * back from the config or the process actor on its way to the model.
 *
 * Grants reach their callers at most {@link GRANTS_PER_TURN} per turn of the event loop. A
 * swap that completes grants every request that waited for it (up to the model's
 * `concurrencyLimit`, 1000 in a burst) in one transition; handed over at once, all of their
 * forwards ran in one microtask run and held the event loop for 100 ms and more, stalling
 * every other stream. The scheduler's decision and counts are not touched: the requests are
 * granted (in flight) from its transition on; only their callers learn it a turn or so later.
 */
import type { SchedError } from '../core/effects.ts';
import type {
  AdmitParams,
  GrantErrorParams,
  GrantServeParams,
  QueuePositionsParams,
  SchedulerEvent,
  UnloadedParams,
} from '../../machines/scheduler.machine.ts';
import { TicketTable } from './ticket-table.ts';
import { immediate } from '../real-timers.ts';
import type { Upstream } from './upstreams.ts';

export type GrantResult = { ok: true; model: string; upstream: Upstream } | { ok: false; error: SchedError };

/** Where a request granted to `model` goes now; undefined when the model has no process. */
export type UpstreamOf = (model: string) => Upstream | undefined;

/** One request's view of the scheduler. */
export interface Ticket {
  readonly reqId: string;
  readonly model: string;
  /** Resolves with null when admitted, or with the reason it was refused (404, 429, ...). */
  readonly admission: Promise<SchedError | null>;
  /** Resolves when the request may be served, or has failed. Never rejects. */
  readonly grant: Promise<GrantResult>;
  /** 1-based queue position while queued, else null. */
  position(): number | null;
  /** Called with every new queue position. */
  onPosition(listener: (position: number) => void): void;
  /** The caller has gone before or after its grant; safe to call at any time, repeatedly. */
  cancel(): void;
  /** Serving has finished (the caller's `finally`); sends SERVE_DONE once. */
  done(): void;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

type Phase = 'pending' | 'granted' | 'finished';

/** How many grants are handed to their callers between two checks of the event loop. */
export const GRANTS_PER_TURN = 16;

/**
 * One open ticket: the caller's {@link Ticket} and the registry's record of it in one object,
 * whose methods call back into the registry (no closures per request: issue 16).
 */
class Entry implements Ticket {
  readonly admitted: Deferred<SchedError | null> = deferred();
  readonly granted: Deferred<GrantResult> = deferred();
  phase: Phase = 'pending';
  /** Set on a granted ticket whose caller left; pending ones are simply dropped. */
  cancelled = false;
  /** The position its listeners heard last. */
  told: number | null = null;
  /** Made on the first listener (a loading stream's). */
  listeners: Array<(position: number) => void> | null = null;
  /** The grant, kept until it is handed to the caller (Tickets.handOut). */
  grantedTo: GrantResult | null = null;
  /**
   * Granted at once, before the scheduler took its REQUEST (Tickets.open: the scheduler's own
   * step said it would grant it); cleared when the scheduler's grant confirms it.
   */
  early = false;
  /** The scheduler has taken its REQUEST (its admit action ran). */
  seen = false;

  constructor(
    readonly reqId: string,
    readonly model: string,
    private readonly registry: Tickets,
  ) {}

  get admission(): Promise<SchedError | null> {
    return this.admitted.promise;
  }

  get grant(): Promise<GrantResult> {
    return this.granted.promise;
  }

  position(): number | null {
    return this.phase === 'pending' && !this.cancelled ? this.registry.placeOf(this.reqId) : null;
  }

  onPosition(listener: (position: number) => void): void {
    (this.listeners ??= []).push(listener);
    if (this.phase === 'pending') this.registry.listen(this.reqId);
  }

  cancel(): void {
    this.registry.cancel(this.reqId);
  }

  done(): void {
    this.registry.finish(this.reqId);
  }

  /** Tells the caller its grant. */
  handOver(): void {
    // Its caller left while the grant was held: the slot has gone back already (cancel ->
    // SERVE_DONE); the caller, if it still listens, is told it was cancelled.
    if (this.cancelled) this.granted.resolve({ ok: false, error: { code: 'SWAP_FAILED', message: 'request cancelled' } });
    else this.granted.resolve(this.grantedTo!);
    this.grantedTo = null;
  }
}

/** The registry of open tickets and unloads. */
export class Tickets {
  private readonly entries = new TicketTable<Entry>();
  private readonly unloads = new Map<string, Deferred<UnloadedParams>>();
  private seq = 0;
  /** The queue as the scheduler reported it last (reqIds in order), and its index, built when asked. */
  private queue: ReadonlyArray<{ reqId: string }> = [];
  private places: Map<string, number> | null = null;
  /** Tickets with position listeners (a loading stream shows its place in the queue). */
  private readonly listening = new Set<string>();
  /**
   * Grants not yet handed to their callers (see GRANTS_PER_TURN), from `heldHead` on. A slot
   * is cleared as its grant is handed over: a burst's list lives long enough to reach the old
   * generation, and a dead entry there would keep its ticket from dying young (ticket-table.ts).
   */
  private held: Array<Entry | undefined> = [];
  private heldHead = 0;
  /** Grants handed over since the pacer last ran; it runs in the check phase of a turn. */
  private handed = 0;
  private pacing = false;
  private readonly paceTurn = (): void => {
    this.pacing = false;
    this.handed = 0;
    while (this.heldHead < this.held.length && this.handed < GRANTS_PER_TURN) {
      this.handed++;
      const e = this.held[this.heldHead]!;
      this.held[this.heldHead++] = undefined;
      e.handOver();
    }
    if (this.heldHead === this.held.length) {
      this.held = [];
      this.heldHead = 0;
    }
    if (this.heldHead < this.held.length || this.handed >= GRANTS_PER_TURN) this.pace();
  };
  /** Set once the scheduler has ended: nothing will answer a new ticket any more. */
  private closedWith: SchedError | null = null;
  /** Tickets granted early whose REQUEST the scheduler has not answered yet (see {@link settle}). */
  private early: Entry[] = [];

  /**
   * @param send delivers an event to the scheduler actor; `early` marks the REQUEST of a ticket
   *   granted here (its delivery may wait: ticket-batch.ts).
   * @param upstreamOf where a grant sends its request, asked at the moment of the grant.
   * @param grantsAtOnce whether the scheduler, taking this REQUEST next, grants it in the same
   *   step (its own core step on its current state: scheduler-runtime.ts). When it does, the
   *   ticket is granted now and the REQUEST still goes to the scheduler, which confirms it.
   * @param deliverWaiting delivers the events waiting to go to the scheduler now (an early
   *   REQUEST may wait for company: ticket-batch.ts).
   */
  constructor(
    private readonly send: (event: SchedulerEvent, early?: boolean) => void,
    private readonly upstreamOf: UpstreamOf,
    private readonly grantsAtOnce: (reqId: string, model: string) => boolean = () => false,
    private readonly deliverWaiting: () => void = () => {},
  ) {}

  /**
   * Opens a ticket and sends its REQUEST.
   *
   * A request to a ready model with a free slot, when no other ticket event waits for the
   * turn's end, is granted here (issue 16: the scheduler's turn took ~400 µs of a stream's
   * first chunk after an idle moment). Its REQUEST is the next event the scheduler takes from
   * the tickets, so the scheduler makes the same decision on the same state and its grant
   * confirms this one; `/api/state`, `/api/events` and the inspector see the same REQUEST,
   * grant and SERVE_DONE as before. {@link settle} handles the rare turn in which something
   * else reached the scheduler first and it decided otherwise.
   */
  open(model: string): Ticket {
    const entry = new Entry(`req-${++this.seq}`, model, this);
    if (this.closedWith) {
      entry.admitted.resolve(this.closedWith);
      entry.granted.resolve({ ok: false, error: this.closedWith });
      return entry;
    }
    this.entries.set(entry);
    const upstream = this.canHandNow() && this.grantsAtOnce(entry.reqId, model) ? this.upstreamOf(model) : undefined;
    this.send({ type: 'REQUEST', reqId: entry.reqId, model }, upstream !== undefined);
    if (upstream) {
      entry.early = true;
      entry.phase = 'granted';
      this.early.push(entry);
      entry.admitted.resolve(null);
      entry.grantedTo = { ok: true, model, upstream };
      this.handOut(entry);
    }
    return entry;
  }

  /**
   * After the scheduler took events: the early grants it answered otherwise. Refused (an
   * admit error): it counted nothing, and the entry is gone already. Admitted but not granted
   * at once (an event that reached it first changed its mind, e.g. the model's process
   * exited): the request is served already, so it leaves the scheduler's queue (CANCEL) and
   * its end sends nothing. One whose REQUEST the scheduler has not taken yet waits for the
   * next delivery.
   */
  settle(): void {
    if (this.early.length === 0) return;
    const early = this.early;
    this.early = [];
    for (const e of early) {
      if (!e.early || this.entries.get(e.reqId) !== e) continue;
      if (!e.seen) {
        this.early.push(e);
        continue;
      }
      e.early = false;
      this.entries.delete(e.reqId);
      this.send({ type: 'CANCEL', reqId: e.reqId });
    }
  }

  /** Tickets (and unloads) opened so far: it moves whenever a request arrives. */
  get opened(): number {
    return this.seq;
  }

  /** Requests with an open ticket: waiting, or granted and not finished. */
  get openCount(): number {
    return this.entries.size;
  }

  /** `reqId` has position listeners (Entry.onPosition). */
  listen(reqId: string): void {
    this.listening.add(reqId);
  }

  /**
   * The scheduler has ended: answer everything still open with `error` and every later
   * ticket at once, so no caller can wait on an actor that will never reply.
   */
  close(error: SchedError): void {
    this.closedWith = error;
    this.early = [];
    for (const e of this.entries.drain()) {
      e.admitted.resolve(error);
      e.granted.resolve({ ok: false, error });
    }
    for (const [ticket, d] of this.unloads) {
      this.unloads.delete(ticket);
      d.resolve({ ticket, targets: [], error: error.message ?? error.code });
    }
  }

  /** Asks the scheduler to unload `targets` (all when omitted); resolves once stopped. */
  unload(targets?: string[]): Promise<UnloadedParams> {
    const ticket = `unload-${++this.seq}`;
    const d = deferred<UnloadedParams>();
    if (this.closedWith) {
      d.resolve({ ticket, targets: [], error: this.closedWith.message ?? this.closedWith.code });
      return d.promise;
    }
    this.unloads.set(ticket, d);
    this.send({ type: 'UNLOAD', ticket, targets });
    return d.promise;
  }

  /** The scheduler actions that answer tickets, for `schedulerMachine.provide({ actions })`. */
  readonly actions = {
    admit: (_: unknown, p: AdmitParams): void => {
      const e = this.entries.get(p.reqId);
      if (!e) return;
      e.seen = true;
      e.admitted.resolve(p.error ?? null);
      if (p.error) {
        this.entries.delete(p.reqId);
        e.granted.resolve({ ok: false, error: p.error });
      }
    },
    grantServe: (_: unknown, p: GrantServeParams): void => {
      const e = this.entries.get(p.reqId);
      if (e?.early) {
        // The scheduler confirms an early grant (open). Its caller may have finished already
        // (finish kept the entry for this): the slot goes back now.
        e.early = false;
        if (e.phase === 'finished') {
          this.entries.delete(p.reqId);
          this.send({ type: 'SERVE_DONE', reqId: p.reqId, model: p.model });
        }
        return;
      }
      if (!e || e.cancelled) {
        // The caller left between its cancel and this grant: hand the slot straight back.
        this.entries.delete(p.reqId);
        this.send({ type: 'SERVE_DONE', reqId: p.reqId, model: p.model });
        return;
      }
      const upstream = this.upstreamOf(p.model);
      if (!upstream) {
        // Cannot happen (the scheduler grants only models it runs a process for), but if it
        // did, the request fails and its slot goes straight back.
        this.entries.delete(p.reqId);
        e.phase = 'finished';
        e.granted.resolve({ ok: false, error: { code: 'SWAP_FAILED', message: `no process for ${p.model}` } });
        this.send({ type: 'SERVE_DONE', reqId: p.reqId, model: p.model });
        return;
      }
      e.phase = 'granted';
      this.listening.delete(p.reqId);
      e.grantedTo = { ok: true, model: p.model, upstream };
      this.handOut(e);
    },
    grantError: (_: unknown, p: GrantErrorParams): void => {
      const e = this.entries.get(p.reqId);
      if (!e) return;
      this.entries.delete(p.reqId);
      e.phase = 'finished';
      e.granted.resolve({ ok: false, error: p.error });
    },
    queuePositions: (_: unknown, p: QueuePositionsParams): void => {
      // O(1) unless someone listens: a burst changes the queue at every request.
      this.queue = p.queue ?? p.positions;
      this.places = null;
      if (this.listening.size === 0) return;
      for (const reqId of this.listening) {
        const e = this.entries.get(reqId);
        if (!e || e.phase !== 'pending') {
          this.listening.delete(reqId);
          continue;
        }
        const position = this.placeOf(reqId);
        if (position === null || e.told === position) continue;
        e.told = position;
        for (const listener of e.listeners ?? []) {
          try {
            listener(position);
          } catch {
            /* a listener's failure is its own; the scheduler must not see it */
          }
        }
      }
    },
    unloaded: (_: unknown, p: UnloadedParams): void => {
      if (p.ticket === null) return;
      const d = this.unloads.get(p.ticket);
      this.unloads.delete(p.ticket);
      d?.resolve(p);
    },
  };

  /** 1-based place of `reqId` in the queue the scheduler reported last, or null. */
  placeOf(reqId: string): number | null {
    if (!this.places) {
      this.places = new Map();
      for (let i = 0; i < this.queue.length; i++) this.places.set(this.queue[i]!.reqId, i + 1);
    }
    return this.places.get(reqId) ?? null;
  }

  /** A grant made now would be handed to its caller now (none held, the turn's share not used). */
  private canHandNow(): boolean {
    return this.heldHead === this.held.length && this.handed < GRANTS_PER_TURN;
  }

  /** Hands a grant to its caller now, or in a later turn when this one has had its share. */
  private handOut(e: Entry): void {
    if (this.canHandNow()) {
      this.handed++;
      e.handOver();
      if (this.handed >= GRANTS_PER_TURN) this.pace();
      return;
    }
    this.held.push(e);
    this.pace();
  }

  private pace(): void {
    if (this.pacing) return;
    this.pacing = true;
    immediate(this.paceTurn);
  }

  cancel(reqId: string): void {
    const e = this.entries.get(reqId);
    if (!e || e.cancelled) return;
    e.cancelled = true;
    this.listening.delete(reqId);
    if (e.phase === 'pending') {
      // Not granted yet: the scheduler drops it from its queue or swap and frees its slot.
      // If a grant is already on its way, grantServe above answers it with SERVE_DONE.
      this.entries.delete(reqId);
      this.send({ type: 'CANCEL', reqId });
      e.granted.resolve({ ok: false, error: { code: 'SWAP_FAILED', message: 'request cancelled' } });
    } else if (e.phase === 'granted') {
      this.finish(reqId);
    }
  }

  finish(reqId: string): void {
    const e = this.entries.get(reqId);
    if (!e || e.phase !== 'granted') return;
    e.phase = 'finished';
    // Granted early and not confirmed yet: the scheduler has not counted it in flight, so its
    // SERVE_DONE waits for the grant (actions.grantServe). Its REQUEST may still wait for
    // company (ticket-batch.ts): the answer is out, so the scheduler's step holds nothing back
    // any more; it goes now, and the confirmation sends the SERVE_DONE. (Left to wait, it
    // kept the batch busy, and the client's next request missed its early grant.)
    if (e.early) {
      if (!e.seen) this.deliverWaiting();
      return;
    }
    this.entries.delete(reqId);
    this.send({ type: 'SERVE_DONE', reqId, model: e.model });
  }
}
