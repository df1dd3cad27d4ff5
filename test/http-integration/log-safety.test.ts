/**
 * Nothing a client or a config writes reaches a log unescaped (issue 10, item 9): the access
 * line keeps its fields whatever the headers hold, `X-Forwarded-For` counts only through a
 * proxy `trustProxy` trusts, C1 control bytes from headers and control characters in model
 * names from the config are escaped, and so is a model's own output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawConnection, rawRequest } from '../helpers/raw-http.ts';
import { demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';
import { request, until } from '../faults/helpers.ts';

/** One access line, strictly: every field where llama-swap's format puts it. */
const ACCESS_LINE = /^\[INFO\] Request (\S+) "((?:[^"\\]|\\.)*)" (\d{3}) (\d+) "((?:[^"\\]|\\.)*)" [\d.]+(?:ns|µs|ms|s)$/;

function accessLines(srv: RunningServer, marker: string): string[] {
  return srv.logs.proxy
    .history()
    .split('\n')
    .filter((l) => l.includes(marker));
}

/** Lines holding anything a terminal would act on, or a raw line or paragraph separator. */
const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]/;

describe('the access line', () => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startServer(`models:\n${demoModel('a')}`);
  });
  afterAll(() => srv?.stop());

  it('a forged X-Forwarded-For and quotes in the user agent cannot add or move fields', async () => {
    await request(srv.url, {
      path: '/v1/models?m=forge1',
      headers: { 'x-forwarded-for': '1.2.3.4" "fake" 200', 'user-agent': 'ua" 999 "x' },
    });
    await until(() => accessLines(srv, 'forge1').length === 1, 'the access line');
    const [line] = accessLines(srv, 'forge1');
    const m = ACCESS_LINE.exec(line!);
    expect(m, line).not.toBeNull();
    // Not trusted by default: the address is the connection's.
    expect(m![1]).toBe('127.0.0.1');
    expect(m![2]).toBe('GET /v1/models?m=forge1 HTTP/1.1');
    expect(m![3]).toBe('200');
    expect(m![5]).toBe('ua\\" 999 \\"x');
  });

  it('C1 control bytes in a header are escaped, in the proxy log and on stdout', async () => {
    const c = await RawConnection.open(srv.url);
    // 0x9b is CSI for a terminal that takes C1 controls; Node hands it over as U+009B.
    c.write(
      Buffer.concat([
        Buffer.from('GET /v1/models?m=c1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nUser-Agent: a', 'latin1'),
        Buffer.from([0x9b, 0x33, 0x31, 0x6d, 0x1b + 0x80]),
        Buffer.from('b\r\n\r\n', 'latin1'),
      ]),
    );
    await c.whenClosed();
    await until(() => accessLines(srv, 'm=c1').length === 1, 'the access line');
    const [line] = accessLines(srv, 'm=c1');
    expect(line).toContain('"a\\x9b31m\\x9bb"');
    expect(RAW_CONTROL.test(srv.logs.proxy.history())).toBe(false);
    expect(RAW_CONTROL.test(srv.logs.mux.history())).toBe(false);
  });
});

describe('trustProxy', () => {
  it.each([
    ['loopback', '10.1.2.3, 10.0.0.1', '10.0.0.1'],
    ['true', '10.1.2.3, 10.0.0.1', '10.1.2.3'],
    ['1', '10.1.2.3, 10.0.0.1', '10.0.0.1'],
    ['2', '10.1.2.3, 10.0.0.1', '10.1.2.3'],
    ['"10.0.0.0/8"', '10.1.2.3, 10.0.0.1', '127.0.0.1'],
    ['true', '1.2.3.4" "fake" 200', '1.2.3.4\\"\\x20\\"fake\\"\\x20200'],
  ])('trustProxy: %s, X-Forwarded-For: %s -> %s', async (trust, xff, client) => {
    const srv = await startServer(`trustProxy: ${trust}\nmodels:\n${demoModel('a')}`);
    try {
      await request(srv.url, { path: '/v1/models?m=trust', headers: { 'x-forwarded-for': xff } });
      await until(() => accessLines(srv, 'm=trust').length === 1, 'the access line');
      const m = ACCESS_LINE.exec(accessLines(srv, 'm=trust')[0]!);
      expect(m).not.toBeNull();
      expect(m![1]).toBe(client);
    } finally {
      await srv.stop();
    }
  });
});

describe('control characters from the config and from model output', () => {
  let srv: RunningServer;
  const id = 'evil\nm\x1b[2J';
  beforeAll(async () => {
    // A model id with a newline and ESC, and a server that prints an ESC sequence itself.
    srv = await startServer(`models:
  "evil\\nm\\e[2J":
    cmd: "${process.execPath} src/demo/upstream.mjs --port \${PORT} --id 'out\\e]0;pwned\\a'"
`);
  });
  afterAll(() => srv?.stop());

  it('are escaped in the proxy log, on stdout and in the model log', async () => {
    const res = await request(srv.url, {
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: id }),
    });
    expect(res.status, res.body).toBe(200);
    expect(srv.logs.proxy.history()).toContain('swap to evil\\nm\\x1b[2J:');
    const model = srv.logs.hub.forModel(id).history();
    expect(model).toContain('upstream out\\x1b]0;pwned\\x07 listening on');
    for (const text of [srv.logs.proxy.history(), srv.logs.mux.history(), model, srv.logs.hub.upstream.history()]) {
      expect(RAW_CONTROL.test(text), JSON.stringify(text.slice(-300))).toBe(false);
    }
  });
});
