/**
 * Token counts summed in plain numbers and handed to prom-client when it is read
 * (pending-counts.ts): a scrape must show what direct increments showed, sums and series
 * order alike, however the additions and the scrapes interleave.
 */
import fc from 'fast-check';
import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { PendingCounts } from '../../src/observability/pending-counts.ts';
import { RequestMetrics } from '../../src/observability/request-metrics.ts';

const tokenLines = (text: string) => text.split('\n').filter((l) => l.startsWith('swapstate_tokens_total'));

/** The counter as it was: every addition an `inc` at once. */
function direct() {
  const registry = new Registry();
  const c = new Counter({ name: 'swapstate_tokens_total', help: 'x', labelNames: ['model', 'type'], registers: [registry] });
  return {
    registry,
    observe(model: string, input: number, output: number) {
      if (input > 0) c.labels(model, 'input').inc(input);
      if (output > 0) c.labels(model, 'output').inc(output);
    },
  };
}

describe('PendingCounts', () => {
  it('hands each series its sum on flush, once, in the order of first additions', () => {
    const incs: string[] = [];
    const counts = new PendingCounts();
    const a = counts.of({ inc: (v) => incs.push(`a+${v}`) });
    const b = counts.of({ inc: (v) => incs.push(`b+${v}`) });
    counts.flush();
    expect(incs).toEqual([]);
    b.add(2);
    a.add(1);
    b.add(3);
    counts.flush();
    expect(incs).toEqual(['b+5', 'a+1']);
    counts.flush(); // nothing new: nothing handed on
    a.add(4);
    counts.flush();
    expect(incs).toEqual(['b+5', 'a+1', 'a+4']);
  });

  it('a scrape of RequestMetrics shows what direct increments showed (property)', async () => {
    const step = fc.oneof(
      fc.tuple(fc.constantFrom('m', 'n', 'peer/x'), fc.integer({ min: -1, max: 50 }), fc.integer({ min: -1, max: 50 })),
      fc.constant('scrape' as const),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 30 }), async (steps) => {
        const registry = new Registry();
        const metrics = new RequestMetrics(registry);
        const ref = direct();
        for (const s of steps) {
          if (s === 'scrape') {
            expect(tokenLines(await registry.metrics())).toEqual(tokenLines(await ref.registry.metrics()));
          } else {
            metrics.observeTokens(...s);
            ref.observe(...s);
          }
        }
        expect(tokenLines(await registry.metrics())).toEqual(tokenLines(await ref.registry.metrics()));
      }),
      { numRuns: 300 },
    );
  });
});
