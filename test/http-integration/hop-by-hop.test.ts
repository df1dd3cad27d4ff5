/**
 * Hop-by-hop headers (RFC 9110 7.6.1) stay on their hop, as Go's ReverseProxy keeps them:
 * the client's Connection, Keep-Alive, Proxy-*, TE (but `TE: trailers`) and whatever its
 * Connection header names never reach the model, and the model's Connection and Keep-Alive
 * never reach the client. A client's `Connection: close` must not close the upstream
 * connection our keep-alive agent reuses for the next request.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chat, echoModel, startOnFreePorts, type Echo, type RunningServer } from './helpers.ts';

let srv: RunningServer;

beforeAll(async () => {
  srv = await startOnFreePorts(`models:\n${echoModel('e')}`);
});

afterAll(async () => {
  await srv?.stop();
});

function post(headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; echo: Echo }> {
  const body = JSON.stringify(chat('e'));
  const { port } = new URL(srv.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: Number(port), method: 'POST', path: '/v1/chat/completions', agent: false, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, echo: JSON.parse(Buffer.concat(parts).toString()) as Echo }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('hop-by-hop headers', () => {
  it('are not forwarded in either direction; end-to-end headers are', async () => {
    const res = await post({
      connection: 'close, X-Hop',
      'x-hop': 'only for the first hop',
      'keep-alive': 'timeout=300',
      'proxy-authorization': 'Basic eDp5',
      'proxy-connection': 'keep-alive',
      te: 'trailers, deflate',
      'x-end-to-end': 'kept',
    });
    expect(res.status).toBe(200);
    const got = res.echo.headers;
    for (const name of ['x-hop', 'keep-alive', 'proxy-authorization', 'proxy-connection']) expect(got[name], name).toBeUndefined();
    expect(got.te).toBe('trailers');
    expect(got.connection).toBe('keep-alive'); // our agent's own, not the client's `close`
    expect(got['x-end-to-end']).toBe('kept');
    // The model's `Keep-Alive: timeout=5` described its connection to us.
    expect(res.headers['keep-alive']).toBeUndefined();
    expect(res.headers.connection).toBe('close'); // what this client asked of us
  });

  it("a client's Connection: close does not break the upstream connection for the next request", async () => {
    for (let i = 0; i < 5; i++) {
      const res = await post({ connection: 'close' });
      expect(res.status).toBe(200);
      expect(res.echo.headers.connection).toBe('keep-alive');
    }
  });
});
