/**
 * The swap machine on its own: it asks processes (fake actors registered under their system
 * ids) and never reads their state.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, createMachine, fromCallback, type AnyActorRef } from 'xstate';
import { EVICTION_RETRY_DELAY_MS, swapMachine, type SwapInput, type SwapOutput } from '../../machines/swap.machine.ts';

type Reply = 'READY' | 'FAILED' | 'STOPPED' | 'BACKOFF' | 'SILENT';

/**
 * A parent with one fake process per model (system id `process:<m>`) whose answer to each
 * request comes from `script`, and the swap under test as a child. Records every request.
 */
function run(input: SwapInput, script: Record<string, Reply[]>) {
  const log: string[] = [];
  const fakeProcess = fromCallback<{ type: string; replyTo?: AnyActorRef }, { model: string }>(({ input: { model }, receive }) => {
    receive((e) => {
      log.push(`${e.type} ${model}`);
      const answer = script[model]?.shift() ?? 'SILENT';
      if (!e.replyTo || answer === 'SILENT') return;
      if (answer === 'READY') e.replyTo.send({ type: 'PROCESS.READY', model });
      if (answer === 'STOPPED') e.replyTo.send({ type: 'PROCESS.STOPPED', model });
      if (answer === 'FAILED') e.replyTo.send({ type: 'PROCESS.FAILED', model, error: 'out of memory' });
      if (answer === 'BACKOFF') e.replyTo.send({ type: 'PROCESS.FAILED', model, error: 'broken', retryAfterMs: 4_000 });
    });
  });
  const models = [...new Set([...(input.target ? [input.target] : []), ...input.evict])];
  let output: SwapOutput | null = null;
  const parent = createMachine({
    invoke: [
      ...models.map((m) => ({ id: `p-${m}`, systemId: `process:${m}`, src: fakeProcess, input: { model: m } })),
      { id: 'swap', src: swapMachine, input, onDone: { actions: ({ event }: { event: { output: SwapOutput } }) => (output = event.output) } },
    ],
  } as never);
  createActor(parent).start();
  return { log, output: () => output };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('swap machine', () => {
  it('stops the evictees in parallel, then ensures the target', async () => {
    const t = run({ swapId: 's', target: 'b', evict: ['a', 'c'], graceMs: 5 }, { a: ['STOPPED'], c: ['STOPPED'], b: ['READY'] });
    await vi.advanceTimersByTimeAsync(0);
    expect(t.log).toEqual(['STOP a', 'STOP c', 'ENSURE_READY b']);
    expect(t.output()).toEqual({ swapId: 's', target: 'b', evict: ['a', 'c'] });
  });

  it('waits for every evictee before starting the target', async () => {
    const t = run({ swapId: 's', target: 'b', evict: ['a'] }, { a: ['SILENT'], b: ['READY'] });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(t.log).toEqual(['STOP a']);
    expect(t.output()).toBeNull();
  });

  it('#97: a start that fails right after an eviction is retried once, after a short delay', async () => {
    const t = run({ swapId: 's', target: 'b', evict: ['a'] }, { a: ['STOPPED'], b: ['FAILED', 'READY'] });
    await vi.advanceTimersByTimeAsync(0);
    expect(t.log).toEqual(['STOP a', 'ENSURE_READY b']);
    await vi.advanceTimersByTimeAsync(EVICTION_RETRY_DELAY_MS - 1);
    expect(t.log).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.log).toEqual(['STOP a', 'ENSURE_READY b', 'ENSURE_READY b']);
    expect(t.output()).toEqual({ swapId: 's', target: 'b', evict: ['a'] });
  });

  it('retries only once, and not without an eviction or for a backoff refusal', async () => {
    const twice = run({ swapId: 's', target: 'b', evict: ['a'] }, { a: ['STOPPED'], b: ['FAILED', 'FAILED'] });
    await vi.advanceTimersByTimeAsync(EVICTION_RETRY_DELAY_MS);
    expect(twice.output()).toMatchObject({ error: 'out of memory' });

    const alone = run({ swapId: 's', target: 'b', evict: [] }, { b: ['FAILED'] });
    await vi.advanceTimersByTimeAsync(0);
    expect(alone.output()).toMatchObject({ error: 'out of memory' });
    expect(alone.log).toEqual(['ENSURE_READY b']);

    const backoff = run({ swapId: 's', target: 'b', evict: ['a'] }, { a: ['STOPPED'], b: ['BACKOFF'] });
    await vi.advanceTimersByTimeAsync(0);
    expect(backoff.output()).toEqual({ swapId: 's', target: 'b', evict: ['a'], error: 'broken', retryAfterMs: 4_000 });
  });

  it('an unload (no target) is done once its models have stopped', async () => {
    const t = run({ swapId: 'u', target: null, evict: ['a'] }, { a: ['STOPPED'] });
    await vi.advanceTimersByTimeAsync(0);
    expect(t.output()).toEqual({ swapId: 'u', target: null, evict: ['a'] });
  });
});
