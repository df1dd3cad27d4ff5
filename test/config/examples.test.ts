/**
 * Every example config in config/examples/ loads as it is, without an error or a warning:
 * an example is what people copy.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.ts';

const DIR = fileURLToPath(new URL('../../config/examples/', import.meta.url));
const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f)).sort();

describe('config/examples/', () => {
  it('holds the matrix and profiles examples', () => {
    expect(files).toEqual(expect.arrayContaining(['matrix.yaml', 'matrix-routing.yaml', 'profiles.yaml']));
  });

  it.each(files)('%s loads without errors or warnings', (file) => {
    expect(loadConfigFile(DIR + file).warnings).toEqual([]);
  });

  it('profiles.yaml: two profiles pinning virtual and real ids, one disabling an id', () => {
    const cfg = loadConfigFile(`${DIR}profiles.yaml`);
    expect(Object.keys(cfg.profiles)).toEqual(['fast', 'quality']);
    expect(cfg.profiles.fast?.pins).toEqual({ assistant: 'small', coder: 'chat-small', 'chat-large': 'chat-small' });
    expect(cfg.profiles.quality?.pins['chat-small']).toBe('');
  });

  it('the two matrix spellings select the matrix router', () => {
    for (const file of ['matrix.yaml', 'matrix-routing.yaml']) {
      const cfg = loadConfigFile(DIR + file);
      expect(cfg.router).toBe('matrix');
      expect(cfg.matrix?.sets.length).toBeGreaterThan(0);
    }
  });
});
