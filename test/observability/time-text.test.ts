/** The text of now, made once per millisecond (time-text.ts), on an injected clock. */
import { describe, expect, it } from 'vitest';
import { isoNow, TimeText } from '../../src/observability/time-text.ts';

describe('TimeText', () => {
  it('formats each millisecond once, and a new one as soon as the clock moves on', () => {
    let now = 1_700_000_000_000;
    const made: number[] = [];
    const t = new TimeText((ms) => {
      made.push(ms);
      return new Date(ms).toISOString();
    }, () => now);
    expect(t.text()).toBe('2023-11-14T22:13:20.000Z');
    expect(t.text()).toBe('2023-11-14T22:13:20.000Z');
    now += 1;
    expect(t.text()).toBe('2023-11-14T22:13:20.001Z');
    now += 999; // over a second
    expect(t.text()).toBe('2023-11-14T22:13:21.000Z');
    now = 1_700_000_000_000 + 86_400_000; // the next day
    expect(t.text()).toBe('2023-11-15T22:13:20.000Z');
    now -= 86_400_000; // a clock set back: the text follows it
    expect(t.text()).toBe('2023-11-14T22:13:20.000Z');
    expect(made).toEqual([1_700_000_000_000, 1_700_000_000_001, 1_700_000_001_000, 1_700_086_400_000, 1_700_000_000_000]);
  });

  it('isoNow is toISOString of Date.now(), and follows a replaced Date.now', () => {
    const real = Date.now;
    try {
      Date.now = () => 86_400_000 + 5;
      expect(isoNow.text()).toBe('1970-01-02T00:00:00.005Z');
      Date.now = () => 86_400_000 + 6;
      expect(isoNow.text()).toBe('1970-01-02T00:00:00.006Z');
    } finally {
      Date.now = real;
    }
    const before = Date.now();
    const text = isoNow.text();
    expect(Date.parse(text)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(text)).toBeLessThanOrEqual(Date.now());
  });
});
