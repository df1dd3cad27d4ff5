/**
 * The long-lived responses of one server (`/logs/stream`, `/api/events`), ended on shutdown
 * so `server.close()` is not held up by them. One registry per server: ending one server's
 * streams never touches another's.
 */
export class OpenStreams {
  private readonly ends = new Set<() => void>();

  /** Registers how to end a stream; returns the unregister, for when it closes by itself. */
  add(end: () => void): () => void {
    this.ends.add(end);
    return () => this.ends.delete(end);
  }

  /** Ends every registered stream. */
  endAll(): void {
    const ends = [...this.ends];
    this.ends.clear();
    for (const end of ends) end();
  }
}
