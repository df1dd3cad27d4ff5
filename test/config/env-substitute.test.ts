import { describe, expect, it } from 'vitest';
import { commentRanges, substituteEnv } from '../../src/config/env-substitute.ts';
import { ConfigError } from '../../src/config/types.ts';
import { load, loadError, yaml } from './helpers.ts';

describe('${env.NAME} substitution (reference 2.1 step 1)', () => {
  it('replaces references anywhere in the text, before parsing', () => {
    const cfg = load(
      yaml`
        startPort: \${env.BASE_PORT}
        apiKeys: ["\${env.KEY}"]
        models:
          m:
            cmd: server --port \${PORT} --model \${env.MODEL_DIR}/m.gguf
      `,
      { BASE_PORT: '7000', KEY: 'secret', MODEL_DIR: '/srv/models' },
    );
    expect(cfg.startPort).toBe(7000);
    expect(cfg.apiKeys).toEqual(['secret']);
    expect(cfg.models.m!.cmd).toBe('server --port 7000 --model /srv/models/m.gguf');
  });

  it('fails on an unset variable with its line', () => {
    const err = loadError(yaml`
      models:
        m:
          cmd: server \${env.MISSING_VAR}
    `);
    expect(err.message).toBe("config.yaml:3: environment variable 'MISSING_VAR' is not set");
    expect(err.where).toBe('config.yaml:3');
  });

  it('ignores references inside comments (full-line and trailing)', () => {
    const cfg = load(yaml`
      # startPort: \${env.NOT_SET_1}
      startPort: 6000 # was \${env.NOT_SET_2}
    `);
    expect(cfg.startPort).toBe(6000);
  });

  it('does not treat # lines inside a block scalar as comments', () => {
    const err = loadError(yaml`
      models:
        m:
          cmd: |
            # \${env.INSIDE_BLOCK}
            server
    `);
    expect(err.message).toBe("config.yaml:4: environment variable 'INSIDE_BLOCK' is not set");
  });

  it('does not treat # inside a quoted string as a comment', () => {
    expect(substituteEnv('a: "x # ${env.V}"', { V: 'v' })).toBe('a: "x # v"');
  });

  it('rejects values with newlines, carriage returns or NUL', () => {
    for (const value of ['a\nb', 'a\rb', 'a\0b']) {
      expect(() => substituteEnv('a: ${env.V}', { V: value }, 'c.yaml')).toThrow(
        "c.yaml:1: environment variable 'V' contains newlines or null bytes which are not allowed in YAML substitution",
      );
    }
  });

  it('escapes backslashes and double quotes (safe in double-quoted YAML, literal in plain scalars)', () => {
    const env = { V: 'a\\b"c' };
    expect(substituteEnv('x: ${env.V}', env)).toBe('x: a\\\\b\\"c');
    const cfg = load(
      yaml`
        models:
          m:
            cmd: server --port \${PORT}
            name: "\${env.V}"
            description: \${env.V}
      `,
      env,
    );
    expect(cfg.models.m!.name).toBe('a\\b"c');
    expect(cfg.models.m!.description).toBe('a\\\\b\\"c');
  });

  it('only matches NAME = [A-Za-z_][A-Za-z0-9_]*', () => {
    expect(substituteEnv('a: ${env.1X} ${env._ok}', { _ok: 'y' })).toBe('a: ${env.1X} y');
  });

  it('still reports an unset variable when the YAML is broken', () => {
    expect(() => substituteEnv('a: [${env.NOPE}', {})).toThrow(ConfigError);
  });

  it('finds comment ranges at the right offsets', () => {
    const text = 'a: 1 # one\n# two\nb: "#no"\nc: |\n  # no\n';
    const ranges = commentRanges(text).map(([s, e]) => text.slice(s, e));
    expect(ranges).toEqual(['# one', '# two']);
  });
});
