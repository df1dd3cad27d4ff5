/**
 * Sleep mode's keys (issue 13), as llama-swap's fork llmsnap has them: `sleepMode`,
 * `sleepEndpoints`, `wakeEndpoints` per model, `sleepRequestTimeout` / `wakeRequestTimeout`
 * globally. Decoding, defaults, effective timeouts, every rule's message at its line, macros.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Config, SleepEndpoint, SleepMode } from '../../src/config/types.ts';
import { load, loadError, yaml } from './helpers.ts';

/** A config of one model `m` (fixed proxy) with the given lines under it; line 4 is the first. */
const oneModel = (...lines: string[]): string =>
  ['models:', '  m:', '    proxy: http://127.0.0.1:9000', ...lines.map((line) => `    ${line}`)].join('\n') + '\n';

const SLEEP = ['sleepEndpoints:', '  - endpoint: /sleep?level=1'];
const WAKE = ['wakeEndpoints:', '  - endpoint: /wake_up'];

describe('sleep mode: the config of the issue', () => {
  it('loads as written, every endpoint with its method, body and effective timeout', () => {
    const cfg = load(yaml`
      sleepRequestTimeout: 10
      wakeRequestTimeout: 10
      models:
        qwen-vllm:
          cmd: vllm serve Qwen/Qwen3-8B --port \${PORT} --enable-sleep-mode
          env: ["VLLM_SERVER_DEV_MODE=1"]
          sleepMode: enable          # enable | disable (default: disable)
          sleepEndpoints:            # called in order against the model's proxy URL
            - endpoint: /sleep?level=1
              method: POST
              timeout: 15            # optional, overrides sleepRequestTimeout
          wakeEndpoints:             # required with sleepEndpoints
            - endpoint: /wake_up
              method: POST
            - endpoint: /collective_rpc
              method: POST
              body: '{"method": "reload_weights"}'
    `);
    expect(cfg.warnings).toEqual([]);
    expect(cfg.sleepRequestTimeout).toBe(10);
    expect(cfg.wakeRequestTimeout).toBe(10);
    const m = cfg.models['qwen-vllm']!;
    expect(m.sleepMode).toBe('enable');
    expect(m.sleepEndpoints).toEqual([{ endpoint: '/sleep?level=1', method: 'POST', body: '', timeout: 15 }]);
    expect(m.wakeEndpoints).toEqual([
      { endpoint: '/wake_up', method: 'POST', body: '', timeout: 10 },
      { endpoint: '/collective_rpc', method: 'POST', body: '{"method": "reload_weights"}', timeout: 10 },
    ]);
  });

  it('has the types the runtime relies on', () => {
    expectTypeOf<Config['models'][string]['sleepMode']>().toEqualTypeOf<SleepMode>();
    expectTypeOf<SleepMode>().toEqualTypeOf<'enable' | 'disable'>();
    expectTypeOf<Config['models'][string]['sleepEndpoints']>().toEqualTypeOf<SleepEndpoint[]>();
    expectTypeOf<Config['models'][string]['wakeEndpoints']>().toEqualTypeOf<SleepEndpoint[]>();
    expectTypeOf<SleepEndpoint>().toEqualTypeOf<{ endpoint: string; method: 'GET' | 'POST' | 'PUT' | 'PATCH'; body: string; timeout: number }>();
    expectTypeOf<Config['sleepRequestTimeout']>().toEqualTypeOf<number>();
    expectTypeOf<Config['wakeRequestTimeout']>().toEqualTypeOf<number>();
  });
});

