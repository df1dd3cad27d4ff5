/**
 * Token usage read from recorded answers (test/fixtures/activity/): llama.cpp (timings, draft
 * tokens, /infill arrays), vLLM (metrics), OpenAI (chat, Responses API) and Anthropic, whole
 * and streamed; the stream scanner reading them cut into chunks of every size must agree with
 * a read of the whole body (reference 7.3; llama-swap's metrics_test.go cases).
 */
import { readFileSync } from 'node:fs';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { tailMembers } from '../../src/observability/json-tail.ts';
import { SseUsageScanner } from '../../src/observability/sse-usage-scan.ts';
import { decodeBody, failedErrorMessage, parseJsonAnswer, TAIL_MIN_BYTES, parseJsonBody, parseSseBody, ZERO_TOKENS, type TokenMetrics } from '../../src/observability/usage-parse.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/activity/${name}`, import.meta.url), 'utf8');
const WALL = 10;
const unknown = { draft_tokens: -1, draft_acc_tokens: -1 };

/** The stream fed to a scanner in pieces of `size` bytes (1 cuts every line and every key). */
function scanned(text: string, size: number, wallMs = WALL) {
  const bytes = Buffer.from(text);
  const scanner = new SseUsageScanner();
  for (let i = 0; i < bytes.length; i += size) scanner.push(bytes.subarray(i, i + size));
  scanner.end();
  return scanner.usage.result(wallMs);
}

describe('whole JSON answers', () => {
  it('llama.cpp: timings win over usage; duration is at least prompt_ms + predicted_ms', () => {
    expect(parseJsonBody(fixture('llamacpp-chat.json'), '/v1/chat/completions', WALL)).toEqual({
      tokens: { cache_tokens: 12, input_tokens: 15, output_tokens: 8, prompt_per_second: 389.46, tokens_per_second: 76.76, ...unknown },
      durationMs: 142,
    });
    // A wall time longer than the server's own is kept.
    expect(parseJsonBody(fixture('llamacpp-chat.json'), '/v1/chat/completions', 5_000).durationMs).toBe(5_000);
  });

  it('llama.cpp /infill: an array, timings from its last element; elsewhere an array says nothing', () => {
    const body = fixture('llamacpp-infill.json');
    expect(parseJsonBody(body, '/infill', WALL)).toEqual({
      tokens: { cache_tokens: 0, input_tokens: 48, output_tokens: 7, prompt_per_second: 2096.07, tokens_per_second: 169.49, ...unknown },
      durationMs: 64,
    });
    expect(parseJsonBody(body, '/v1/completions', WALL)).toEqual({ tokens: ZERO_TOKENS, durationMs: WALL });
  });

  it('vLLM: metrics give speeds (prompt speed of the uncached part) and speculative drafts', () => {
    expect(parseJsonBody(fixture('vllm-chat.json'), '/v1/chat/completions', WALL)).toEqual({
      tokens: { cache_tokens: 32, input_tokens: 42, output_tokens: 10, prompt_per_second: 400, tokens_per_second: 80, draft_tokens: 12, draft_acc_tokens: 9 },
      durationMs: WALL,
    });
  });

  it('OpenAI: usage with prompt_tokens_details.cached_tokens; speeds unknown (-1)', () => {
    expect(parseJsonBody(fixture('openai-chat.json'), '/v1/chat/completions', WALL).tokens).toEqual({
      cache_tokens: 1024,
      input_tokens: 1117,
      output_tokens: 10,
      prompt_per_second: -1,
      tokens_per_second: -1,
      ...unknown,
    });
  });

  it('usage without a cached count: cache -1; no usage at all, or not JSON: all zeros', () => {
    expect(parseJsonBody('{"usage":{"prompt_tokens":3,"completion_tokens":4}}', '/v1/completions', WALL).tokens).toMatchObject({
      input_tokens: 3,
      output_tokens: 4,
      cache_tokens: -1,
    });
    expect(parseJsonBody('{"data":[{"embedding":[0.1]}]}', '/v1/embeddings', WALL).tokens).toEqual(ZERO_TOKENS);
    expect(parseJsonBody('not json', '/v1/completions', WALL).tokens).toEqual(ZERO_TOKENS);
  });
});

