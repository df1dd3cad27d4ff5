/**
 * `peers.<id>` (reference 2.6): decoding, defaults, every rule, and the namespace rules.
 * Cases marked "(Go)" are ported from llama-swap's internal/config/peer_test.go.
 */
import { describe, expect, it } from 'vitest';
import { checkPeerNamespace, DEFAULT_PEER_TIMEOUTS, peerModelFqn, peerNamespaceClashes } from '../../src/config/peers.ts';
import { load, loadError, yaml } from './helpers.ts';

/** One peer `p` from its YAML lines (indented under it), with nothing else in the file. */
const peer = (lines: string): string => `peers:\n  p:\n${lines.replace(/^/gm, '    ')}\n`;

describe('peers: decoding (reference 2.6)', () => {
  it('valid config (Go): proxy and models, every other key defaulted', () => {
    const cfg = load(peer('proxy: http://192.168.1.23\nmodels:\n  - model_a\n  - model_b'));
    expect(cfg.peers).toEqual({
      p: {
        id: 'p',
        proxy: 'http://192.168.1.23',
        apiKey: '',
        models: ['model_a', 'model_b'],
        filters: { stripParams: [], setParams: {}, setParamsByID: {} },
        timeouts: { connect: 30, keepalive: 30, responseHeader: 60, tlsHandshake: 10, expectContinue: 1, idleConn: 90 },
      },
    });
    expect(cfg.warnings).toEqual([]);
  });

  it('valid config with apiKey (Go): model ids may hold slashes', () => {
    const cfg = load(peer('proxy: https://openrouter.ai/api\napiKey: sk-test-key\nmodels:\n  - meta-llama/llama-3.1-8b-instruct'));
    expect(cfg.peers.p).toMatchObject({ apiKey: 'sk-test-key', models: ['meta-llama/llama-3.1-8b-instruct'] });
  });

  it('the proxy URL keeps its path (Go: ProxyURL)', () => {
    const cfg = load(peer('proxy: http://192.168.1.23:8080/api\napiKey: sk-test\nmodels: [model_a]'));
    const url = new URL(cfg.peers.p!.proxy);
    expect([url.host, url.protocol, url.pathname]).toEqual(['192.168.1.23:8080', 'http:', '/api']);
  });

  it('missing proxy (Go): "proxy is required", at the peer', () => {
    expect(loadError(peer('models:\n  - model_a')).message).toBe('config.yaml:2: peers.p: proxy is required');
  });

  it('empty proxy (Go): "proxy is required", at the key', () => {
    expect(loadError(peer('proxy: ""\nmodels: [model_a]')).message).toBe('config.yaml:3: peers.p: proxy is required');
  });

  it('invalid proxy URL (Go): "invalid peer proxy URL"', () => {
    expect(loadError(peer('proxy: "://invalid"\nmodels: [model_a]')).message).toBe(
      'config.yaml:3: peers.p: invalid peer proxy URL (://invalid): not an absolute URL',
    );
  });

  it('a proxy that is no absolute http(s) URL fails at load (Go accepts it and fails at the first request)', () => {
    expect(loadError(peer('proxy: "localhost:8080"\nmodels: [a]')).message).toBe(
      'config.yaml:3: peers.p: invalid peer proxy URL (localhost:8080): the scheme must be http or https',
    );
    expect(loadError(peer('proxy: "ftp://h/x"\nmodels: [a]')).message).toMatch(/invalid peer proxy URL \(ftp:\/\/h\/x\): the scheme/);
  });

  it('missing models (Go): "peer models can not be empty"', () => {
    expect(loadError(peer('proxy: http://localhost:8080')).message).toBe('config.yaml:2: peers.p: peer models can not be empty');
  });

  it('empty models (Go): "peer models can not be empty", at the key', () => {
    expect(loadError(peer('proxy: http://localhost:8080\nmodels: []')).message).toBe('config.yaml:4: peers.p: peer models can not be empty');
  });

  it('duplicate models are ignored, the first mention keeps its place', () => {
    expect(load(peer('proxy: http://h\nmodels: [b, a, b, a, c]')).peers.p!.models).toEqual(['b', 'a', 'c']);
  });

  it('filters with setParams (Go): nested values kept as typed', () => {
    const cfg = load(peer('proxy: https://openrouter.ai/api\nmodels: [model_a]\nfilters:\n  setParams:\n    temperature: 0.7\n    provider:\n      data_collection: deny'));
    expect(cfg.peers.p!.filters.setParams).toEqual({ temperature: 0.7, provider: { data_collection: 'deny' } });
  });

  it('filters with stripParams and setParams (Go): stripParams trimmed and sorted; model never touched', () => {
    const cfg = load(peer('proxy: http://h\nmodels: [model_a]\nfilters:\n  stripParams: "top_p, temperature, model, top_p"\n  setParams:\n    max_tokens: 1000\n    model: nope'));
    expect(cfg.peers.p!.filters.stripParams).toEqual(['temperature', 'top_p']);
    expect(cfg.peers.p!.filters.setParams).toEqual({ max_tokens: 1000 });
  });

  it('timeouts: each key overrides its default; 0 disables it', () => {
    const cfg = load(peer('proxy: http://h\nmodels: [a]\ntimeouts:\n  connect: 5\n  responseHeader: 0'));
    expect(cfg.peers.p!.timeouts).toEqual({ ...DEFAULT_PEER_TIMEOUTS, connect: 5, responseHeader: 0 });
  });

  it('timeouts: a negative or a non-integer fails; so does one longer than a timer', () => {
    expect(loadError(peer('proxy: http://h\nmodels: [a]\ntimeouts:\n  connect: -1')).message).toBe(
      'config.yaml:6: peers.p.timeouts.connect must be >= 0 (seconds; 0 disables it)',
    );
    expect(loadError(peer('proxy: http://h\nmodels: [a]\ntimeouts:\n  idleConn: 1.5')).message).toBe(
      'config.yaml:6: peers.p.timeouts.idleConn: expected an integer, got number 1.5',
    );
    expect(loadError(peer('proxy: http://h\nmodels: [a]\ntimeouts:\n  keepalive: 9999999')).message).toMatch(
      /^config\.yaml:6: peers\.p\.timeouts\.keepalive must be at most 2147483 seconds/,
    );
  });

  it('unknown keys are warned about, with a hint, as everywhere', () => {
    const cfg = load(peer('proxy: http://h\nmodels: [a]\napikey: x\ntimeouts:\n  conect: 1'));
    expect(cfg.warnings).toEqual([
      'config.yaml:5: unknown key "peers.p.apikey" ignored (did you mean "apiKey"?)',
      'config.yaml:7: unknown key "peers.p.timeouts.conect" ignored (did you mean "connect"?)',
    ]);
  });

  it('macros and ${env.*} are expanded in peer values; a leftover macro fails', () => {
    const cfg = load(
      yaml`
        macros:
          host: "10.0.0.2"
          key: "sk-\${host}"
        peers:
          p:
            proxy: http://\${host}:8080
            apiKey: \${key}
            models: ["\${env.PEER_MODEL}"]
      `,
      { PEER_MODEL: 'qwen' },
    );
    expect(cfg.peers.p).toMatchObject({ proxy: 'http://10.0.0.2:8080', apiKey: 'sk-10.0.0.2', models: ['qwen'] });
    expect(loadError(peer('proxy: http://h\nmodels: ["${m}"]')).message).toBe("config.yaml:4: peers.p.models[0]: unknown macro '${m}'");
  });

  it('peers no longer warn as unsupported', () => {
    expect(load(peer('proxy: http://h\nmodels: [a]')).warnings).toEqual([]);
  });
});

