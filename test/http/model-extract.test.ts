/**
 * Model extraction on raw Buffers. The JSON fast path (JSON.parse) and the scanning path
 * used for big bodies must agree on every input, valid or not. Rewriting is tested in
 * model-rewrite.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  extractJsonModel,
  extractModel,
  JSON_FULL_PARSE_LIMIT,
  parseJsonModel,
  plainDecimal,
  scanJsonModel,
} from '../../src/http/model-extract.ts';
import { AUDIO, multipart } from './multipart-body.ts';

const JSON_CT = { 'content-type': 'application/json' };
const post = (headers: Record<string, string>, url = '/v1/chat/completions') => ({ method: 'POST', headers, url });

/** Both JSON paths, checked to agree, then the (shared) answer. */
function bothPaths(body: Buffer | string): { model: string | null; stream: boolean } {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const parsed = parseJsonModel(buf);
  const scanned = scanJsonModel(buf);
  expect(scanned, `paths disagree on ${buf.toString('utf8').slice(0, 200)}`).toEqual(parsed);
  return parsed;
}

describe('JSON: both paths, tricky inputs', () => {
  it.each([
    ['{"model":"llama"}', 'llama'],
    ['  {\n\t"model" : "llama" \r\n}  ', 'llama'],
    ['{"options":{"model":"inner"},"model":"outer"}', 'outer'],
    ['{"model":"outer","options":{"model":"inner"}}', 'outer'],
    ['{"options":{"model":"inner"}}', null],
    ['{"messages":[{"model":"inner"}],"x":["model","model"]}', null],
    ['{"prompt":"\\"model\\":\\"fake\\"","model":"real"}', 'real'],
    ['{"prompt":"\\\\","model":"after-backslash"}', 'after-backslash'],
    ['{"p":"\\\\\\"","model":"after-escaped-quote"}', 'after-escaped-quote'],
    ['{"mod\\u0065l":"escaped-key"}', 'escaped-key'],
    ['{"\\u006d\\u006f\\u0064\\u0065\\u006c":"all-escaped"}', 'all-escaped'],
    ['{"model ":"space"}', null],
    ['{"Model":"case"}', null],
    ['{"model":"first","model":"last"}', 'last'],
    ['{"model":"caf\\u00e9 \\ud83d\\ude00"}', 'café 😀'],
    ['{"model":"a\\/b\\n"}', 'a/b\n'],
    ['{"model":"ünïcödé/模型"}', 'ünïcödé/模型'],
    ['{"model":""}', null],
    ['{"model":null}', null],
    ['{"model":12}', '12'],
    ['{"model":-7}', '-7'],
    ['{"model":1.50}', '1.5'],
    ['{"model":1e3}', '1000'],
    ['{"model":1E+21}', '1000000000000000000000'],
    ['{"model":25e-8}', '0.00000025'],
    ['{"model":-0}', '-0'],
    ['{"model":true}', 'true'],
    ['{"model":false}', 'false'],
    ['{"model":{"b":1, "a":[1, 2]}}', '{"b":1,"a":[1,2]}'],
    ['{"model":[]}', '[]'],
    ['{}', null],
    ['{"a":[[[[{"b":{"model":"deep"}}]]]],"model":"top"}', 'top'],
  ])('%s -> %s', (body, model) => {
    expect(bothPaths(body).model).toBe(model);
  });

  it.each([
    '',
    '   ',
    '{',
    '{"model":"x"',
    '{"model":"x",}',
    '{"model":"x"} x',
    '{"model":"x"}{}',
    '{"model":"unterminated}',
    '{"model":"raw\nnewline"}',
    '{"model":"tab\there"}',
    '{"model":"bad \\x escape"}',
    '{"model":"short \\u12 escape"}',
    "{'model':'single'}",
    '{model:"bare"}',
    '{"model":01}',
    '{"model":1.}',
    '{"model":.5}',
    '{"model":+1}',
    '{"model":-}',
    '{"model":1e}',
    '{"model":NaN}',
    '{"model":tru}',
    '{"model":"x","a":[1,2,]}',
    '{"model":"x","a":{"b":1,}}',
    '{"model":"x","a":[}',
    '{"model":"x","a":{]}',
    '{"model":"x","a":{"b"}}',
    '{"model":"x","a":{"b":}}',
    '{"model" "x"}',
    '\ufeff{"model":"bom"}',
    '["model","x"]',
    '"model"',
    'null',
    '12',
  ])('no model in %j', (body) => {
    expect(bothPaths(body)).toEqual({ model: null, stream: false });
  });

  it('invalid UTF-8 inside strings is not invalid JSON', () => {
    const body = Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xc3, 0xff, 0xfe]), Buffer.from('","model":"m"}')]);
    expect(bothPaths(body).model).toBe('m');
  });

  it('a model named by invalid UTF-8 decodes to replacement characters', () => {
    const body = Buffer.concat([Buffer.from('{"model":"a'), Buffer.from([0xff]), Buffer.from('"}')]);
    expect(bothPaths(body).model).toBe('a\ufffd');
  });

  it('deep nesting does not overflow the scanner', () => {
    const depth = 200_000;
    const body = `{"a":${'['.repeat(depth)}${']'.repeat(depth)},"model":"m"}`;
    expect(bothPaths(body).model).toBe('m');
    expect(bothPaths(`{"a":${'['.repeat(depth)}${']'.repeat(depth - 1)},"model":"m"}`).model).toBeNull();
  });

  it.each([
    ['true', true],
    ['false', false],
    ['"true"', true],
    ['"TRUE"', true],
    ['"t"', true],
    ['"1"', true],
    ['"yes"', false],
    ['"false"', false],
    ['1', true],
    ['0', false],
    ['0.5', true],
    ['null', false],
    ['{}', false],
    ['[1]', false],
  ])('stream %s -> %s', (value, stream) => {
    expect(bothPaths(`{"model":"m","stream":${value}}`)).toEqual({ model: 'm', stream });
  });

  it('stream without a model still parses; last stream wins', () => {
    expect(bothPaths('{"stream":true}')).toEqual({ model: null, stream: true });
    expect(bothPaths('{"stream":true,"model":"m","stream":false}')).toEqual({ model: 'm', stream: false });
  });

  it('agrees with JSON.parse on randomly mutated documents', () => {
    // A tiny deterministic PRNG, so a failure reproduces.
    let seed = 0x5eed;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const docs = [
      '{"model":"a","stream":true,"messages":[{"role":"user","content":"hi \\"there\\" \\\\ \\u00e9"}],"n":-1.5e3}',
      '{"x":{"model":"in","y":[null,true,false,{}]},"model":"out","stream":"1"}',
      '{"model":12,"options":{"a":[1,2,[3,{"b":"c"}]]},"stream":0}',
    ];
    const alphabet = '{}[]":,\\ -0123456789.eEtrufalsn\nmodel';
    let checked = 0;
    for (let round = 0; round < 3000; round++) {
      const doc = docs[rand(docs.length)]!;
      let s = doc;
      const edits = 1 + rand(3);
      for (let e = 0; e < edits; e++) {
        const at = rand(s.length + 1);
        const op = rand(3);
        const ch = alphabet[rand(alphabet.length)]!;
        if (op === 0) s = s.slice(0, at) + s.slice(at + 1);
        else if (op === 1) s = s.slice(0, at) + ch + s.slice(at);
        else s = s.slice(0, at) + ch + s.slice(at + 1);
      }
      bothPaths(s);
      checked++;
    }
    expect(checked).toBe(3000);
  });

  it('bodies from 1 MiB up are scanned, and answer like the parse', () => {
    const filler = 'x'.repeat(JSON_FULL_PARSE_LIMIT);
    const big = Buffer.from(`{"messages":[{"content":"${filler}","model":"inner"}],"model":"big","stream":true}`);
    expect(big.length).toBeGreaterThanOrEqual(JSON_FULL_PARSE_LIMIT);
    expect(extractJsonModel(big)).toEqual({ model: 'big', stream: true });
    expect(bothPaths(big)).toEqual({ model: 'big', stream: true });
    const broken = Buffer.from(`{"messages":[{"content":"${filler}"}],"model":"big",}`);
    expect(extractJsonModel(broken)).toEqual({ model: null, stream: false });
  });

  it('plainDecimal matches Go FormatFloat(f, -1)', () => {
    expect(plainDecimal(1e21)).toBe('1000000000000000000000');
    expect(plainDecimal(1.5e-7)).toBe('0.00000015');
    expect(plainDecimal(-1.25e22)).toBe('-12500000000000000000000');
    expect(plainDecimal(123.456)).toBe('123.456');
  });
});

