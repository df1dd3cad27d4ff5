/**
 * A model whose `proxy` URL has a path: every forwarded path goes under it, one slash between
 * them, as http-proxy-3 (and Go's ReverseProxy) join them, query strings included.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chat, echoModel, echoOf, postJson, sharedGroup, startOnFreePorts, type RunningServer } from './helpers.ts';

let srv: RunningServer;

beforeAll(async () => {
  srv = await startOnFreePorts(`models:
${echoModel('plain')}
${echoModel('slash', 'proxy: http://127.0.0.1:${PORT}/base/')}
${echoModel('bare', 'proxy: http://127.0.0.1:${PORT}/api/v2')}
${echoModel('query', 'proxy: http://127.0.0.1:${PORT}/q?key=1')}
${sharedGroup(['plain', 'slash', 'bare', 'query'])}`);
});

afterAll(async () => {
  await srv?.stop();
});

describe('proxy URL with a path', () => {
  it.each([
    ['plain', '/v1/chat/completions?x=1'],
    ['slash', '/base/v1/chat/completions?x=1'],
    ['bare', '/api/v2/v1/chat/completions?x=1'],
    ['query', '/q/v1/chat/completions?key=1&x=1'],
  ])('%s is forwarded to %s', async (model, url) => {
    const echo = await echoOf(await postJson(`${srv.url}/v1/chat/completions?x=1`, chat(model)));
    expect(echo.id).toBe(model);
    expect(echo.url).toBe(url);
  });
});
