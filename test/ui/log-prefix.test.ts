/**
 * The UI's "upstream (all models)" prefixes (src/ui/logs.js, browser code with no DOM at
 * import): each line starts with its model, however the chunks are cut and interleaved.
 */
import { describe, expect, it } from 'vitest';
import { createPrefixer } from '../../src/ui/logs.js';

type Prefixer = { add(model: string, text: string): string; reset(): void };
const feed = (chunks: Array<[string, string]>) => {
  const p = createPrefixer() as Prefixer;
  return chunks.map(([m, t]) => p.add(m, t)).join('');
};

describe('upstream line prefixes', () => {
  it('prefixes every line, once, across chunks that end mid-line', () => {
    expect(feed([['a', 'one\ntw'], ['a', 'o\nthree\n']])).toBe('a | one\na | two\na | three\n');
  });

  it("another model's chunk in the middle of a line starts a line of its own", () => {
    expect(feed([['a', 'loading 10%'], ['b', 'b is up\n'], ['a', ' 20%\n']])).toBe('a | loading 10%\nb | b is up\na |  20%\n');
  });

  it('keeps empty lines, and leaves text with no known model as it came', () => {
    expect(feed([['a', 'x\n\ny\n'], ['', 'raw\n']])).toBe('a | x\na | \na | y\nraw\n');
  });

  it('reset: a new history starts at a line start', () => {
    const p = createPrefixer() as Prefixer;
    p.add('a', 'half');
    p.reset();
    expect(p.add('a', 'new\n')).toBe('a | new\n');
  });
});
