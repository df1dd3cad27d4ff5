/**
 * The real timer functions, taken when this module loads (before any test can fake them).
 *
 * Work the server defers to a turn's end or a short wait must happen on the real clock: a test
 * that fakes timers (vitest's fake timers replace setImmediate and setTimeout) must not be able
 * to hold grants (tickets.ts), the scheduler's ticket batches (ticket-batch.ts) or an SSE
 * answer's head (lean-forward.ts) back until it advances its clock.
 */
export const immediate = globalThis.setImmediate;
export const timeout = globalThis.setTimeout;