describe('sleep mode: defaults and effective values', () => {
  it('a model without the keys: sleepMode disable, no endpoints; the global timeouts 10 s', () => {
    const cfg = load(oneModel());
    expect(cfg.models.m).toMatchObject({ sleepMode: 'disable', sleepEndpoints: [], wakeEndpoints: [] });
    expect(cfg.sleepRequestTimeout).toBe(10);
    expect(cfg.wakeRequestTimeout).toBe(10);
  });

  it('an entry without method is POST; a method in any case is kept upper case; body defaults to empty', () => {
    const cfg = load(
      oneModel(
        'sleepMode: enable',
        'sleepEndpoints:',
        '  - endpoint: /sleep',
        '  - {endpoint: /a, method: get}',
        '  - {endpoint: /b, method: Put}',
        '  - {endpoint: /c, method: patch, body: "{}"}',
        ...WAKE,
      ),
    );
    expect(cfg.models.m!.sleepEndpoints.map(({ method, body }) => [method, body])).toEqual([
      ['POST', ''],
      ['GET', ''],
      ['PUT', ''],
      ['PATCH', '{}'],
    ]);
  });

  it('an entry timeout overrides the global one; absent or 0 means the global sleepRequestTimeout / wakeRequestTimeout', () => {
    const cfg = load(
      'sleepRequestTimeout: 30\nwakeRequestTimeout: 120\n' +
        oneModel(
          'sleepMode: enable',
          'sleepEndpoints:',
          '  - {endpoint: /sleep, timeout: 5}',
          '  - {endpoint: /sleep2, timeout: 0}',
          '  - {endpoint: /sleep3}',
          'wakeEndpoints:',
          '  - {endpoint: /wake_up}',
          '  - {endpoint: /collective_rpc, timeout: 600}',
        ),
    );
    const m = cfg.models.m!;
    expect(m.sleepEndpoints.map((e) => e.timeout)).toEqual([5, 30, 30]);
    expect(m.wakeEndpoints.map((e) => e.timeout)).toEqual([120, 600]);
    expect(cfg.sleepRequestTimeout).toBe(30);
    expect(cfg.wakeRequestTimeout).toBe(120);
  });

  it('endpoints without sleepMode enable are unused, as in llmsnap: loaded, with a warning', () => {
    const cfg = load(oneModel(...SLEEP, ...WAKE));
    expect(cfg.models.m!.sleepMode).toBe('disable');
    expect(cfg.models.m!.sleepEndpoints).toHaveLength(1);
    expect(cfg.warnings).toEqual([
      'config.yaml:4: model m: sleepEndpoints are set but sleepMode is not enable: the model is stopped on a swap, ' +
        'never put to sleep (add sleepMode: enable)',
    ]);
    // Written as disable, the warning points at it.
    expect(load(oneModel('sleepMode: disable', ...SLEEP, ...WAKE)).warnings[0]).toMatch(/^config\.yaml:4: model m: sleepEndpoints are set/);
  });

  it('an unknown key inside an entry warns, with a hint, like every unknown key', () => {
    const cfg = load(oneModel('sleepMode: enable', 'sleepEndpoints:', '  - endpoint: /sleep', '    methd: GET', ...WAKE));
    expect(cfg.warnings).toEqual(['config.yaml:7: unknown key "models.m.sleepEndpoints[0].methd" ignored (did you mean "method"?)']);
  });
});

