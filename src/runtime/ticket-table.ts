/**
 * The open tickets by request id (tickets.ts), in a fixed table of slots instead of a Map.
 *
 * Why not a Map (issue 16, docs/perf/issue16-phase9.md): a Map that gains and loses an entry
 * per request rebuilds its hash table every few dozen requests. Each table lives long enough
 * to reach V8's old generation, and once dead there it still points at the tickets it held
 * when it was replaced. A scavenge treats every old-to-young pointer as a root without asking
 * whether the old object is alive, so those tickets, their promises and the request state they
 * reach survive and are promoted in their turn ("nepotism"): about 0.7 KB of each request
 * reached the old generation that way, garbage that only a full GC frees, and what RSS under
 * load was made of. A slot is cleared when its ticket leaves, so nothing dead points at a
 * live ticket.
 *
 * A ticket's slot is its id's number (`req-<n>`, numbered in order) modulo the table's size;
 * a ticket whose slot is taken (more than {@link SLOTS} open at once, as in a burst) goes to
 * an overflow Map, so the table is exact at any size and only a burst pays the Map's cost.
 */

/** Slots in the table: a power of two, well above the requests a ready model has in flight. */
export const SLOTS = 1024;

/** The number at the end of `id` (`req-42` -> 42; 0 when it ends in none): its slot's seed. */
function trailingNumber(id: string): number {
  let n = 0;
  let scale = 1;
  for (let i = id.length - 1; i >= 0 && scale < 1e15; i--) {
    const digit = id.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) break;
    n += digit * scale;
    scale *= 10;
  }
  return n;
}

export class TicketTable<T extends { readonly reqId: string }> {
  private readonly slots: Array<T | undefined> = new Array<T | undefined>(SLOTS).fill(undefined);
  private readonly overflow = new Map<string, T>();
  private count = 0;

  /** Entries in the table now. */
  get size(): number {
    return this.count;
  }

  private slotOf(reqId: string): number {
    return trailingNumber(reqId) % SLOTS;
  }

  get(reqId: string): T | undefined {
    const e = this.slots[this.slotOf(reqId)];
    if (e !== undefined && e.reqId === reqId) return e;
    return this.overflow.size === 0 ? undefined : this.overflow.get(reqId);
  }

  /** Adds `entry` under its own id, which is not open already (tickets' ids are never reused). */
  set(entry: T): void {
    const i = this.slotOf(entry.reqId);
    const there = this.slots[i];
    if (there === undefined) this.slots[i] = entry;
    else this.overflow.set(entry.reqId, entry);
    this.count++;
  }

  delete(reqId: string): void {
    const i = this.slotOf(reqId);
    const e = this.slots[i];
    if (e !== undefined && e.reqId === reqId) {
      this.slots[i] = undefined;
      this.count--;
    } else if (this.overflow.size > 0 && this.overflow.delete(reqId)) this.count--;
  }

  /** Takes every entry out (for closing the registry), in no particular order. */
  drain(): T[] {
    const out: T[] = [];
    for (let i = 0; i < SLOTS; i++) {
      const e = this.slots[i];
      if (e === undefined) continue;
      this.slots[i] = undefined;
      out.push(e);
    }
    for (const e of this.overflow.values()) out.push(e);
    this.overflow.clear();
    this.count = 0;
    return out;
  }
}
