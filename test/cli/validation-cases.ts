/**
 * One bad config per llama-swap validation rule of reference section 2 that the loader
 * implements, with llama-swap's message and the line swapstate points at. Each case costs a
 * process start (~0.7 s of CPU), so variants of a rule and swapstate's own checks are left to
 * the in-process tests in test/config/.
 */

export interface ValidationCase {
  name: string;
  yaml: string;
  /** The message after `<file>:<line>: `; a RegExp when the tail comes from the JS runtime. */
  message: string | RegExp;
  /** The line the error points at; absent when the loader gives only the file. */
  line?: number;
  env?: Record<string, string | undefined>;
}

const MODELS = 'models:\n  a: {proxy: "http://h:1", aliases: [alpha]}\n  b: {proxy: "http://h:2"}\n  c: {proxy: "http://h:3"}\n';

export const UNSET_ENV = 'SWAPSTATE_CLI_SURELY_UNSET';

export const VALIDATION_CASES: ValidationCase[] = [
  // 2.1 load pipeline: environment substitution and YAML
  {
    name: 'env var not set',
    yaml: `models:\n  m:\n    cmd: server --port \${PORT} --key \${env.${UNSET_ENV}}\n`,
    message: `environment variable '${UNSET_ENV}' is not set`,
    line: 3,
    env: { [UNSET_ENV]: undefined },
  },
  { name: 'YAML syntax error', yaml: 'models:\n  m:\n    cmd: x\n   bad: 1\n', message: /^invalid YAML: \S/, line: 4 },

  // swapstate's loading bounds (issue 10): nothing a file holds can make loading hang
  {
    name: 'config over 1 MiB',
    yaml: `models: {}\n# ${'x'.repeat(1024 * 1024)}\n`,
    message: 'config is larger than 1 MiB (1048576 bytes)',
  },
  {
    name: 'YAML alias bomb',
    yaml:
      'a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n' +
      Array.from({ length: 9 }, (_, i) => `a${i + 1}: &a${i + 1} [${Array(9).fill(`*a${i}`).join(', ')}]\n`).join(''),
    message: 'invalid YAML: aliases expand to more than 100000 values',
    line: 6,
  },

  // 2.16 macros
  {
    name: 'macro name with invalid characters',
    yaml: 'macros:\n  "a.b": x\n',
    message: "macro name 'a.b' contains invalid characters, must match pattern ^[a-zA-Z0-9_-]+$",
    line: 2,
  },
  { name: 'macro name reserved', yaml: 'macros:\n  PORT: "1"\n', message: "macro name 'PORT' is reserved", line: 2 },
  { name: 'macro self-reference', yaml: 'macros:\n  a: "x ${a}"\n', message: "macro 'a' contains self-reference", line: 2 },
  {
    name: 'macro of a non-scalar type',
    yaml: 'macros:\n  a: [1]\n',
    message: "macro 'a' has invalid type []interface {}, must be a scalar type (string, int, float, or bool)",
    line: 2,
  },
  {
    name: 'unknown macro in cmd',
    yaml: 'models:\n  m:\n    cmd: server --port ${PORT} ${typo}\n',
    message: "unknown macro '${typo}' found in m.cmd",
    line: 3,
  },

  // 2.17 ${PORT}
  {
    name: '${PORT} in the default proxy without ${PORT} in cmd',
    yaml: 'models:\n  m:\n    cmd: server --port 9999\n',
    // swapstate's own words: llama-swap's blame a proxy the user never wrote (issue 11).
    message: "model m: cmd does not use ${PORT} and no proxy is set: put --port ${PORT} (or your server's port flag) in cmd, or set proxy to the server's address",
    line: 3,
  },
  {
    name: '${PORT} in a written proxy without ${PORT} in cmd',
    yaml: 'models:\n  m:\n    cmd: server --port 9999\n    proxy: http://127.0.0.1:${PORT}\n',
    message: 'model m: proxy uses ${PORT} but cmd does not - ${PORT} is only available when used in cmd',
    line: 4,
  },

  // 2.2 global keys
  { name: 'logToStdout', yaml: 'logToStdout: stderr\n', message: 'logToStdout must be one of: proxy, upstream, both, none', line: 1 },
  { name: 'startPort', yaml: 'startPort: 0\n', message: 'startPort must be greater than 1', line: 1 },
  { name: 'globalTTL', yaml: 'logLevel: info\nglobalTTL: -1\n', message: 'globalTTL must be >= 0', line: 2 },
  { name: 'unloadTimeout', yaml: 'unloadTimeout: -5\n', message: 'unloadTimeout must be >= 0', line: 1 },
  { name: 'apiKeys empty entry', yaml: 'apiKeys: ["a", ""]\n', message: 'empty api key found in apiKeys', line: 1 },
  {
    name: 'apiKeys entry with a space',
    yaml: 'apiKeys:\n  - ok\n  - "has space"\n',
    message: 'apiKeys[1]: api key cannot contain spaces',
    line: 3,
  },

  // swapstate: a top-level key one edit from a known one is a typo that would silently drop
  // a whole section (issue 11); llama-swap ignores it
  {
    name: 'top-level key one edit from a known one',
    yaml: 'healthCheckTimeout: 30\nmodel:\n  m:\n    proxy: http://h:1\n',
    message: 'unknown key "model" (did you mean "models"?)',
    line: 2,
  },

  // swapstate's range limits (issue 10): a duration past what a Node timer holds, a port past 65535
  {
    name: 'healthCheckTimeout past the longest timer',
    yaml: 'healthCheckTimeout: 2147484\n',
    message: 'healthCheckTimeout must be at most 2147483 seconds (about 24 days), got 2147484',
    line: 1,
  },
  {
    name: 'model ttl past the longest timer',
    yaml: 'models:\n  m:\n    proxy: http://h:1\n    ttl: 2147484\n',
    message: 'model m: ttl must be at most 2147483 seconds (about 24 days), got 2147484',
    line: 4,
  },
  { name: 'startPort above 65535', yaml: 'startPort: 70000\n', message: 'startPort must be at most 65535, got 70000', line: 1 },
  {
    name: '${PORT} allocation past 65535',
    yaml: 'startPort: 65535\nmodels:\n  a:\n    cmd: s --port ${PORT}\n  b:\n    cmd: s --port ${PORT}\n',
    message: 'model b: cannot allocate ${PORT}: 65536 is above the highest port 65535',
    line: 6,
  },

  // 2.12, 2.14, 2.15 models
  {
    name: 'duplicate alias',
    yaml: 'models:\n  a: {proxy: "http://h:1", aliases: [x]}\n  b:\n    proxy: http://h:2\n    aliases:\n      - x\n',
    message: 'duplicate alias x found in model: b',
    line: 6,
  },
  { name: 'invalid TTL', yaml: 'models:\n  m:\n    proxy: http://h:1\n    ttl: -2\n', message: 'model m: invalid TTL value -2', line: 4 },
  {
    name: 'invalid proxy URL',
    yaml: 'models:\n  m:\n    proxy: "127.0.0.1:8080"\n',
    message: /^model m: invalid proxy URL "127\.0\.0\.1:8080": /,
    line: 3,
  },
  {
    name: 'capabilities: invalid modality',
    yaml: 'models:\n  m:\n    proxy: http://h:1\n    capabilities:\n      in: [text, video]\n',
    message: 'model m: capabilities.in: invalid modality "video", must be one of: text, audio, image',
    line: 5,
  },
  {
    name: 'capabilities: negative context',
    yaml: 'models:\n  m:\n    proxy: http://h:1\n    capabilities:\n      context: -1\n',
    message: 'model m: capabilities.context: must be >= 0',
    line: 5,
  },
  // llmsnap's sleep mode (issue 13): its keys' errors exit 1 at their line like llama-swap's
  {
    name: 'sleepEndpoints without wakeEndpoints',
    yaml: 'models:\n  m:\n    proxy: http://h:1\n    sleepMode: enable\n    sleepEndpoints:\n      - endpoint: /sleep?level=1\n',
    message: 'model m: wakeEndpoints is required with sleepEndpoints',
    line: 5,
  },
  {
    name: 'sleep endpoint with a bad method',
    yaml: `models:\n  m:\n    proxy: http://h:1\n    sleepMode: enable\n    sleepEndpoints:\n      - {endpoint: /sleep, method: DELETE}\n    wakeEndpoints:\n      - endpoint: /wake_up\n`,
    message: 'model m: sleepEndpoints[0]: invalid method "DELETE" (must be GET, POST, PUT or PATCH)',
    line: 6,
  },
  {
    name: 'wake endpoint with a negative timeout',
    yaml: `models:\n  m:\n    proxy: http://h:1\n    sleepMode: enable\n    sleepEndpoints:\n      - endpoint: /sleep\n    wakeEndpoints:\n      - endpoint: /wake_up\n        timeout: -1\n`,
    message: 'model m: wakeEndpoints[0]: invalid timeout value -1 (seconds, >= 0; 0 means the global one)',
    line: 9,
  },
  {
    name: 'setParamsByID key naming another model',
    yaml: 'models:\n  a:\n    proxy: http://h:1\n    filters:\n      setParamsByID:\n        b: {x: 1}\n  b: {proxy: "http://h:2"}\n',
    message: "model a filters.setParamsByID: key 'b' conflicts with an existing model ID",
    line: 6,
  },
  {
    name: "setParamsByID key that is another model's alias",
    yaml: 'models:\n  a:\n    proxy: http://h:1\n    filters:\n      setParamsByID:\n        shared: {x: 1}\n  b: {proxy: "http://h:2", aliases: [shared]}\n',
    message: "duplicate alias 'shared' in model a filters.setParamsByID, already used by model b",
    line: 6,
  },

  // 2.3, 2.4 routing and groups
  {
    name: 'legacy groups together with routing.router',
    yaml: `${MODELS}groups:\n  g: {members: [a]}\nrouting:\n  router:\n    use: group\n`,
    message:
      "config uses both the legacy top-level 'matrix'/'groups' keys and the new 'routing.router' block; " +
      "please migrate the top-level keys into 'routing.router' and remove them",
    line: 8,
  },
  {
    name: 'groups together with matrix',
    yaml: `${MODELS}groups:\n  g: {members: [a]}\nmatrix:\n  sets: {s: a}\n`,
    message: "config cannot use both 'groups' and 'matrix'",
    line: 7,
  },
  {
    name: 'duplicate group member',
    yaml: `${MODELS}groups:\n  g:\n    members: [a, b, a]\n`,
    message: 'duplicate model member a found in group: g',
    line: 7,
  },
  {
    name: 'member in multiple groups',
    yaml: `${MODELS}groups:\n  g1: {members: [a]}\n  g2: {members: [b, a]}\n`,
    message: 'model member a is used in multiple groups: g1 and g2',
    line: 7,
  },
  { name: 'unknown group member', yaml: `${MODELS}groups:\n  g: {members: [zz]}\n`, message: 'no model config for "zz"', line: 6 },
  {
    name: 'routing.router.use unknown',
    yaml: 'routing:\n  router:\n    use: random\n',
    message: 'routing.router.use: unknown router "random" (valid: group, matrix)',
    line: 3,
  },
  {
    name: 'routing.router.use: matrix without settings.matrix',
    yaml: 'routing:\n  router:\n    use: matrix\n',
    message: "routing.router.use is 'matrix' but routing.router.settings.matrix is not set",
    line: 3,
  },

  // 2.5 matrix
  { name: 'matrix without sets', yaml: `${MODELS}matrix:\n  vars: {x: a}\n`, message: 'matrix must define at least one set', line: 5 },
  {
    name: 'matrix var key with invalid characters',
    yaml: `${MODELS}matrix:\n  vars:\n    a_b: a\n  sets: {s: a}\n`,
    message: `var key "a_b" must contain only alphanumeric, '-' or '.' characters and be 1-32 characters long`,
    line: 7,
  },
  {
    name: 'matrix var naming an alias',
    yaml: `${MODELS}matrix:\n  vars:\n    x: alpha\n  sets: {s: a}\n`,
    message: 'var key "x" references unknown model "alpha"',
    line: 7,
  },
  {
    name: 'matrix evict_cost not positive',
    yaml: `${MODELS}matrix:\n  evict_costs:\n    a: 0\n  sets: {s: a}\n`,
    message: 'evict_cost for "a" must be a positive integer',
    line: 7,
  },
  {
    name: 'matrix evict_costs unknown key',
    yaml: `${MODELS}matrix:\n  evict_costs:\n    zz: 2\n  sets: {s: a}\n`,
    message: 'evict_costs: unknown var or model "zz"',
    line: 7,
  },
  {
    name: 'matrix set with a DSL error',
    yaml: `${MODELS}routing:\n  router:\n    use: matrix\n    settings:\n      matrix:\n        sets:\n          ok: a\n          bad: "(a & b"\n`,
    message: 'set "bad": parse: missing closing parenthesis',
    line: 12,
  },
  {
    name: 'matrix set with an unknown model',
    yaml: `${MODELS}matrix:\n  sets:\n    s: "a & zz"\n`,
    message: 'set "s": unknown var or model "zz"',
    line: 7,
  },
  {
    name: 'matrix circular set reference',
    yaml: `${MODELS}matrix:\n  sets:\n    x: "+y"\n    y: "+x"\n`,
    message: 'circular reference detected involving set "x"',
    line: 7,
  },
  {
    name: 'matrix over the combination cap',
    yaml:
      'models:\n' +
      Array.from({ length: 40 }, (_, i) => `  m${i}: {proxy: "http://h:1"}\n`).join('') +
      'matrix:\n  sets:\n    huge: "' +
      Array.from({ length: 4 }, (_, f) => `(${Array.from({ length: 10 }, (_, i) => `m${f * 10 + i}`).join(' | ')})`).join(' & ') +
      '"\n    one: m0\n',
    message: 'matrix: the sets expand to 10001 combinations; swapstate supports at most 10000',
    line: 43,
  },
  {
    name: 'routing.scheduler.use unknown',
    yaml: 'routing:\n  scheduler:\n    use: lifo\n',
    message: 'routing.scheduler.use: unknown scheduler "lifo" (valid: fifo)',
    line: 3,
  },
  {
    name: 'fifo priority for an unknown model',
    yaml: `${MODELS}routing:\n  scheduler:\n    settings:\n      fifo:\n        priority:\n          nope: 1\n`,
    message: 'routing.scheduler.settings.fifo.priority references unknown model "nope"',
    line: 10,
  },

  // 3.8 upstream.ignorePaths
  {
    name: 'ignorePaths invalid regular expression',
    yaml: 'upstream:\n  ignorePaths:\n    - "^/ok$"\n    - "(unclosed"\n',
    message: /^upstream\.ignorePaths: invalid regular expression "\(unclosed": /,
    line: 4,
  },
];
