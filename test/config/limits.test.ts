/**
 * Range limits (issue 10, item 5): every duration must fit a Node timer (2^31-1 ms; past it
 * Node fires after 1 ms), ports must fit TCP, a body must fit a Buffer, and no integer may be
 * silently rounded. Each bound loads; one past it fails, naming the key (and the model).
 */
import { describe, expect, it } from 'vitest';
import { MAX_BUFFER_BYTES } from '../../src/config/limits.ts';
import { load, loadError, yaml } from './helpers.ts';

const model = (key: string, value: number | string): string => `models:\n  m:\n    proxy: http://h:1\n    ${key}: ${value}\n`;

describe('durations fit a Node timer', () => {
  const seconds: Array<[key: string, read: (cfg: ReturnType<typeof load>) => number]> = [
    ['healthCheckTimeout', (cfg) => cfg.healthCheckTimeout],
    ['globalTTL', (cfg) => cfg.globalTTL],
    ['unloadTimeout', (cfg) => cfg.unloadTimeout],
  ];
  for (const [key, read] of seconds) {
    it(`${key}: at most 2147483 seconds`, () => {
      expect(read(load(`${key}: 2147483\n`))).toBe(2147483);
      expect(loadError(`logLevel: info\n${key}: 2147484\n`).message).toBe(
        `config.yaml:2: ${key} must be at most 2147483 seconds (about 24 days), got 2147484`,
      );
    });
  }

  for (const key of ['healthCheckInterval', 'abandonedLoadGraceMs'] as const) {
    it(`${key}: at most 2147483647 milliseconds`, () => {
      expect(load(`${key}: 2147483647\n`)[key]).toBe(2147483647);
      expect(loadError(`${key}: 2147483648\n`).message).toBe(
        `config.yaml:1: ${key} must be at most 2147483647 milliseconds (about 24 days), got 2147483648`,
      );
    });
  }

  it('model ttl: at most 2147483 seconds', () => {
    expect(load(model('ttl', 2147483)).models.m!.ttl).toBe(2147483);
    expect(loadError(model('ttl', 2147484)).message).toBe(
      'config.yaml:4: model m: ttl must be at most 2147483 seconds (about 24 days), got 2147484',
    );
  });

  it('model unloadTimeout: at most 2147483 seconds', () => {
    expect(load(model('unloadTimeout', 2147483)).models.m!.unloadTimeout).toBe(2147483);
    expect(loadError(model('unloadTimeout', 2147484)).message).toBe(
      'config.yaml:4: model m: unloadTimeout must be at most 2147483 seconds (about 24 days), got 2147484',
    );
  });
});

describe('ports fit TCP', () => {
  it('startPort: at most 65535', () => {
    expect(load('startPort: 65535\n').startPort).toBe(65535);
    expect(loadError('startPort: 65536\n').message).toBe('config.yaml:1: startPort must be at most 65535, got 65536');
  });

  it('a ${PORT} allocation running past 65535 fails, naming the model that gets no port', () => {
    const text = yaml`
      startPort: 65534
      models:
        a: {cmd: "s --port \${PORT}"}
        b: {cmd: "s --port \${PORT}"}
        c:
          cmd: s --port \${PORT}
    `;
    expect(loadError(text).message).toBe('config.yaml:6: model c: cannot allocate ${PORT}: 65536 is above the highest port 65535');
    const fits = load(text.replace('65534', '65533'));
    expect(fits.models.c!.proxy).toBe('http://localhost:65535');
  });
});

describe('sizes and integers', () => {
  it('maxRequestBodyBytes: at most the largest Node Buffer', () => {
    expect(load(`maxRequestBodyBytes: ${MAX_BUFFER_BYTES}\nmaxBufferedRequestBytes: ${MAX_BUFFER_BYTES}\n`).maxRequestBodyBytes).toBe(
      MAX_BUFFER_BYTES,
    );
    if (MAX_BUFFER_BYTES < Number.MAX_SAFE_INTEGER) {
      expect(loadError(`maxRequestBodyBytes: ${MAX_BUFFER_BYTES + 1}\n`).message).toBe(
        `config.yaml:1: maxRequestBodyBytes must be at most ${MAX_BUFFER_BYTES} bytes (the largest Node.js Buffer), got ${MAX_BUFFER_BYTES + 1}`,
      );
    }
  });

  it('an integer beyond 2^53-1 is refused as written, not rounded', () => {
    // 2^53 + 1 would read as 2^53.
    expect(loadError(model('concurrencyLimit', '9007199254740993')).message).toBe(
      'config.yaml:4: models.m.concurrencyLimit: expected an integer between -9007199254740991 and 9007199254740991, got 9007199254740993',
    );
    expect(loadError(model('ttl', '100000000000000000000000')).message).toBe(
      'config.yaml:4: models.m.ttl: expected an integer between -9007199254740991 and 9007199254740991, got 100000000000000000000000',
    );
    expect(loadError('globalTTL: -9007199254740993\n').message).toMatch(/^config\.yaml:1: globalTTL: expected an integer between/);
    expect(load(model('concurrencyLimit', Number.MAX_SAFE_INTEGER)).models.m!.concurrencyLimit).toBe(Number.MAX_SAFE_INTEGER);
  });
});