// ---------------------------------------------------------------------------------------

describe('extractModel', () => {
  it('GET reads the query', async () => {
    expect(await extractModel({ method: 'GET', headers: {}, url: '/props?model=a%20b&stream=true' }, Buffer.alloc(0))).toEqual({
      model: 'a b',
      stream: true,
    });
    expect(await extractModel({ method: 'GET', headers: {}, url: '/props?stream=1' }, Buffer.alloc(0))).toEqual({
      model: null,
      stream: false,
      reason: { kind: 'get-without-query' },
    });
    expect(await extractModel({ method: 'GET', headers: {}, url: '/props?model=' }, Buffer.alloc(0))).toEqual({
      model: null,
      stream: false,
      reason: { kind: 'empty-model-field', source: 'query', value: 'empty' },
    });
  });

  it('JSON reads the body only; the query is ignored', async () => {
    const body = Buffer.from('{"model":"m","stream":true}');
    expect(await extractModel(post(JSON_CT, '/x?model=q'), body)).toEqual({ model: 'm', stream: true });
    expect(await extractModel(post(JSON_CT, '/x?model=q'), Buffer.from('{}'))).toEqual({
      model: null,
      stream: false,
      reason: { kind: 'no-model-field', source: 'json' },
    });
  });

  it('JSON detection: Content-Type contains application/json, any case', async () => {
    const body = Buffer.from('{"model":"m"}');
    expect((await extractModel(post({ 'content-type': 'application/json; charset=utf-8' }), body)).model).toBe('m');
    expect((await extractModel(post({ 'content-type': 'Application/JSON' }), body)).model).toBe('m');
  });

  it('invalid JSON names no model', async () => {
    // The parser's own words, with the position (Node 22+ adds line and column).
    expect(await extractModel(post(JSON_CT), Buffer.from('{"model":"m",'))).toEqual({
      model: null,
      stream: false,
      reason: { kind: 'invalid-json', detail: expect.stringMatching(/position 13\b/) },
    });
  });

  it('JSON without a JSON content type (curl -d) names no model', async () => {
    const body = Buffer.from('{"model":"m"}');
    expect((await extractModel(post({ 'content-type': 'application/x-www-form-urlencoded' }), body)).model).toBeNull();
    expect((await extractModel(post({}), body)).model).toBeNull();
  });

  it('multipart: the model field, before or after a file', async () => {
    const b = 'XyZ';
    const ct = { 'content-type': `multipart/form-data; boundary=${b}` };
    const before = multipart(b, [
      { name: 'model', value: 'whisper' },
      { name: 'file', value: AUDIO, filename: 'a.wav', type: 'audio/wav' },
    ]);
    expect(await extractModel(post(ct), before)).toEqual({ model: 'whisper', stream: false });
    const after = multipart(b, [
      { name: 'file', value: AUDIO, filename: 'a.wav', type: 'audio/wav' },
      { name: 'stream', value: 'true' },
      { name: 'model', value: 'whisper' },
      { name: 'model', value: 'second' },
    ]);
    expect(await extractModel(post(ct), after)).toEqual({ model: 'whisper', stream: true });
  });

  it('multipart: a query model wins over the form field, as in Go FormValue', async () => {
    const b = 'b0undary';
    const ct = { 'content-type': `multipart/form-data; boundary="${b}"` };
    const body = multipart(b, [{ name: 'model', value: 'form' }]);
    expect(await extractModel(post(ct, '/v1/audio/transcriptions?model=query'), body)).toEqual({ model: 'query', stream: false });
    expect(await extractModel(post(ct, '/v1/audio/transcriptions'), body)).toEqual({ model: 'form', stream: false });
    // No form field: the query still names it.
    const noField = multipart(b, [{ name: 'file', value: AUDIO, filename: 'a.wav' }]);
    expect((await extractModel(post(ct, '/x?model=q2'), noField)).model).toBe('q2');
    expect((await extractModel(post(ct, '/x'), noField)).model).toBeNull();
  });

  it('multipart: a model part typed application/octet-stream without filename is a value', async () => {
    const b = 'B';
    const body = multipart(b, [{ name: 'model', value: 'octet', type: 'application/octet-stream' }]);
    expect((await extractModel(post({ 'content-type': `multipart/form-data; boundary=${b}` }), body)).model).toBe('octet');
  });

  it('multipart: a file part named model is not the model', async () => {
    const b = 'B';
    const body = multipart(b, [{ name: 'model', value: 'file-content', filename: 'm.txt' }]);
    expect((await extractModel(post({ 'content-type': `multipart/form-data; boundary=${b}` }), body)).model).toBeNull();
  });

  it('multipart: stops at the model field (the rest is never parsed)', async () => {
    const b = 'B';
    // The model, then a file whose body never ends: a full parse would fail.
    const body = Buffer.concat([
      multipart(b, [{ name: 'model', value: 'early' }]).subarray(0, -`--${b}--\r\n`.length),
      Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\n`),
      Buffer.alloc(1_000_000, 1),
    ]);
    expect((await extractModel(post({ 'content-type': `multipart/form-data; boundary=${b}` }), body)).model).toBe('early');
  });

  it('multipart: no boundary or a broken body names no model', async () => {
    const body = multipart('B', [{ name: 'file', value: 'x', filename: 'f' }]);
    expect((await extractModel(post({ 'content-type': 'multipart/form-data' }), body)).model).toBeNull();
    const truncated = Buffer.from('--B\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\nxxx');
    expect((await extractModel(post({ 'content-type': 'multipart/form-data; boundary=B' }), truncated)).model).toBeNull();
  });

  it('urlencoded: body first, then query', async () => {
    const ct = { 'content-type': 'application/x-www-form-urlencoded' };
    expect(await extractModel(post(ct, '/x?model=q'), Buffer.from('model=a+b%2Fc&stream=true'))).toEqual({
      model: 'a b/c',
      stream: true,
    });
    expect(await extractModel(post(ct, '/x?model=q&stream=true'), Buffer.from('other=1'))).toEqual({ model: 'q', stream: true });
    // An empty body value still shadows the query, as in Go.
    expect((await extractModel(post(ct, '/x?model=q'), Buffer.from('model='))).model).toBeNull();
    expect((await extractModel({ method: 'PUT', headers: ct, url: '/x' }, Buffer.from('model=p'))).model).toBe('p');
    expect((await extractModel({ method: 'DELETE', headers: ct, url: '/x?model=q' }, Buffer.from('model=p'))).model).toBe('q');
  });

  it('any other content type: query only', async () => {
    const body = Buffer.from('model=ignored');
    expect((await extractModel(post({ 'content-type': 'text/plain' }, '/x?model=q'), body)).model).toBe('q');
    expect((await extractModel(post({}, '/x?model=q&stream=true'), body))).toEqual({ model: 'q', stream: true });
  });
});

describe('why no model was found (issue 11)', () => {
  const reasonOf = async (req: Parameters<typeof extractModel>[0], body: string | Buffer) =>
    (await extractModel(req, typeof body === 'string' ? Buffer.from(body) : body)).reason;

  it('is only worked out when no model was found', async () => {
    expect(await extractModel(post(JSON_CT), Buffer.from('{"model":"m"}'))).not.toHaveProperty('reason');
    const b = 'B';
    const ct = { 'content-type': `multipart/form-data; boundary=${b}` };
    expect(await extractModel(post(ct), multipart(b, [{ name: 'model', value: 'w' }]))).not.toHaveProperty('reason');
  });

  it('JSON bodies: empty, malformed, not an object, no field, empty or null field', async () => {
    expect(await reasonOf(post(JSON_CT), '')).toEqual({ kind: 'empty-body' });
    expect(await reasonOf(post(JSON_CT), ' \n ')).toEqual({ kind: 'empty-body' });
    expect(await reasonOf(post(JSON_CT), '{"model":"a" "x":1}')).toEqual({
      kind: 'invalid-json',
      detail: expect.stringMatching(/after property value in JSON at position 13/),
    });
    expect(await reasonOf(post(JSON_CT), '[{"model":"a"}]')).toEqual({ kind: 'json-not-object', got: 'an array' });
    expect(await reasonOf(post(JSON_CT), '"a"')).toEqual({ kind: 'json-not-object', got: 'a string' });
    expect(await reasonOf(post(JSON_CT), 'null')).toEqual({ kind: 'json-not-object', got: 'null' });
    expect(await reasonOf(post(JSON_CT), '{"messages":[]}')).toEqual({ kind: 'no-model-field', source: 'json' });
    expect(await reasonOf(post(JSON_CT), '{"model":""}')).toEqual({ kind: 'empty-model-field', source: 'json', value: 'empty' });
    expect(await reasonOf(post(JSON_CT), '{"model":null}')).toEqual({ kind: 'empty-model-field', source: 'json', value: 'null' });
  });

  it('big JSON bodies get the same reasons from the scanner, without the position', async () => {
    const pad = ' '.repeat(JSON_FULL_PARSE_LIMIT);
    expect(await reasonOf(post(JSON_CT), `{"model":"a",${pad}`)).toEqual({ kind: 'invalid-json' });
    expect(await reasonOf(post(JSON_CT), `[1${pad}]`)).toEqual({ kind: 'json-not-object', got: 'an array' });
    expect(await reasonOf(post(JSON_CT), `{"x":1${pad}}`)).toEqual({ kind: 'no-model-field', source: 'json' });
    expect(await reasonOf(post(JSON_CT), `{"model":null${pad}}`)).toEqual({ kind: 'empty-model-field', source: 'json', value: 'null' });
    expect(await reasonOf(post(JSON_CT), `{"model":""${pad}}`)).toEqual({ kind: 'empty-model-field', source: 'json', value: 'empty' });
  });

  it('curl -d: JSON sent as application/x-www-form-urlencoded', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    expect(await reasonOf(post(form), '{"model":"m","messages":[]}')).toEqual({ kind: 'json-sent-as-form' });
    expect(await reasonOf(post(form), 'a=1')).toEqual({ kind: 'no-model-field', source: 'form' });
    expect(await reasonOf(post(form), 'model=')).toEqual({ kind: 'empty-model-field', source: 'form', value: 'empty' });
    expect(await reasonOf(post(form), Buffer.alloc(10 * 1024 * 1024 + 1, 0x61))).toEqual({ kind: 'form-too-large', limit: 10 * 1024 * 1024 });
  });

  it('another or no Content-Type: the body is not read', async () => {
    expect(await reasonOf(post({ 'content-type': 'text/plain;charset=UTF-8' }), '{"model":"m"}')).toEqual({
      kind: 'body-not-read',
      contentType: 'text/plain',
      emptyBody: false,
    });
    expect(await reasonOf(post({}), '{"model":"m"}')).toEqual({ kind: 'body-not-read', contentType: null, emptyBody: false });
    expect(await reasonOf(post({}), '')).toEqual({ kind: 'body-not-read', contentType: null, emptyBody: true });
    expect(await reasonOf(post({}, '/x?model='), '')).toEqual({ kind: 'empty-model-field', source: 'query', value: 'empty' });
  });

  it('multipart: no field, an empty field, a body that cannot be parsed', async () => {
    const b = 'B';
    const ct = { 'content-type': `multipart/form-data; boundary=${b}` };
    expect(await reasonOf(post(ct), multipart(b, [{ name: 'file', value: AUDIO, filename: 'a.wav' }]))).toEqual({
      kind: 'no-model-field',
      source: 'multipart',
    });
    expect(await reasonOf(post(ct), multipart(b, [{ name: 'model', value: '' }]))).toEqual({
      kind: 'empty-model-field',
      source: 'multipart',
      value: 'empty',
    });
    expect(await reasonOf(post({ 'content-type': 'multipart/form-data' }), 'x')).toEqual({
      kind: 'multipart-unreadable',
      detail: expect.stringMatching(/boundary/i),
    });
    expect(await reasonOf(post(ct), '--B\r\nContent-Disposition: form-data; name="file"\r\n\r\nno end')).toEqual({
      kind: 'multipart-unreadable',
      detail: expect.any(String),
    });
  });
});
