/**
 * Request-body filters and `useModelName` (reference 2.15, 3.4) through real HTTP: the echo
 * upstream answers with the exact bytes and headers it received, so the tests see what
 * swapstate forwarded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  echoModel,
  echoOf,
  postJson,
  sharedGroup,
  startOnFreePorts,
  type Echo,
  type RunningServer,
} from './helpers.ts';

let srv: RunningServer;
let url: string;

beforeAll(async () => {
  srv = await startOnFreePorts(`${sharedGroup(['um', 'fm', 'byid', 'plain'])}
models:
${echoModel('um', 'useModelName: "org/Real-Model:Q4_K_M"')}
${echoModel(
  'fm',
  `useModelName: upstream-name
filters:
  stripParams: "temperature, top_k , nested.drop, model, temperature"
  setParams:
    max_tokens: 99
    chat_template_kwargs.enable_thinking: false
    stop: ["</s>"]
    model: evil
  setParamsByID:
    fm-think:
      chat_template_kwargs.enable_thinking: true
      reasoning: {effort: high}`,
)}
${echoModel(
  'byid',
  `filters:
  setParamsByID:
    byid-fast:
      speed: fast
      reasoning.effort: low
    "\${MODEL_ID}:slow":
      speed: slow`,
)}
${echoModel('plain')}
`);
  url = srv.url;
});

afterAll(async () => {
  await srv?.stop();
});

/** Posts raw JSON text and returns the echo. */
async function sendJson(text: string, path = '/v1/chat/completions'): Promise<Echo> {
  return echoOf(await postJson(`${url}${path}`, text));
}

/** The echo's body, checked for a correct Content-Length first. */
function received(echo: Echo): string {
  expect(echo.headers['content-length']).toBe(String(echo.length));
  expect(echo.headers['transfer-encoding']).toBeUndefined();
  return echo.body;
}

const BOUNDARY = '----swapstate-test-boundary';
const FILE_BYTES = Buffer.from([0, 1, 2, 0xff, 0x0d, 0x0a, 0x2d, 0x2d, 0x41]);

/** A multipart body built by hand, so its exact bytes are known. */
function multipartBody(model: string): Buffer {
  return Buffer.concat([
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\n\r\n${model}\r\n` +
        `--${BOUNDARY}\r\nContent-Disposition: form-data; name="temperature"\r\n\r\n0.7\r\n` +
        `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n`,
      'latin1',
    ),
    FILE_BYTES,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`, 'latin1'),
  ]);
}

async function sendMultipart(model: string): Promise<{ echo: Echo; raw: Buffer }> {
  const res = await fetch(`${url}/v1/audio/transcriptions`, {
    method: 'POST',
    headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    body: multipartBody(model),
  });
  const echo = await echoOf(res);
  const raw = Buffer.from(echo.bodyBase64, 'base64');
  expect(echo.headers['content-length']).toBe(String(raw.length));
  return { echo, raw };
}

