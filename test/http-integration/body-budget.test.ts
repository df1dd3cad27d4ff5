/**
 * The budget for request bodies held in memory (`maxBufferedRequestBytes`, issue 10 item 6):
 * a body that does not fit is refused with 503 and `Retry-After` before it is read (a client
 * waiting for `100 Continue` never sends it), a chunked one as soon as it no longer fits;
 * what is already in flight is served as if nothing happened, and the budget is given back
 * when each response ends.
 *
 * Bodies of 600 000 bytes against a budget of 1 000 000: one fits, two do not.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectNothingHeld } from '../helpers/leak-check.ts';
import { RawConnections, rawRequest, type RawConnection } from '../helpers/raw-http.ts';
import { startServer, type RunningServer } from '../helpers/server-harness.ts';
import { until } from '../faults/helpers.ts';
import { ECHO_UPSTREAM } from './helpers.ts';

const BODY = 600_000;
let srv: RunningServer;
const conns = new RawConnections(() => srv.url);

beforeAll(async () => {
  srv = await startServer(`maxRequestBodyBytes: ${BODY}
maxBufferedRequestBytes: 1000000
models:
  echo:
    cmd: "${process.execPath} ${ECHO_UPSTREAM} --port \${PORT} --id echo"
`);
});

afterEach(async () => {
  conns.destroyAll();
  await expectNothingHeld(srv);
  expect(srv.server.bodies.used).toBe(0);
});

afterAll(async () => {
  await srv?.stop();
});

const connect = (): Promise<RawConnection> => conns.open();

/** A JSON chat body for `echo`, padded to exactly `size` bytes. */
function paddedBody(size: number): string {
  const head = '{"model":"echo","pad":"';
  return `${head}${'x'.repeat(size - head.length - 2)}"}`;
}

function head(size: number, extra: Record<string, string> = {}): Buffer {
  return rawRequest('POST', '/v1/chat/completions', { 'Content-Type': 'application/json', 'Content-Length': String(size), ...extra });
}

/** Starts a request whose body arrives only half; resolves once its body is counted. */
async function halfSent(): Promise<{ c: RawConnection; rest: string }> {
  const body = paddedBody(BODY);
  const c = await connect();
  c.write(Buffer.concat([head(BODY), Buffer.from(body.slice(0, BODY / 2))]));
  await until(() => srv.server.bodies.used === BODY, 'the first body to be counted');
  return { c, rest: body.slice(BODY / 2) };
}

function expectBudget503(res: { status: number; headers: Record<string, string>; body: string }): void {
  expect(res.status).toBe(503);
  expect(res.headers['retry-after']).toBe('1');
  expect(JSON.parse(res.body)).toEqual({
    src: 'swapstate',
    error: {
      message: 'too many request bodies in memory at once (maxBufferedRequestBytes is 1000000 bytes); retry shortly',
      type: 'server_error',
      param: null,
      code: 'request_bodies_over_budget',
    },
  });
}

describe('maxBufferedRequestBytes', () => {
  it('a body that does not fit is refused before it is read; the one in flight is served; then it fits again', async () => {
    const first = await halfSent();

    // Waiting for 100 Continue: refused without it, so the body is never sent.
    const waiting = await connect();
    waiting.write(head(BODY, { Expect: '100-continue' }));
    await waiting.whenClosed();
    expect(waiting.responses.map((r) => r.status)).toEqual([503]);
    expectBudget503(waiting.responses[0]!);

    // Not waiting: refused as soon as its head is read.
    const eager = await connect();
    eager.write(head(BODY));
    const [refused] = await eager.finalsAtLeast(1);
    expectBudget503(refused!);

    // The first request never noticed.
    first.c.write(first.rest);
    const [answer] = await first.c.finalsAtLeast(1);
    expect(answer!.status).toBe(200);
    expect((JSON.parse(answer!.body) as { length: number }).length).toBe(BODY);
    first.c.destroy();
    await until(() => srv.server.bodies.used === 0, 'the budget to be given back');

    const again = await connect();
    again.write(Buffer.concat([head(BODY), Buffer.from(paddedBody(BODY))]));
    expect((await again.finalsAtLeast(1))[0]!.status).toBe(200);
  });

  it('a chunked body is counted chunk by chunk and refused when it no longer fits, costing only itself', async () => {
    const first = await halfSent();
    const chunked = await connect();
    chunked.write(rawRequest('POST', '/v1/chat/completions', { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }));
    const part = 'x'.repeat(300_000);
    chunked.write(`${part.length.toString(16)}\r\n${part}\r\n`); // fits: 900 000 held
    chunked.write(`${part.length.toString(16)}\r\n${part}\r\n`); // does not
    const [refused] = await chunked.finalsAtLeast(1);
    expectBudget503(refused!);
    await chunked.whenClosed();

    first.c.write(first.rest);
    expect((await first.c.finalsAtLeast(1))[0]!.status).toBe(200);
  });

  it('a client that leaves half-way through its body gives its share back', async () => {
    const first = await halfSent();
    first.c.destroy();
    await until(() => srv.server.bodies.used === 0, 'the budget to be given back');
  });
});
