import { describe, expect, it } from 'vitest';
import { load, loadError, yaml } from './helpers.ts';

describe('macros (reference 2.16)', () => {
  it('expands a macro that references a macro declared before it', () => {
    const cfg = load(yaml`
      macros:
        dir: /models
        server: /bin/llama-server
        base: \${server} --model-dir \${dir}
      models:
        m:
          cmd: \${base} --port \${PORT}
    `);
    expect(cfg.models.m!.cmd).toBe('/bin/llama-server --model-dir /models --port 5800');
  });

  it('keeps the type when a value is exactly one macro, interpolates otherwise', () => {
    const cfg = load(yaml`
      macros:
        ctx: 8192
        flag: true
        temp: 0.5
      models:
        m:
          cmd: server --port \${PORT} -c \${ctx}
          metadata:
            context: \${ctx}
            vision: \${flag}
            temperature: \${temp}
            label: ctx=\${ctx}
            nested: ["\${ctx}", {deep: "\${flag}"}]
          capabilities:
            context: \${ctx}
    `);
    const m = cfg.models.m!;
    expect(m.metadata).toEqual({
      context: 8192,
      vision: true,
      temperature: 0.5,
      label: 'ctx=8192',
      nested: [8192, { deep: true }],
    });
    expect(m.capabilities?.context).toBe(8192);
  });

  it('provides ${MODEL_ID} everywhere in a model', () => {
    const cfg = load(yaml`
      models:
        org/model-7b:
          cmd: server --port \${PORT} --alias \${MODEL_ID}
          name: \${MODEL_ID} (local)
          useModelName: \${MODEL_ID}
          env: ["NAME=\${MODEL_ID}"]
          metadata: {id: "\${MODEL_ID}"}
    `);
    const m = cfg.models['org/model-7b']!;
    expect(m.cmd).toBe('server --port 5800 --alias org/model-7b');
    expect(m.name).toBe('org/model-7b (local)');
    expect(m.useModelName).toBe('org/model-7b');
    expect(m.env).toEqual(['NAME=org/model-7b']);
    expect(m.metadata).toEqual({ id: 'org/model-7b' });
  });

  it('lets a model macro override a global one of the same name', () => {
    const cfg = load(yaml`
      macros:
        ctx: 4096
        args: -c \${ctx}
      models:
        big:
          macros:
            ctx: 32768
          cmd: server --port \${PORT} \${args}
        small:
          cmd: server --port \${PORT} \${args}
    `);
    expect(cfg.models.big!.cmd).toBe('server --port 5800 -c 32768');
    expect(cfg.models.small!.cmd).toBe('server --port 5801 -c 4096');
  });

  it('applies global macros to top-level values (typed) but never to mapping keys', () => {
    const cfg = load(yaml`
      macros:
        ttl: 300
        key: k-123
        name: x
      globalTTL: \${ttl}
      apiKeys: ["\${key}"]
      models:
        m:
          cmd: server --port \${PORT}
          metadata:
            \${name}: 1
    `);
    expect(cfg.globalTTL).toBe(300);
    expect(cfg.apiKeys).toEqual(['k-123']);
    expect(cfg.models.m!.metadata).toEqual({ '${name}': 1 });
  });

  it('removes comment lines of cmd and cmdStop before expansion', () => {
    const cfg = load(yaml`
      models:
        m:
          cmd: |
            # an old flag: \${removed_macro}
            server --port \${PORT}
              # --ctx \${also_removed}
            --verbose
          cmdStop: |
            # kill \${nothing}
            kill \${PID}
    `);
    expect(cfg.models.m!.cmd).toBe('server --port 5800\n--verbose\n');
    expect(cfg.models.m!.cmdStop).toBe('kill ${PID}\n');
  });

  it('expands macros in filters.setParamsByID keys', () => {
    const cfg = load(yaml`
      macros:
        suffix: fast
      models:
        m:
          cmd: server --port \${PORT}
          filters:
            setParamsByID:
              "\${MODEL_ID}:\${suffix}": {temperature: 0.1}
              "\${MODEL_ID}-\${PORT}": {top_k: 1}
    `);
    expect(Object.keys(cfg.models.m!.filters.setParamsByID)).toEqual(['m:fast', 'm-5800']);
    expect(cfg.aliases).toEqual({ 'm:fast': 'm', 'm-5800': 'm' });
  });

  describe('declaration errors', () => {
    it('rejects a name longer than 63 characters', () => {
      const name = 'a'.repeat(64);
      const err = loadError(`macros:\n  ${name}: x\n`);
      expect(err.message).toBe(`config.yaml:2: macro name '${name}' exceeds maximum length of 63 characters`);
    });

    it('accepts a 63-character name', () => {
      const name = 'a'.repeat(63);
      expect(() => load(`macros:\n  ${name}: x\n`)).not.toThrow();
    });

    it('rejects invalid characters', () => {
      expect(loadError('macros:\n  "a.b": x\n').message).toBe(
        "config.yaml:2: macro name 'a.b' contains invalid characters, must match pattern ^[a-zA-Z0-9_-]+$",
      );
    });

    it.each(['PID', 'PORT', 'MODEL_ID'])('rejects the reserved name %s', (name) => {
      expect(loadError(`macros:\n  ${name}: x\n`).message).toBe(`config.yaml:2: macro name '${name}' is reserved`);
    });

    it('rejects a self-reference', () => {
      expect(loadError('macros:\n  a: x ${a}\n').message).toBe("config.yaml:2: macro 'a' contains self-reference");
    });

    it('rejects non-scalar values with Go type names', () => {
      expect(loadError('macros:\n  a: [1]\n').message).toBe(
        "config.yaml:2: macro 'a' has invalid type []interface {}, must be a scalar type (string, int, float, or bool)",
      );
      expect(loadError('macros:\n  a: {b: 1}\n').message).toContain("macro 'a' has invalid type map[string]interface {}");
      expect(loadError('macros:\n  a:\n').message).toContain("macro 'a' has invalid type <nil>");
    });

    it('prefixes model-scoped declaration errors with the model', () => {
      const err = loadError(yaml`
        models:
          m:
            cmd: x
            macros:
              PORT: 1
      `);
      expect(err.message).toBe("config.yaml:5: model m: macro name 'PORT' is reserved");
    });

    it('requires macros to be a mapping', () => {
      expect(loadError('macros: [a]\n').message).toBe('config.yaml:1: macros must be a mapping');
    });
  });

  describe('leftover macros', () => {
    it('reports an unknown macro in cmd', () => {
      const err = loadError(yaml`
        models:
          m:
            cmd: server --port \${PORT} \${typo}
      `);
      expect(err.message).toBe("config.yaml:3: unknown macro '${typo}' found in m.cmd");
    });

    it('reports an unknown macro in metadata', () => {
      const err = loadError(yaml`
        models:
          m:
            cmd: server --port \${PORT}
            metadata:
              a:
                b: \${nope}
      `);
      expect(err.message).toBe("config.yaml:6: model m metadata: unknown macro '${nope}'");
    });

    it('reports leftovers in other model fields by block', () => {
      expect(loadError('models:\n  m:\n    proxy: http://h:1\n    env: ["A=${x}"]\n').message).toBe(
        "config.yaml:4: model m env: unknown macro '${x}'",
      );
      expect(loadError('models:\n  m:\n    proxy: http://h:1\n    capabilities: {context: "${x}"}\n').message).toBe(
        "config.yaml:4: model m capabilities: unknown macro '${x}'",
      );
      expect(loadError('models:\n  m:\n    proxy: http://h:1\n    filters: {stripParams: "${x}"}\n').message).toBe(
        "config.yaml:4: unknown macro '${x}' found in m.filters.stripParams",
      );
    });

    it('reports ${PORT} left in a model without a port by field', () => {
      const err = loadError('models:\n  m:\n    proxy: http://h:1\n    name: port ${PORT}\n');
      expect(err.message).toBe("config.yaml:4: macro '${PORT}' should have been substituted in m.name");
    });

    it('reports top-level leftovers by path', () => {
      expect(loadError('apiKeys: ["${nope}"]\n').message).toBe("config.yaml:1: apiKeys[0]: unknown macro '${nope}'");
      expect(loadError('peers:\n  p:\n    apiKey: ${k}\n').message).toBe("config.yaml:3: peers.p.apiKey: unknown macro '${k}'");
    });

    it('does not check top-level keys llama-swap does not know', () => {
      expect(load('custom:\n  a: ${whatever}\n').warnings).toEqual(['config.yaml:1: unknown key "custom" ignored']);
    });

    it('lets ${PID} survive in cmdStop only', () => {
      expect(load('models:\n  m:\n    cmd: s --port ${PORT}\n    cmdStop: kill -TERM ${PID}\n').models.m!.cmdStop).toBe(
        'kill -TERM ${PID}',
      );
      expect(loadError('models:\n  m:\n    cmd: s --port ${PORT} ${PID}\n').message).toBe(
        "config.yaml:3: unknown macro '${PID}' found in m.cmd",
      );
    });

    it('reports a leftover macro in a setParamsByID key', () => {
      const err = loadError(yaml`
        models:
          m:
            cmd: s --port \${PORT}
            filters:
              setParamsByID:
                "m-\${nope}": {a: 1}
      `);
      expect(err.message).toBe("config.yaml:6: unknown macro '${nope}' found in model m filters.setParamsByID key");
    });

    it('rejects setParamsByID keys that resolve to the same value', () => {
      const err = loadError(yaml`
        models:
          m:
            cmd: s --port \${PORT}
            filters:
              setParamsByID:
                "m:fast": {a: 1}
                "\${MODEL_ID}:fast": {a: 2}
      `);
      expect(err.message).toBe('config.yaml:7: model m filters.setParamsByID: keys "${MODEL_ID}:fast" and "m:fast" resolve to the same value');
    });
  });
});