describe('useModelName', () => {
  it('rewrites the model and nothing else, byte for byte', async () => {
    const sent = '{ "model" : "um",\n\t"n": 18446744073709551615, "messages":[{"role":"user","content":"h\\u00e9 \u2713"}] }';
    const echo = await sendJson(sent);
    expect(received(echo)).toBe(sent.replace('"um"', '"org/Real-Model:Q4_K_M"'));
  });

  it('a rewritten body gets a matching Content-Length', async () => {
    const sent = JSON.stringify({ model: 'um', prompt: 'x'.repeat(5000) });
    const echo = await sendJson(sent, '/v1/completions');
    expect(received(echo).length).toBe(sent.length - '"um"'.length + '"org/Real-Model:Q4_K_M"'.length);
    expect(JSON.parse(echo.body)).toEqual({ model: 'org/Real-Model:Q4_K_M', prompt: 'x'.repeat(5000) });
  });

  it('multipart: the model field is rewritten, everything else kept exactly', async () => {
    const { raw, echo } = await sendMultipart('fm');
    expect(echo.url).toBe('/v1/audio/transcriptions');
    expect(raw.equals(multipartBody('upstream-name'))).toBe(true);
  });

  it('multipart via an alias: rewritten too; other filters never touch forms', async () => {
    const { raw } = await sendMultipart('fm-think');
    expect(raw.equals(multipartBody('upstream-name'))).toBe(true); // temperature not stripped
  });

  it('multipart without useModelName is forwarded byte-identical', async () => {
    const { raw } = await sendMultipart('plain');
    expect(raw.equals(multipartBody('plain'))).toBe(true);
  });

  it('GET query and urlencoded bodies are not rewritten', async () => {
    const get = await echoOf(await fetch(`${url}/props?model=fm&temperature=1`));
    expect(get.url).toBe('/props?model=fm&temperature=1');
    const form = await echoOf(
      await fetch(`${url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'model=fm&temperature=1',
      }),
    );
    expect(received(form)).toBe('model=fm&temperature=1');
  });
});

describe('filters', () => {
  const request = {
    model: 'fm',
    temperature: 0.2,
    top_k: 40,
    top_p: 0.9,
    max_tokens: 5,
    nested: { drop: 1, keep: 2 },
    messages: [{ role: 'user', content: 'hi' }],
  };

  it('useModelName, stripParams and setParams (dot paths nest); model is never stripped or set', async () => {
    const echo = await sendJson(JSON.stringify(request));
    const body = JSON.parse(received(echo)) as Record<string, unknown>;
    expect(body).toEqual({
      model: 'upstream-name',
      top_p: 0.9,
      max_tokens: 99,
      nested: { keep: 2 },
      messages: [{ role: 'user', content: 'hi' }],
      chat_template_kwargs: { enable_thinking: false },
      stop: ['</s>'],
    });
    expect(body).not.toHaveProperty('temperature');
    expect(body).not.toHaveProperty('top_k');
  });

  it('setParamsByID for the requested alias is applied after setParams', async () => {
    const echo = await sendJson(JSON.stringify({ ...request, model: 'fm-think', chat_template_kwargs: { other: 1 } }));
    expect(JSON.parse(received(echo))).toEqual({
      model: 'upstream-name',
      top_p: 0.9,
      max_tokens: 99,
      nested: { keep: 2 },
      messages: [{ role: 'user', content: 'hi' }],
      chat_template_kwargs: { other: 1, enable_thinking: true },
      stop: ['</s>'],
      reasoning: { effort: 'high' },
    });
  });

  it('setParamsByID keys are aliases; their params apply to that name only, the body keeps it', async () => {
    const fast = JSON.parse(received(await sendJson(JSON.stringify({ model: 'byid-fast', prompt: 'p' }), '/v1/completions')));
    expect(fast).toEqual({ model: 'byid-fast', prompt: 'p', speed: 'fast', reasoning: { effort: 'low' } });

    const slow = JSON.parse(received(await sendJson(JSON.stringify({ model: 'byid:slow', speed: 'x' }), '/v1/completions')));
    expect(slow).toEqual({ model: 'byid:slow', speed: 'slow' });
  });

  it('the real id has no setParamsByID entry: its body is forwarded byte-identical', async () => {
    const sent = '{"model":"byid",   "prompt":"p","speed" :"client"}';
    const echo = await sendJson(sent, '/v1/completions');
    expect(echo.id).toBe('byid');
    expect(received(echo)).toBe(sent);
  });

  it('the automatic aliases are listed under the model', async () => {
    const list = (await (await fetch(`${url}/v1/models`)).json()) as {
      data: Array<{ id: string; meta: { llamaswap: { aliases?: string[] } } }>;
    };
    const byId = new Map(list.data.map((r) => [r.id, r]));
    expect(byId.get('fm')?.meta.llamaswap.aliases).toEqual(['fm-think']);
    expect(byId.get('byid')?.meta.llamaswap.aliases).toEqual(['byid-fast', 'byid:slow']);
    expect(byId.get('plain')?.meta.llamaswap.aliases).toBeUndefined();
  });

  it('/upstream/<model>/... gets neither filters nor useModelName', async () => {
    const sent = JSON.stringify(request);
    const echo = await echoOf(await postJson(`${url}/upstream/fm/v1/chat/completions`, sent));
    expect(echo.url).toBe('/v1/chat/completions');
    expect(received(echo)).toBe(sent);
  });
});

describe('no rule: the body is forwarded untouched', () => {
  it('unusual whitespace, escapes, big numbers and duplicate keys survive byte for byte', async () => {
    const sent =
      '\n {  "model"\t:  "plain" ,"z":1,"a" : [ 1 , 2.50 ,1e3], "big": 123456789012345678901234567890,' +
      ' "s": "\\u00e9\u00e9\\/\\"", "a": "dup" }  \n';
    const echo = await sendJson(sent);
    expect(received(echo)).toBe(sent);
    expect(echo.length).toBe(Buffer.byteLength(sent));
  });

  it('a chunked request body arrives whole with a Content-Length', async () => {
    const sent = JSON.stringify({ model: 'plain', messages: [{ role: 'user', content: 'chunked' }] });
    const bytes = Buffer.from(sent);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.subarray(0, 10));
        controller.enqueue(bytes.subarray(10));
        controller.close();
      },
    });
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    const echo = await echoOf(res);
    expect(received(echo)).toBe(sent);
  });

  it('a filtered model with a body the filters do not change: byte-identical', async () => {
    // fm's rules all hit nothing here except useModelName, which already holds.
    const sent = '{"model" : "fm", "max_tokens":99, "chat_template_kwargs": {"enable_thinking":false}, "stop":["</s>"]}';
    const echo = await sendJson(sent);
    expect(JSON.parse(received(echo))).toEqual({
      model: 'upstream-name',
      max_tokens: 99,
      chat_template_kwargs: { enable_thinking: false },
      stop: ['</s>'],
    });
    // Only the model changed, so the rest keeps its spelling.
    expect(echo.body).toBe(sent.replace('"fm"', '"upstream-name"'));
  });
});
