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
 */
import type { SchedulerEvent, TicketEvent } from '../../machines/scheduler.machine.ts';

/**
 * The real setImmediate, taken at load: a test that fakes timers (vitest fakes setImmediate)
 * must not be able to hold requests back until it advances its clock.
 */
const immediate = globalThis.setImmediate;

/** The most ticket events one turn's end delivers (one TICKETS event). */
export const TICKETS_PER_TURN = 128;

export class TicketBatch {
  private pending: TicketEvent[] = [];
  private scheduled = false;
  private readonly onTurnEnd = (): void => {
    this.scheduled = false;
    if (this.pending.length <= TICKETS_PER_TURN) {
      this.flush();
      return;
    }
    const events = this.pending.slice(0, TICKETS_PER_TURN);
    this.pending = this.pending.slice(TICKETS_PER_TURN);
    this.scheduled = true;
    immediate(this.onTurnEnd);
    this.deliver({ type: 'TICKETS', events });
  };

  /** @param deliver sends one event to the scheduler actor. */
  constructor(private readonly deliver: (event: SchedulerEvent) => void) {}

  send(event: SchedulerEvent): void {
    if (event.type === 'REQUEST' || event.type === 'SERVE_DONE') {
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
    this.deliver(events.length === 1 ? events[0]! : { type: 'TICKETS', events });
  }
}
