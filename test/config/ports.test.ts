import { describe, expect, it } from 'vitest';
import { load, loadError, yaml } from './helpers.ts';

describe('${PORT} allocation (reference 2.17)', () => {
  it('gives ports in sorted model-id order, only to models whose cmd uses ${PORT}', () => {
    const cfg = load(yaml`
      models:
        zeta:
          cmd: server --port \${PORT}
        fixed:
          cmd: server --port 9999
          proxy: http://127.0.0.1:9999
        alpha:
          cmd: server --port \${PORT}
        Beta:
          cmd: server --port \${PORT}
    `);
    // Byte order, as Go's sort.Strings: upper case before lower case.
    expect(cfg.models.Beta!.proxy).toBe('http://localhost:5800');
    expect(cfg.models.alpha!.proxy).toBe('http://localhost:5801');
    expect(cfg.models.zeta!.proxy).toBe('http://localhost:5802');
    expect(cfg.models.fixed!.proxy).toBe('http://127.0.0.1:9999');
    expect(cfg.models.zeta!.cmd).toBe('server --port 5802');
  });

  it('starts at startPort, which may be a macro', () => {
    const cfg = load(yaml`
      macros:
        base: 7100
      startPort: \${base}
      models:
        m:
          cmd: server --port \${PORT}
    `);
    expect(cfg.startPort).toBe(7100);
    expect(cfg.models.m!.proxy).toBe('http://localhost:7100');
  });

  it('substitutes the port into every field of the model, typed when alone', () => {
    const cfg = load(yaml`
      models:
        m:
          cmd: server --port \${PORT}
          cmdStop: stop --port \${PORT} --pid \${PID}
          proxy: http://127.0.0.1:\${PORT}/base
          env: ["PORT=\${PORT}"]
          metadata: {port: "\${PORT}"}
    `);
    const m = cfg.models.m!;
    expect(m.cmdStop).toBe('stop --port 5800 --pid ${PID}');
    expect(m.proxy).toBe('http://127.0.0.1:5800/base');
    expect(m.env).toEqual(['PORT=5800']);
    expect(m.metadata).toEqual({ port: 5800 });
  });

  it('a ${PORT} coming from a macro counts as used in cmd', () => {
    const cfg = load(yaml`
      macros:
        serve: server --port \${PORT}
      models:
        m:
          cmd: \${serve}
    `);
    expect(cfg.models.m!.cmd).toBe('server --port 5800');
  });

  it('rejects the default proxy when cmd has no ${PORT}, at the cmd line, without blaming a proxy nobody wrote', () => {
    const err = loadError(yaml`
      models:
        m:
          cmd: server --port 8080
    `);
    expect(err.message).toBe(
      "config.yaml:3: model m: cmd does not use ${PORT} and no proxy is set: put --port ${PORT} (or your server's port flag) in cmd, " +
        "or set proxy to the server's address",
    );
  });

  it('says the same for a model without cmd, at the model line', () => {
    const err = loadError(yaml`
      models:
        m:
          ttl: 5
    `);
    expect(err.message).toMatch(/^config\.yaml:2: model m: cmd does not use \$\{PORT\} and no proxy is set: /);
  });

  it('an explicit proxy that is the default text still gets llama-swap\'s message', () => {
    const err = loadError(yaml`
      models:
        m:
          cmd: server --port 8080
          proxy: http://localhost:\${PORT}
    `);
    expect(err.message).toBe(
      'config.yaml:4: model m: proxy uses ${PORT} but cmd does not - ${PORT} is only available when used in cmd',
    );
  });

  it('rejects an explicit proxy using ${PORT} when cmd does not, at the proxy line', () => {
    const err = loadError(yaml`
      models:
        m:
          cmd: server
          proxy: http://localhost:\${PORT}
    `);
    expect(err.message).toBe(
      'config.yaml:4: model m: proxy uses ${PORT} but cmd does not - ${PORT} is only available when used in cmd',
    );
  });

  it('rejects startPort below 1', () => {
    expect(loadError('startPort: 0\n').message).toBe('config.yaml:1: startPort must be greater than 1');
  });
});