describe('streams', () => {
  const cases: Array<[string, Partial<TokenMetrics>, number?]> = [
    [
      'llamacpp-chat-stream.sse',
      { input_tokens: 27, output_tokens: 6, cache_tokens: 0, prompt_per_second: 442.04, tokens_per_second: 2.489, draft_tokens: 16, draft_acc_tokens: 11 },
      2471,
    ],
    ['vllm-chat-stream.sse', { input_tokens: 42, output_tokens: 3, cache_tokens: 16, prompt_per_second: 500, tokens_per_second: 50, ...unknown }],
    ['openai-chat-stream.sse', { input_tokens: 19, output_tokens: 2, cache_tokens: 0, prompt_per_second: -1, tokens_per_second: -1, ...unknown }],
    ['openai-responses-stream.sse', { input_tokens: 37, output_tokens: 11, cache_tokens: 5, prompt_per_second: -1, tokens_per_second: -1 }],
    ['anthropic-messages-stream.sse', { input_tokens: 472, output_tokens: 15, cache_tokens: 256, prompt_per_second: -1, tokens_per_second: -1 }],
  ];

  it.each(cases)('%s: read whole', (name, tokens, duration) => {
    const got = parseSseBody(fixture(name), WALL);
    expect(got.tokens).toMatchObject(tokens);
    expect(got.durationMs).toBe(duration ?? WALL);
  });

  it.each(cases)('%s: scanned in chunks of 1, 7, 64 and 4096 bytes, the same', (name) => {
    const whole = parseSseBody(fixture(name), WALL);
    for (const size of [1, 7, 64, 4096]) expect(scanned(fixture(name), size)).toEqual(whole);
  });

  it('a stream with no usage, timings or metrics: all zeros', () => {
    const text = 'data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n';
    expect(parseSseBody(text, WALL)).toEqual({ tokens: ZERO_TOKENS, durationMs: WALL });
    expect(scanned(text, 3)).toEqual({ tokens: ZERO_TOKENS, durationMs: WALL });
  });

  it('CRLF line ends, a last line without its newline, and a content delta that says "usage" are all fine', () => {
    const text =
      'data: {"choices":[{"delta":{"content":"the usage of timings"}}]}\r\n\r\n' +
      'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":9}}';
    for (const size of [1, 5, 1000]) expect(scanned(text, size).tokens).toMatchObject({ input_tokens: 5, output_tokens: 9, cache_tokens: -1 });
  });

  it('a line past the bound is skipped, and the next one still read', () => {
    const huge = `data: {"pad":"${'x'.repeat(5 * 1024 * 1024)}","usage":{"prompt_tokens":1}}\n\n`;
    const text = `${huge}data: {"usage":{"prompt_tokens":2,"completion_tokens":3}}\n\n`;
    expect(scanned(text, 64 * 1024).tokens).toMatchObject({ input_tokens: 2, output_tokens: 3 });
  });
});

describe('errors', () => {
  it('error_msg from error.message, error, message or detail, cut at 500; else the status text', () => {
    expect(failedErrorMessage(400, fixture('llamacpp-error.json'), null)).toBe('the request exceeds the available context size, try increasing it');
    expect(failedErrorMessage(500, '{"error":"boom"}', null)).toBe('boom');
    expect(failedErrorMessage(503, '{"message":"  Loading model  "}', null)).toBe('Loading model');
    expect(failedErrorMessage(422, '{"detail":"bad field"}', null)).toBe('bad field');
    expect(failedErrorMessage(500, '{"error":{"message":""},"detail":"second"}', null)).toBe('second');
    expect(failedErrorMessage(500, JSON.stringify({ error: { message: 'y'.repeat(600) } }), null)).toBe(`${'y'.repeat(500)}...`);
    expect(failedErrorMessage(502, '', null)).toBe('502 Bad Gateway');
    expect(failedErrorMessage(404, '404 page not found', null)).toBe('404 Not Found');
    expect(failedErrorMessage(599, null, null)).toBe('HTTP 599');
    expect(failedErrorMessage(500, null, 'incorrect header check')).toBe('response decode failed: incorrect header check');
  });
});

describe('compressed bodies', () => {
  it('gzip, deflate (zlib-wrapped and raw) are decoded; bad bytes throw; others pass', () => {
    const body = Buffer.from(fixture('openai-chat.json'));
    expect(decodeBody(gzipSync(body), 'gzip')).toEqual(body);
    expect(decodeBody(deflateSync(body), 'deflate')).toEqual(body);
    expect(decodeBody(deflateRawSync(body), ' Deflate ')).toEqual(body);
    expect(() => decodeBody(Buffer.from('nope'), 'gzip')).toThrow();
    expect(decodeBody(body, 'br')).toBe(body);
  });
});