describe('peers: namespace (reference 2.6)', () => {
  it('the same FQN from two peers is ambiguous (Go: ambiguous constructed name)', () => {
    const err = loadError(yaml`
      peers:
        a:
          proxy: http://h1
          models: [b/c]
        a/b:
          proxy: http://h2
          models: [c]
    `);
    expect(err.message).toBe('config.yaml:7: peer model name "a/b/c" is ambiguous between peers.a model "b/c" and peers.a/b model "c"');
  });

  it('an FQN equal to a local model id fails (Go: local model)', () => {
    const err = loadError(yaml`
      models:
        peer/model: {proxy: "http://h:1"}
      peers:
        peer: {proxy: "http://h", models: [model]}
    `);
    expect(err.message).toBe('config.yaml:2: model ID "peer/model" conflicts with fully qualified peer model name');
  });

  it('an FQN equal to a local alias fails (Go: local alias)', () => {
    const err = loadError(yaml`
      models:
        local:
          proxy: http://h:1
          aliases: [peer/model]
      peers:
        peer: {proxy: "http://h", models: [model]}
    `);
    expect(err.message).toBe('config.yaml:4: model local alias "peer/model" conflicts with fully qualified peer model name');
  });

  it("an FQN equal to a setParamsByID key (an automatic alias) fails (Go: LoadPeerNamespaceConflict)", () => {
    const err = loadError(yaml`
      models:
        local:
          cmd: echo \${PORT}
          filters:
            setParamsByID:
              peer/model:
                temperature: 0.5
      peers:
        peer:
          proxy: http://example.com
          models: [model]
    `);
    expect(err.message).toBe('config.yaml:2: model alias "peer/model" conflicts with fully qualified peer model name');
  });

  it('a bare peer model id may equal a local name: the local one wins at request time', () => {
    const cfg = load(yaml`
      models:
        shared: {proxy: "http://h:1", aliases: [alias]}
      peers:
        p: {proxy: "http://h", models: [shared, alias]}
    `);
    expect(cfg.peers.p!.models).toEqual(['shared', 'alias']);
  });

  it('selector ids and profile pin names are checked through peerNamespaceClashes (Go: selector, profile pin)', () => {
    const cfg = load(peer('proxy: http://h\nmodels: [model, other]').replace('  p:', '  peer:'));
    const claims = [
      { name: 'peer/other', label: 'profile work pin "peer/other"', where: 'config.yaml:9' },
      { name: 'not-a-peer', label: 'selector ID "not-a-peer"' },
      { name: 'peer/model', label: 'selector ID "peer/model"', where: 'config.yaml:7' },
    ];
    expect(peerNamespaceClashes(cfg.peers, claims)).toEqual([
      { fqn: 'peer/model', message: 'selector ID "peer/model" conflicts with fully qualified peer model name', where: 'config.yaml:7' },
      { fqn: 'peer/other', message: 'profile work pin "peer/other" conflicts with fully qualified peer model name', where: 'config.yaml:9' },
    ]);
    expect(() => checkPeerNamespace(cfg.peers, claims)).toThrow('config.yaml:7: selector ID "peer/model" conflicts with fully qualified peer model name');
    expect(() => checkPeerNamespace(cfg.peers, [claims[1]!])).not.toThrow();
  });

  it('FQNs are the peer id, a slash, the model id, whatever either holds', () => {
    expect(peerModelFqn('a/b', 'c/d')).toBe('a/b/c/d');
  });
});
