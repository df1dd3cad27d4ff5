/**
 * swapstate's own keys for the HTTP layer (issue 10): maxBufferedRequestBytes, allowedHosts,
 * allowedOrigins, trustProxy. Decoded, validated and normalized here; the behaviour is the
 * HTTP layer's.
 */
import { describe, expect, it } from 'vitest';
import { load, loadError, yaml } from './helpers.ts';

describe('maxBufferedRequestBytes', () => {
  it('defaults to 256 MiB, or to maxRequestBodyBytes when that is larger', () => {
    expect(load('').maxBufferedRequestBytes).toBe(256 * 1024 * 1024);
    expect(load('maxRequestBodyBytes: 1073741824\n').maxBufferedRequestBytes).toBe(1073741824);
    expect(load('maxBufferedRequestBytes: 1000\nmaxRequestBodyBytes: 1000\n').maxBufferedRequestBytes).toBe(1000);
  });

  it('must be a positive integer, at least maxRequestBodyBytes', () => {
    expect(loadError('maxBufferedRequestBytes: 0\n').message).toBe('config.yaml:1: maxBufferedRequestBytes must be a positive integer (bytes)');
    expect(loadError('maxBufferedRequestBytes: 1.5\n').message).toBe('config.yaml:1: maxBufferedRequestBytes: expected an integer, got number 1.5');
    expect(loadError('maxBufferedRequestBytes: 1000\n').message).toBe(
      'config.yaml:1: maxBufferedRequestBytes must be at least maxRequestBodyBytes (67108864)',
    );
    expect(loadError('maxRequestBodyBytes: 2048\nmaxBufferedRequestBytes: 2047\n').message).toBe(
      'config.yaml:2: maxBufferedRequestBytes must be at least maxRequestBodyBytes (2048)',
    );
  });
});

describe('allowedHosts', () => {
  it('lowercases names; accepts *, .domain, IPv4 and bracketed IPv6', () => {
    const cfg = load('allowedHosts: [LLM.Example.COM, "*", .lan, 192.168.1.5, "[::1]", "[FE80::1]", box]\n');
    expect(cfg.allowedHosts).toEqual(['llm.example.com', '*', '.lan', '192.168.1.5', '[::1]', '[fe80::1]', 'box']);
  });

  it('refuses anything that is not a host name, naming the index', () => {
    const cases: Array<[entry: string, message: string]> = [
      ['""', 'allowedHosts[1]: empty host name'],
      ['"a b"', 'allowedHosts[1]: invalid host "a b": contains whitespace or control characters'],
      ['"http://a.com"', 'allowedHosts[1]: invalid host "http://a.com": a host name only, without scheme or path'],
      ['"a.com:8080"', 'allowedHosts[1]: invalid host "a.com:8080": a host name only, without port (an IPv6 address goes in brackets: "[::1]")'],
      ['"::1"', 'allowedHosts[1]: invalid host "::1": a host name only, without port (an IPv6 address goes in brackets: "[::1]")'],
      ['"[::1]:80"', 'allowedHosts[1]: invalid host "[::1]:80": not an IPv6 address in brackets'],
      ['"[a.com]"', 'allowedHosts[1]: invalid host "[a.com]": not an IPv6 address in brackets'],
      ['"*.a.com"', 'allowedHosts[1]: invalid host "*.a.com": "*" stands alone; ".example.com" allows every subdomain of example.com'],
      ['"."', 'allowedHosts[1]: invalid host ".": no domain after "."'],
    ];
    for (const [entry, message] of cases) {
      expect(loadError(`allowedHosts:\n  - ok.example\n  - ${entry}\n`).message).toBe(`config.yaml:3: ${message}`);
    }
    expect(loadError('allowedHosts: a.com\n').message).toBe('config.yaml:1: allowedHosts: expected a list, got string "a.com"');
  });
});