/**
 * parseJsonAnswer reads only the members at the end of an answer (json-tail.ts): it must give
 * exactly what a whole parse gives, on every recorded answer and on the shapes a backwards
 * walk could misread; and say "unsure" (fall back) rather than guess.
 */
describe('whole JSON answers read from their end', () => {
  // Also padded past TAIL_MIN_BYTES with leading blanks (still the same JSON): the tail read itself.
  const same = (text: string, path = '/v1/chat/completions') => {
    expect(parseJsonAnswer(Buffer.from(text), path, WALL)).toEqual(parseJsonBody(text, path, WALL));
    const padded = ' '.repeat(TAIL_MIN_BYTES) + text;
    expect(parseJsonAnswer(Buffer.from(padded), path, WALL)).toEqual(parseJsonBody(padded, path, WALL));
  };
  const USAGE = '"usage":{"prompt_tokens":3,"completion_tokens":4,"prompt_tokens_details":{"cached_tokens":1}}';
  const TIMINGS = '"timings":{"prompt_n":5,"predicted_n":6,"prompt_per_second":7.5,"predicted_per_second":8,"prompt_ms":1,"predicted_ms":2}';

  it('agrees with the whole parse on every recorded JSON answer', () => {
    for (const name of ['llamacpp-chat.json', 'vllm-chat.json', 'openai-chat.json']) same(fixture(name));
    same(fixture('llamacpp-infill.json'), '/infill');
    same(fixture('llamacpp-infill.json'), '/v1/completions');
  });

  it('agrees on the shapes a backwards walk could get wrong', () => {
    const cases = [
      `{"choices":[{"message":{"content":"a \\"usage\\": {} \\\\"}}],${USAGE},${TIMINGS}}`, // quotes and backslashes in strings
      `{"choices":[{"text":"}]}{[\\"\\\\\\""}],${USAGE}}`, // brackets inside strings
      `{"choices":[{"text":"x","usage":{"prompt_tokens":99}}],"id":"a"}`, // usage only nested: none at the top
      `{"usage":{"prompt_tokens":1},"choices":[],"id":"b",${TIMINGS}}`, // usage far up, timings at the end
      `{"usage":{"prompt_tokens":1},${USAGE}}`, // duplicate keys: the last wins
      `{${USAGE},"usage":null}`,
      `  {\n  "id" : "c" ,\n  ${USAGE.replace(':', ' :\n ')} ,\n "n": -1.5e3, "t": true, "f": null, "e": [] }\n`, // whitespace, bare values
      `{"mëtrics":"é✓","metrics":{"time_to_first_token_ms":10,"mean_itl_ms":5},"x":"日本"}`, // multi-byte text
      `{"us\\u0061ge":{"prompt_tokens":2}}`, // an escaped key
      `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"usage":{"prompt_tokens":2},"k":0}`, // many members
      `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,${USAGE}}`,
      '{}',
      '{"usage":{}}',
      `[{${USAGE}}]`, // not an object
      `{"choices":[],${USAGE}`, // cut short
      `{"choices":[],${USAGE}}}`, // one brace too many
      `{"choices":[] ${USAGE}}`, // a comma missing
      `{"choices":[],${USAGE},${TIMINGS.slice(0, -1)}}`, // a bad value
      '{"usage":{"prompt_tokens":3}}',
      '{"usage":"3"}',
      '{"timings":5}',
      '',
      '   ',
    ];
    for (const text of cases) same(text);
  });

  it('reads the usage from the end of a large answer', () => {
    const big = `{"data":[${Array.from({ length: 2000 }, (_, i) => `{"embedding":[${i},0.5],"index":${i}}`).join(',')}],${USAGE}}`;
    same(big, '/v1/embeddings');
    // Read from the end indeed, not by the fallback; and unsure where a missing key is named further up.
    expect(tailMembers(Buffer.from(big), ['usage', 'timings', 'metrics'])?.get('usage')).toMatchObject({ prompt_tokens: 3 });
    const nested = `{"choices":[{"timings":1}],${USAGE}}`; // timings named further up: unsure
    expect(tailMembers(Buffer.from(nested), ['usage', 'timings'])).toBeNull();
    same(nested);
    const far = `{"choices":[{"timings":1}],"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,${USAGE}}`;
    expect(tailMembers(Buffer.from(far), ['usage', 'timings'])).toBeNull();
    same(far);
    expect(parseJsonAnswer(Buffer.from(big), '/v1/embeddings', WALL).tokens).toMatchObject({ input_tokens: 3, output_tokens: 4, cache_tokens: 1 });
  });
});
