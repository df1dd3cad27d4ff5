/**
 * The budget for request bodies held in memory, over all requests at once
 * (`maxBufferedRequestBytes`, swapstate's own key).
 *
 * Model routes read a whole body before forwarding it (the model is in it, and filters
 * rewrite it), and hold it until the response ends. `maxRequestBodyBytes` bounds one body;
 * without a bound on their sum, eight concurrent 64 MiB uploads took RSS to 957 MB. A body
 * is counted from the moment it is accepted (its declared length, before a byte is read)
 * until its response closes, so a refusal never touches what is already in flight.
 */

export class BodyBudget {
  private held = 0;

  /** @param limit read per request, so a reload's new limit applies at once. */
  constructor(private readonly limit: () => number) {}

  /** Bytes counted right now. */
  get used(): number {
    return this.held;
  }

  /** The limit in force right now. */
  get capacity(): number {
    return this.limit();
  }

  /** Counts `bytes` if they fit; false (and nothing counted) if they do not. */
  tryReserve(bytes: number): boolean {
    if (bytes > 0 && this.held + bytes > this.limit()) return false;
    this.held += bytes;
    return true;
  }

  /** Gives back bytes counted by {@link tryReserve}. */
  release(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
  }
}