describe('sleep mode: each rule fails the load at its line', () => {
  const cases: Array<[name: string, lines: string[], message: string]> = [
    ['sleepMode not enable or disable', ['sleepMode: on', ...SLEEP, ...WAKE], 'config.yaml:4: model m: sleepMode must be enable or disable, got "on"'],
    ['sleepMode true (a boolean)', ['sleepMode: true', ...SLEEP, ...WAKE], 'config.yaml:4: model m: sleepMode must be enable or disable, got "true"'],
    [
      'sleepMode enable without sleepEndpoints',
      ['sleepMode: enable'],
      'config.yaml:4: model m: sleepMode enable needs sleepEndpoints (and wakeEndpoints): the calls that put the model to sleep and wake it',
    ],
    [
      'sleepMode enable with only wakeEndpoints',
      ['sleepMode: enable', ...WAKE],
      'config.yaml:4: model m: sleepMode enable needs sleepEndpoints (and wakeEndpoints): the calls that put the model to sleep and wake it',
    ],
    ['sleepEndpoints without wakeEndpoints', ['sleepMode: enable', ...SLEEP], 'config.yaml:5: model m: wakeEndpoints is required with sleepEndpoints'],
    ['wakeEndpoints without sleepEndpoints', [...WAKE], 'config.yaml:4: model m: sleepEndpoints is required with wakeEndpoints'],
    [
      'sleepEndpoints not a list',
      ['sleepMode: enable', 'sleepEndpoints: /sleep', ...WAKE],
      'config.yaml:5: models.m.sleepEndpoints: expected a list, got string "/sleep"',
    ],
    [
      'an entry that is not a mapping',
      ['sleepMode: enable', ...SLEEP, 'wakeEndpoints:', '  - /wake_up'],
      'config.yaml:8: models.m.wakeEndpoints[0]: expected a mapping, got string "/wake_up"',
    ],
    [
      'an entry without endpoint',
      ['sleepMode: enable', 'sleepEndpoints:', '  - method: POST', ...WAKE],
      'config.yaml:6: model m: sleepEndpoints[0]: endpoint is required (a path such as /sleep?level=1)',
    ],
    [
      'an empty entry',
      ['sleepMode: enable', ...SLEEP, 'wakeEndpoints:', '  - endpoint: /wake_up', '  -'],
      'config.yaml:9: model m: wakeEndpoints[1]: endpoint is required (a path such as /sleep?level=1)',
    ],
    [
      'an endpoint not starting with /',
      ['sleepMode: enable', 'sleepEndpoints:', '  - endpoint: sleep?level=1', ...WAKE],
      'config.yaml:6: model m: sleepEndpoints[0]: endpoint "sleep?level=1" must start with "/" (a path on the proxy URL)',
    ],
    [
      'a full URL as endpoint',
      ['sleepMode: enable', 'sleepEndpoints:', '  - endpoint: http://h:1/sleep', ...WAKE],
      'config.yaml:6: model m: sleepEndpoints[0]: endpoint "http://h:1/sleep" must start with "/" (a path on the proxy URL)',
    ],
    [
      'a method other than GET, POST, PUT, PATCH',
      ['sleepMode: enable', ...SLEEP, 'wakeEndpoints:', '  - endpoint: /wake_up', '    method: DELETE'],
      'config.yaml:9: model m: wakeEndpoints[0]: invalid method "DELETE" (must be GET, POST, PUT or PATCH)',
    ],
    [
      'a negative timeout',
      ['sleepMode: enable', 'sleepEndpoints:', '  - endpoint: /sleep', '    timeout: -1', ...WAKE],
      'config.yaml:7: model m: sleepEndpoints[0]: invalid timeout value -1 (seconds, >= 0; 0 means the global one)',
    ],
    [
      'a timeout that is not an integer',
      ['sleepMode: enable', 'sleepEndpoints:', '  - endpoint: /sleep', '    timeout: 1.5', ...WAKE],
      'config.yaml:7: models.m.sleepEndpoints[0].timeout: expected an integer, got number 1.5',
    ],
    [
      'a timeout past a timer',
      ['sleepMode: enable', 'sleepEndpoints:', '  - endpoint: /sleep', '    timeout: 2147484', ...WAKE],
      'config.yaml:7: model m: sleepEndpoints[0]: timeout must be at most 2147483 seconds (about 24 days), got 2147484',
    ],
    [
      'a body that is not a string',
      ['sleepMode: enable', 'sleepEndpoints:', '  - endpoint: /sleep', '    body: {level: 1}', ...WAKE],
      'config.yaml:7: models.m.sleepEndpoints[0].body: expected a string, got a mapping',
    ],
  ];
  for (const [name, lines, message] of cases) {
    it(name, () => {
      expect(loadError(oneModel(...lines)).message).toBe(message);
    });
  }

  it('the largest timeout a timer holds loads', () => {
    const cfg = load(oneModel('sleepMode: enable', 'sleepEndpoints:', '  - endpoint: /sleep', '    timeout: 2147483', ...WAKE));
    expect(cfg.models.m!.sleepEndpoints[0]!.timeout).toBe(2147483);
  });
});

