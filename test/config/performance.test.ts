/** `performance` (reference 2.2): `disabled`, and `every` as a Go duration of at least 5s. */
import { describe, expect, it } from 'vitest';
import { parseGoDuration } from '../../src/config/performance.ts';
import { load, loadError } from './helpers.ts';

describe('performance', () => {
  it('defaults: enabled, every 5s', () => {
    expect(load('models: {}\n').performance).toEqual({ disabled: false, everyMs: 5000 });
  });

  it('reads disabled and a Go duration', () => {
    expect(load('performance: {disabled: true, every: 1m30s}\n').performance).toEqual({ disabled: true, everyMs: 90_000 });
    expect(load('performance: {every: 5s}\n').performance.everyMs).toBe(5000);
  });

  it('0 means the default, as in llama-swap', () => {
    expect(load('performance: {every: 0s}\n').performance.everyMs).toBe(5000);
    expect(load('performance: {every: "0"}\n').performance.everyMs).toBe(5000);
  });

  it('refuses less than 5s with llama-swap\'s words, at the key\'s line', () => {
    const err = loadError('models: {}\nperformance:\n  every: 2s\n');
    expect(err.message).toContain('performance: every must be at least 5s, got 2s');
    expect(err.where).toBe('config.yaml:3');
    expect(loadError('performance: {every: 500ms}\n').message).toContain('got 500ms');
  });

  it('refuses what is not a duration', () => {
    expect(loadError('performance: {every: soon}\n').message).toContain('performance.every: invalid duration "soon"');
    expect(loadError('performance: {every: 5}\n').message).toContain('at least 5s'); // 5 ns, as Go's decoder reads an integer
  });

  it('no longer warns that performance is unsupported', () => {
    expect(load('performance: {disabled: true}\n').warnings).toEqual([]);
  });
});

describe('parseGoDuration', () => {
  it.each([
    ['5s', 5000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1.5s', 1500],
    ['300ms', 300],
    ['2h45m', 9_900_000],
    ['1000us', 1],
    ['-1s', -1000],
    ['0', 0],
  ])('%s = %d ms', (text, ms) => {
    expect(parseGoDuration(text)).toBe(ms);
  });

  it.each(['', '5', 's', '1x', '1s2', '--1s'])('%j is not a duration', (text) => {
    expect(parseGoDuration(text)).toBeNull();
  });
});
