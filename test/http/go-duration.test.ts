/**
 * The access line's duration (access-log.ts goDuration): Go's time.Duration text, built
 * without a round trip through a number. It must print exactly what the first version did,
 * `+x.toFixed(n)` in a template, for every span: that version is kept here as the reference.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { goDuration } from '../../src/http/access-log.ts';

function reference(ms: number): string {
  if (ms < 0.001) return `${Math.round(ms * 1e6)}ns`;
  if (ms < 1) return `${+(ms * 1000).toFixed(3)}µs`;
  if (ms < 1000) return `${+ms.toFixed(6)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${+s.toFixed(6)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${+(s - m * 60).toFixed(6)}s`;
}

describe('goDuration', () => {
  it("reads as Go's durations", () => {
    expect(goDuration(0.0005)).toBe('500ns');
    expect(goDuration(0.25)).toBe('250µs');
    expect(goDuration(1.5)).toBe('1.5ms');
    expect(goDuration(2)).toBe('2ms');
    expect(goDuration(2250)).toBe('2.25s');
    expect(goDuration(184500)).toBe('3m4.5s');
    expect(goDuration(120000)).toBe('2m0s');
  });

  it('prints what the number round trip printed, at every edge of rounding and of unit', () => {
    const edges = [0, 0.000999, 0.001, 0.0009995, 0.0010004, 0.9999994, 0.9999996, 1, 1.0000004, 1.0000005, 10.1, 999.9999994, 999.9999996, 1000, 59999.9999994, 59999.9999996, 60000, 119999.99999999999, 120000, 7199999.9999999, 1e9 + 0.5];
    for (const ms of edges) expect(goDuration(ms), String(ms)).toBe(reference(ms));
  });

  it('prints what the number round trip printed, for any span (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double({ min: 0, max: 2, noNaN: true }), fc.double({ min: 0, max: 1e7, noNaN: true }), fc.integer({ min: 0, max: 1e8 }).map((n) => n / 1e6)), (ms) => {
        expect(goDuration(ms)).toBe(reference(ms));
      }),
      { numRuns: 20000 },
    );
  });
});
