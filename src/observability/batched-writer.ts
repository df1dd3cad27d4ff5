/**
 * Chunks written within one turn of the event loop go out as one write.
 *
 * Writes to a pipe or file from Node's stdout are synchronous system calls. A busy proxy
 * prints an access line per request, so batching a turn's lines cost one call instead of
 * one per request. Nothing waits longer than the current turn. `flush()` empties the batch
 * at once, and must run before the process exits.
 */
const MAX_PENDING_BYTES = 64 * 1024;

export class BatchedWriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private scheduled: NodeJS.Immediate | null = null;

  constructor(private readonly out: (chunk: Buffer) => void) {}

  write(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= MAX_PENDING_BYTES) return this.flush();
    // A pending batch must not keep the process alive on its own.
    this.scheduled ??= setImmediate(() => this.flush()).unref();
  }

  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = null;
    if (this.pending.length === 0) return;
    const chunk = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.out(chunk);
  }
}
