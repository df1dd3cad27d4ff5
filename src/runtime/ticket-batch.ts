/**
 * The tickets' events of one event-loop turn, delivered to the scheduler as one.
 *
 * Each event the scheduler actor takes costs a macrostep (a snapshot, transition sets, action
 * resolution: about 10 KB of garbage and ~10 µs) before the core has decided anything, and a
 * proxied request took two (REQUEST, SERVE_DONE). Under load, many requests arrive and many
 * answers end in one turn of the event loop (one poll phase hands over every readable
 * socket): their REQUESTs and SERVE_DONEs wait here until the turn's check phase
 * (setImmediate: no timer, no extra latency beyond the turn) and go as one TICKETS event,
 * which the scheduler handles exactly as the same events one by one (scheduler.machine.ts
 * `tickets`). Nothing is decided here: the scheduler stays the authority over every admission
 * and completion, and a lone event is sent as itself.
 *
 * A SERVE_DONE waits too: its response has been sent, so nobody waits on it but the model's
 * next swap or idle settle, which learn it at the turn's end. A CANCEL and every other event
 * are delivered at once, with the ticket events pending before them, in order: nothing
 * overtakes a request. The runtime flushes before it reads the scheduler's state
 * (`/api/state`) or sends its own events, so what it reads includes every completion.
 *
 * At a turn's end at most {@link TICKETS_PER_TURN} events go; the rest wait for the next
 * turn's check phase (an explicit flush still delivers all). A burst of 2000 connections hands
 * over hundreds of requests in one poll phase: their admission and routing in one event held
 * the event loop for tens of ms, and every stream of the other models with it.
 *
 * A lone REQUEST granted early (tickets.ts: the scheduler's own step said it grants it at
 * once, and the request is on its way to the upstream already) may wait longer: until its
 * request ends (tickets.ts `finish` flushes it), another ticket event's turn ends, or
 * {@link EARLY_WAIT_MS} pass, whichever comes first. At the turn's end its macrostep ran while
 * the upstream was answering, and a cold one (after a moment of idle, ~0.3 ms) held the
 * upstream's first chunk back by as much (issue 16; the streams of the bench's row 2b). The
 * runtime only lets a REQUEST wait when its model's process cannot leave `ready` on its own
 * meanwhile (scheduler-runtime.ts `mayWait`); every other event, a state read and a shutdown
 * flush it at once as before.
 */
import type { SchedulerEvent, TicketEvent } from '../../machines/scheduler.machine.ts';
import { immediate, timeout } from '../real-timers.ts';

/** The most ticket events one turn's end delivers (one TICKETS event). */
export const TICKETS_PER_TURN = 128;

/**
 * How long a lone early-granted REQUEST may wait for company. Longer than a cold upstream
 * takes to answer a request on this machine (0.5-1.5 ms), short enough that `/api/events`
 * and the inspector show the admission at once to a human.
 */
export const EARLY_WAIT_MS = 2;

export class TicketBatch {
  private pending: TicketEvent[] = [];
  private scheduled = false;
  /** How many of `pending` are early REQUESTs allowed to wait (see EARLY_WAIT_MS). */
  private waiting = 0;
  /** The wait's timer, made once and re-armed (no timer object per request). */
  private waitTimer: NodeJS.Timeout | null = null;
  private readonly onWaitEnd = (): void => {
    if (!this.scheduled) this.flush();
  };
  private readonly onTurnEnd = (): void => {
    this.scheduled = false;
    if (this.waiting > 0 && this.waiting === this.pending.length) {
      // Only early grants wait: they go with the next turn's events, or when the wait ends.
      if (this.waitTimer === null) this.waitTimer = timeout(this.onWaitEnd, EARLY_WAIT_MS).unref();
      else this.waitTimer.refresh();
      return;
    }
    if (this.pending.length <= TICKETS_PER_TURN) {
      this.flush();
      return;
    }
    const events = this.pending.slice(0, TICKETS_PER_TURN);
    this.pending = this.pending.slice(TICKETS_PER_TURN);
    this.waiting = 0;
    this.scheduled = true;
    immediate(this.onTurnEnd);
    this.deliver({ type: 'TICKETS', events });
  };

  /** @param deliver sends one event to the scheduler actor. */
  constructor(private readonly deliver: (event: SchedulerEvent) => void) {}

  /**
   * @param mayWait an early-granted REQUEST whose model's process cannot leave `ready` on its
   *   own meanwhile: it may wait for company (EARLY_WAIT_MS).
   */
  send(event: SchedulerEvent, mayWait = false): void {
    if (event.type === 'REQUEST' || event.type === 'SERVE_DONE') {
      if (mayWait && event.type === 'REQUEST') this.waiting++;
      this.pending.push(event);
      if (!this.scheduled) {
        this.scheduled = true;
        immediate(this.onTurnEnd);
      }
      return;
    }
    if (this.pending.length > 0 && event.type === 'CANCEL') {
      this.pending.push(event);
      this.flush();
      return;
    }
    this.flush();
    this.deliver(event);
  }

  /** Nothing waits: an event sent now is the next one the scheduler takes from here. */
  idle(): boolean {
    return this.pending.length === 0;
  }

  /** Delivers what waits now (as itself when it is one event). */
  flush(): void {
    const events = this.pending;
    if (events.length === 0) return;
    this.pending = [];
    this.waiting = 0;
    this.deliver(events.length === 1 ? events[0]! : { type: 'TICKETS', events });
  }
}
