/**
 * Text that reaches a log (issue 10, item 9): control characters escaped so one message is
 * one line and nothing in it drives a terminal; quotes escaped inside quoted fields, blanks
 * in bare ones; header redaction by rule (item 10).
 */
import { describe, expect, it } from 'vitest';
import { escapeBare, escapeControl, escapeQuoted, OutputEscaper } from '../../src/observability/log-text.ts';
import { isSecretHeader } from '../../src/observability/redact.ts';

describe('escapeControl', () => {
  it.each([
    ['plain text stays', 'swap to a: running [b]', 'swap to a: running [b]'],
    ['a newline cannot add a line', 'evil\n[INFO] fake', 'evil\\n[INFO] fake'],
    ['ESC cannot start a sequence', 'm\x1b[2Jx', 'm\\x1b[2Jx'],
    ['C1 (CSI, as Node decodes header byte 0x9b)', 'a\u009b31mb', 'a\\x9b31mb'],
    ['DEL and NUL', 'a\x7fb\x00', 'a\\x7fb\\x00'],
    ['CR', 'a\rb', 'a\\rb'],
    ['line separator and bidi override', 'a\u2028b\u202ec', 'a\\u2028b\\u202ec'],
    ['tab and non-ASCII text stay', 'a\tb é 模型', 'a\tb é 模型'],
    ['quotes stay outside quoted fields', 'say "hi"', 'say "hi"'],
  ])('%s', (_name, input, output) => {
    expect(escapeControl(input)).toBe(output);
  });
});

describe('fields of the access line', () => {
  it('a quoted field cannot close its quotes', () => {
    expect(escapeQuoted('curl/8" 200 "x\\')).toBe('curl/8\\" 200 \\"x\\\\');
    expect(escapeQuoted('tab\there\x1b')).toBe('tab\\there\\x1b');
  });

  it('a bare field cannot add fields', () => {
    expect(escapeBare('1.2.3.4" "fake" 200')).toBe('1.2.3.4\\"\\x20\\"fake\\"\\x20200');
    expect(escapeBare('::ffff:127.0.0.1')).toBe('::ffff:127.0.0.1');
  });
});

describe('OutputEscaper (a process output, chunk by chunk)', () => {
  const run = (chunks: Array<string | number[]>): string => {
    const e = new OutputEscaper();
    return chunks.map((c) => e.push(typeof c === 'string' ? Buffer.from(c, 'utf8') : Uint8Array.from(c))).join('');
  };

  it('keeps lines and tabs, escapes control characters', () => {
    expect(run(['line 1\n\tline 2\n', 'bell\x07 esc\x1b[31mred\n'])).toBe('line 1\n\tline 2\nbell\\x07 esc\\x1b[31mred\n');
  });

  it('a carriage return becomes a line break, CRLF one line break, also across chunks', () => {
    expect(run(['10%\r20%\r', '\n30%\r\n'])).toBe('10%\n20%\n30%\n');
  });

  it('a C1 control split across two chunks is still caught', () => {
    // U+009B (CSI) in UTF-8 is C2 9B.
    expect(run([[0x61, 0xc2], [0x9b, 0x32, 0x4a]])).toBe('a\\x9b2J');
  });

  it('multi-byte text split across chunks stays intact', () => {
    const bytes = [...Buffer.from('模型 ok\n', 'utf8')];
    expect(run([bytes.slice(0, 2), bytes.slice(2, 4), bytes.slice(4)])).toBe('模型 ok\n');
  });
});

describe('secret headers, by rule', () => {
  it.each([
    'Authorization',
    'proxy-authorization',
    'Cookie',
    'set-cookie',
    'X-Api-Key',
    'Api-Key',
    'X-Goog-Api-Key',
    'X-Auth-Token',
    'x-amz-security-token',
    'X-Client-Secret',
    'X-Password',
  ])('%s is redacted', (name) => {
    expect(isSecretHeader(name)).toBe(true);
  });

  it.each(['Accept', 'Content-Type', 'User-Agent', 'X-Session-Id', 'Keep-Alive', 'X-Request-Id'])('%s is shown', (name) => {
    expect(isSecretHeader(name)).toBe(false);
  });
});