describe('allowedOrigins', () => {
  it('keeps origins as browsers send them, lowercased; accepts *', () => {
    const cfg = load('allowedOrigins: ["HTTPS://Chat.Example.com", "http://localhost:3000", "*", "http://[::1]:8080"]\n');
    expect(cfg.allowedOrigins).toEqual(['https://chat.example.com', 'http://localhost:3000', '*', 'http://[::1]:8080']);
  });

  it('refuses anything but scheme://host[:port], naming the index and the origin to write instead', () => {
    const cases: Array<[entry: string, message: string]> = [
      ['chat.example.com', 'invalid origin "chat.example.com": expected scheme://host[:port], like "https://chat.example.com"'],
      ['https://chat.example.com/', 'invalid origin "https://chat.example.com/": an origin is scheme://host[:port] and nothing else: "https://chat.example.com"'],
      ['https://a.com/app', 'invalid origin "https://a.com/app": an origin is scheme://host[:port] and nothing else: "https://a.com"'],
      ['https://a.com:443', 'invalid origin "https://a.com:443": an origin is scheme://host[:port] and nothing else: "https://a.com"'],
      ['https://u@a.com', 'invalid origin "https://u@a.com": an origin is scheme://host[:port] and nothing else: "https://a.com"'],
      ['ftp://a.com', 'invalid origin "ftp://a.com": the scheme must be http or https'],
      ['"null"', 'invalid origin "null": expected scheme://host[:port], like "https://chat.example.com"'],
    ];
    for (const [entry, message] of cases) {
      expect(loadError(`allowedOrigins:\n  - "*"\n  - ${entry}\n`).message).toBe(`config.yaml:3: allowedOrigins[1]: ${message}`);
    }
  });
});

describe('trustProxy (Express `trust proxy` semantics)', () => {
  it('absent is false: trust nothing', () => {
    expect(load('').trustProxy).toBe(false);
    expect(load('trustProxy: false\n').trustProxy).toBe(false);
  });

  it('true, a hop count, a comma-separated string or a list', () => {
    expect(load('trustProxy: true\n').trustProxy).toBe(true);
    expect(load('trustProxy: 2\n').trustProxy).toBe(2);
    expect(load('trustProxy: "loopback, 10.0.0.0/8 ,fd00::/8"\n').trustProxy).toEqual(['loopback', '10.0.0.0/8', 'fd00::/8']);
    const cfg = load(yaml`
      trustProxy:
        - uniquelocal
        - linklocal
        - 203.0.113.7
        - 10.0.0.0/255.0.0.0
    `);
    expect(cfg.trustProxy).toEqual(['uniquelocal', 'linklocal', '203.0.113.7', '10.0.0.0/255.0.0.0']);
  });

  it('refuses a bad address, a negative hop count and other types', () => {
    expect(loadError('trustProxy: "loopback, 10.0.0.300"\n').message).toBe('config.yaml:1: trustProxy: invalid address "10.0.0.300"');
    expect(loadError('trustProxy: "loopback,"\n').message).toBe('config.yaml:1: trustProxy: invalid address ""');
    expect(loadError('trustProxy: [loopback, 10.0.0.0/33]\n').message).toBe('config.yaml:1: trustProxy[1]: invalid address "10.0.0.0/33"');
    expect(loadError('trustProxy:\n  - loopback\n  - proxy.lan\n').message).toBe('config.yaml:3: trustProxy[1]: invalid address "proxy.lan"');
    expect(loadError('trustProxy: -1\n').message).toBe('config.yaml:1: trustProxy: a number of hops must be >= 0, got -1');
    expect(loadError('trustProxy: {a: 1}\n').message).toBe(
      'config.yaml:1: trustProxy: expected true, false, a number of hops or addresses, got a mapping',
    );
  });
});

it('the new keys take global macros, and leftovers are reported', () => {
  const cfg = load('macros:\n  lan: 192.168.1.0/24\ntrustProxy: ["${lan}"]\n');
  expect(cfg.trustProxy).toEqual(['192.168.1.0/24']);
  expect(loadError('allowedOrigins: ["${nope}"]\n').message).toBe("config.yaml:1: allowedOrigins[0]: unknown macro '${nope}'");
});
