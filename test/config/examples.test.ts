/**
 * Every example config in config/examples/ loads as it is, without an error or a warning:
 * an example is what people copy.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.ts';
import { loadConfigSources } from '../../src/config/load-sources.ts';

const DIR = fileURLToPath(new URL('../../config/examples/', import.meta.url));
const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f)).sort();

describe('config/examples/', () => {
  it('holds the matrix, selectors, peers and profiles examples', () => {
    expect(files).toEqual(expect.arrayContaining(['matrix.yaml', 'matrix-routing.yaml', 'selectors.yaml', 'peers.yaml', 'profiles.yaml']));
  });

  it.each(files)('%s loads without errors or warnings', (file) => {
    expect(loadConfigFile(DIR + file).warnings).toEqual([]);
  });

  it('selectors.yaml has a selector of each strategy', () => {
    const cfg = loadConfigFile(DIR + 'selectors.yaml');
    expect(Object.values(cfg.selectors).map((s) => s.strategy).sort()).toEqual(['pin', 'spillover', 'warm']);
  });

  it('peers.yaml forwards box-b and a hosted API by full name, with their keys, filters and timeouts', () => {
    const cfg = loadConfigFile(`${DIR}peers.yaml`);
    expect(Object.keys(cfg.models)).toEqual(['local-chat']);
    expect(cfg.peers['box-b']).toMatchObject({ proxy: 'http://127.0.0.1:8081', apiKey: '', models: ['chat-small', 'chat-large', 'embed'] });
    expect(cfg.peers['box-b']!.timeouts.responseHeader).toBe(300);
    expect(cfg.peers['openrouter']!.filters.setParams).toEqual({ provider: { data_collection: 'deny' } });
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

  it('config-dir/: config.yaml plus conf.d/ loads without errors or warnings, every file contributing', () => {
    const { config, files } = loadConfigSources({ config: `${DIR}config-dir/config.yaml`, configDir: `${DIR}config-dir/conf.d` });
    expect(files.map((f) => f.slice(DIR.length))).toEqual(['config-dir/config.yaml', 'config-dir/conf.d/10-chat.yaml', 'config-dir/conf.d/20-embed.yaml']);
    expect(config.warnings).toEqual([]);
    expect(Object.keys(config.models)).toEqual(['chat-small', 'chat-large', 'embed']);
    expect(config.models.embed?.cmd).toBe('node src/demo/upstream.mjs --port 5802 --id embed --load-delay 200');
    expect(Object.keys(config.groups)).toEqual(['chat', 'embeddings']);
    expect(config.preload).toEqual(['embed']);
    expect(config.aliases).toEqual({ 'gpt-4o': 'chat-large' });
  });
});
