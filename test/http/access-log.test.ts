/**
 * Access-log levels: the web UI's own requests (its files, machine chart, event stream and
 * state, and the llama-swap routes it reads when it says `from=ui`) are DEBUG lines; every
 * other request is llama-swap's INFO line. Through a real server, at `logLevel: info` and
 * `logLevel: debug`.
 */
import { get as httpGet } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { isUiRequest } from '../../src/http/access-log.ts';
import { until } from '../helpers/real-upstreams.ts';
import { demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';

describe('isUiRequest', () => {
  it('is decided by path: the UI routes, whatever the query', () => {
    for (const url of ['/ui', '/ui/', '/ui/app.js', '/ui/?x=1', '/api/machines/process', '/api/events', '/api/state', '/api/state?x']) {
      expect(isUiRequest(url), url).toBe(true);
    }
  });

  it("llama-swap's routes the UI reads count only when marked from=ui", () => {
    for (const url of ['/logs/stream/a?from=ui', '/logs/stream?from=ui', '/logs/stream/proxy?no-history&from=ui', '/v1/models?from=ui']) {
      expect(isUiRequest(url), url).toBe(true);
    }
    for (const url of ['/logs/stream/a', '/logs/stream/a?from=cli', '/v1/models', '/logs?from=ui', '/v1/chat/completions?from=ui', '/upstream/a/?from=ui']) {
      expect(isUiRequest(url), url).toBe(false);
    }
  });

  it('everything else is not: look-alike paths, actions the UI takes for the user', () => {
    for (const url of ['/', '/uix', '/ui.js', '/api/eventsx', '/api/state/x', '/api/models/unload', '/upstream/a/?_=1', '/running', '/health', '/logs']) {
      expect(isUiRequest(url), url).toBe(false);
    }
  });
});

let srv: RunningServer | null = null;
afterEach(async () => {
  await srv?.stop();
  srv = null;
});

const UA = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/150.0.0.0 Safari/537.36' };

/** What the UI asks for when a page opens, and while it shows a model's log. */
async function uiRequests(url: string): Promise<void> {
  for (const path of ['/ui/', '/ui/app.js', '/api/machines/process', '/api/state', '/v1/models?from=ui']) {
    const res = await fetch(`${url}${path}`, { headers: UA });
    expect(res.status, path).toBe(200);
    await res.arrayBuffer();
  }
  // The streams: opened (their headers are sent at once), then left; the line is written at
  // close. node:http, whose destroy() closes the socket (an aborted fetch may keep it open,
  // and the server's shutdown then waits for it).
  for (const path of ['/api/events', '/logs/stream/a?from=ui']) {
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = httpGet(`${url}${path}`, { headers: UA }, (res) => {
        req.destroy();
        resolve(res.statusCode);
      });
      req.on('error', reject);
    });
    expect(status, path).toBe(200);
  }
}

const requestLines = (log: string) => log.split('\n').filter((l) => l.includes('] Request '));

describe('access log levels', () => {
  it('logLevel info: no line for the UI, INFO lines for the rest', async () => {
    srv = await startServer(`models:\n${demoModel('a')}`);
    await uiRequests(srv.url);
    await (await fetch(`${srv.url}/v1/models`, { headers: { 'user-agent': 'marker/1' } })).arrayBuffer();
    await (await fetch(`${srv.url}/running`, { headers: { 'user-agent': 'marker/2' } })).arrayBuffer();
    await until(() => srv!.logs.proxy.history().includes('marker/2'), 'the last INFO line');
    const lines = requestLines(srv.logs.proxy.history());
    // At info, a UI request is not even watched: nothing of it can arrive later.
    expect(lines).toEqual([
      expect.stringMatching(/^\[INFO\] Request 127\.0\.0\.1 "GET \/v1\/models HTTP\/1\.1" 200 \d+ "marker\/1" /),
      expect.stringMatching(/^\[INFO\] Request 127\.0\.0\.1 "GET \/running HTTP\/1\.1" 200 \d+ "marker\/2" /),
    ]);
  });

  it('logLevel debug: the UI requests are DEBUG lines, in the same format', async () => {
    srv = await startServer(`logLevel: debug\nmodels:\n${demoModel('a')}`);
    await uiRequests(srv.url);
    await (await fetch(`${srv.url}/running`, { headers: { 'user-agent': 'marker/1' } })).arrayBuffer();
    const paths = ['/ui/', '/ui/app.js', '/api/machines/process', '/api/state', '/v1/models?from=ui', '/api/events', '/logs/stream/a?from=ui'];
    await until(() => {
      const log = srv!.logs.proxy.history();
      return log.includes('marker/1') && paths.every((p) => log.includes(`"GET ${p} HTTP/1.1"`));
    }, 'every line');
    const lines = requestLines(srv.logs.proxy.history());
    for (const p of paths) {
      const line = lines.find((l) => l.includes(`"GET ${p} HTTP/1.1"`));
      expect(line, p).toMatch(/^\[DEBUG\] Request 127\.0\.0\.1 "GET \S+ HTTP\/1\.1" 200 \d+ "Mozilla\/5\.0 [^"]*" [\d.]+(ns|µs|ms|s)$/);
    }
    expect(lines.find((l) => l.includes('marker/1'))).toMatch(/^\[INFO\] Request 127\.0\.0\.1 "GET \/running HTTP\/1\.1" 200 /);
  });
});