describe('sleepRequestTimeout and wakeRequestTimeout (global)', () => {
  for (const key of ['sleepRequestTimeout', 'wakeRequestTimeout'] as const) {
    it(`${key}: an integer of at least 1 second (0 is not "the default"), at most a timer's`, () => {
      expect(load(`${key}: 1\n`)[key]).toBe(1);
      expect(load(`${key}: 2147483\n`)[key]).toBe(2147483);
      expect(loadError(`logLevel: info\n${key}: 0\n`).message).toBe(`config.yaml:2: ${key} must be >= 1 (seconds), got 0`);
      expect(loadError(`${key}: -3\n`).message).toBe(`config.yaml:1: ${key} must be >= 1 (seconds), got -3`);
      expect(loadError(`${key}: 2147484\n`).message).toBe(`config.yaml:1: ${key} must be at most 2147483 seconds (about 24 days), got 2147484`);
      expect(loadError(`${key}: 2.5\n`).message).toBe(`config.yaml:1: ${key}: expected an integer, got number 2.5`);
    });
  }

  it('are known top-level keys: no warning, and a near miss is suggested', () => {
    expect(load('sleepRequestTimeout: 5\nwakeRequestTimeout: 5\n').warnings).toEqual([]);
    expect(loadError('sleepRequestTimeot: 5\n').message).toBe('config.yaml:1: unknown key "sleepRequestTimeot" (did you mean "sleepRequestTimeout"?)');
  });

  it('may come from a macro, keeping its type', () => {
    const cfg = load('macros:\n  t: 42\nsleepRequestTimeout: ${t}\n');
    expect(cfg.sleepRequestTimeout).toBe(42);
  });
});

describe('sleep mode: macros', () => {
  it('${PORT}, ${MODEL_ID} and user macros expand in endpoint and body; a whole-value macro keeps its type in timeout', () => {
    const cfg = load(yaml`
      macros:
        level: 2
        slow: 90
      models:
        vllm-a:
          macros:
            rpc: reload_weights
          cmd: vllm serve a --port \${PORT} --enable-sleep-mode
          sleepMode: enable
          sleepEndpoints:
            - endpoint: /sleep?level=\${level}&port=\${PORT}
              body: '{"model": "\${MODEL_ID}"}'
              timeout: \${slow}
          wakeEndpoints:
            - endpoint: /wake_up
            - endpoint: /collective_rpc
              body: '{"method": "\${rpc}", "model": "\${MODEL_ID}"}'
    `);
    const m = cfg.models['vllm-a']!;
    expect(m.sleepEndpoints).toEqual([{ endpoint: '/sleep?level=2&port=5800', method: 'POST', body: '{"model": "vllm-a"}', timeout: 90 }]);
    expect(m.wakeEndpoints[1]!.body).toBe('{"method": "reload_weights", "model": "vllm-a"}');
  });

  it('an unknown macro left in endpoint or body fails, naming the field, at its line', () => {
    expect(loadError(oneModel('sleepMode: enable', 'sleepEndpoints:', '  - endpoint: /sleep?level=${lvl}', ...WAKE)).message).toBe(
      "config.yaml:6: unknown macro '${lvl}' found in m.sleepEndpoints.endpoint",
    );
    expect(loadError(oneModel('sleepMode: enable', ...SLEEP, ...WAKE, '    body: \'{"method": "${rpc}"}\'')).message).toBe(
      "config.yaml:9: unknown macro '${rpc}' found in m.wakeEndpoints.body",
    );
  });

  it('${PORT} in an endpoint of a model whose cmd has no ${PORT} is left over, and says so', () => {
    expect(loadError(oneModel('sleepMode: enable', 'sleepEndpoints:', '  - endpoint: /sleep?port=${PORT}', ...WAKE)).message).toBe(
      "config.yaml:6: macro '${PORT}' should have been substituted in m.sleepEndpoints.endpoint",
    );
  });
});
