/**
 * Serving the web UI: `/ui` redirects, files with their content types and no caching,
 * client routes fall back to index.html, missing assets are 404, nothing outside the UI
 * folder can be read, and `/ui/` sits behind the API keys like llama-swap's UI.
 */
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleepModeProcessMachine } from '../../machines/process.sleep.ts';
import { resolveUiDir, uiFilePath } from '../../src/http/ui-routes.ts';
import { machineChart } from '../../src/observability/statechart.ts';
import { demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';

let srv: RunningServer;
beforeAll(async () => {
  srv = await startServer(`apiKeys: ["sk-ui"]\nmodels:\n${demoModel('a')}`);
});
afterAll(async () => {
  await srv?.stop();
});

const auth = { authorization: 'Bearer sk-ui' };
const get = (path: string, headers: Record<string, string> = auth) => fetch(`${srv.url}${path}`, { headers, redirect: 'manual' });

/** The raw response to a request target sent as is (fetch would normalise `..` away). */
function rawGet(target: string): Promise<string> {
  const { port } = new URL(srv.url);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(port), '127.0.0.1', () => {
      sock.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-ui\r\nConnection: close\r\n\r\n`);
    });
    let data = '';
    sock.on('data', (d) => (data += d.toString('latin1')));
    sock.on('end', () => resolve(data));
    sock.on('error', reject);
  });
}

describe('/ui', () => {
  it('redirects /ui to /ui/, keeping the query', async () => {
    const res = await get('/ui?x=1&y=2');
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe('/ui/?x=1&y=2');
    expect((await get('/ui')).headers.get('location')).toBe('/ui/');
  });

  it('serves the files with their content types and Cache-Control: no-cache', async () => {
    const cases: Array<[string, string, string]> = [
      ['/ui/', 'text/html; charset=utf-8', '<!doctype html>'],
      ['/ui/index.html', 'text/html; charset=utf-8', '<!doctype html>'],
      ['/ui/app.js', 'text/javascript; charset=utf-8', 'import '],
      ['/ui/chart.js', 'text/javascript; charset=utf-8', 'export function renderChart'],
      ['/ui/style.css', 'text/css; charset=utf-8', ':root'],
    ];
    for (const [path, type, text] of cases) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toBe(type);
      expect(res.headers.get('cache-control'), path).toBe('no-cache');
      expect(await res.text(), path).toContain(text);
    }
    const head = await fetch(`${srv.url}/ui/style.css`, { method: 'HEAD', headers: auth });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('answers client routes with index.html and missing assets with a plain 404', async () => {
    for (const path of ['/ui/models', '/ui/models/a', '/ui/logs/']) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(await res.text(), path).toContain('<!doctype html>');
    }
    for (const path of ['/ui/missing.js', '/ui/x/style.css', '/ui/%ff.js']) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type'), path).toMatch(/^text\/plain/);
    }
  });

  it('never reads outside the UI folder', async () => {
    // Plain `..` is cleaned by the 301 of Go's mux before any handler.
    expect(await rawGet('/ui/../package.json')).toMatch(/^HTTP\/1\.1 301[^]*Location: \/package.json/);
    // Escaped dots and separators reach the handler and are refused.
    for (const target of ['/ui/%2e%2e/%2e%2e/package.json', '/ui/..%2f..%2fpackage.json', '/ui/%2e%2e%5c%2e%2e%5cpackage.json', '/ui/%2e%2e/http/ui-routes.ts', '/ui/a%00.js']) {
      const raw = await rawGet(target);
      expect(raw, target).toMatch(/^HTTP\/1\.1 404/);
      expect(raw, target).not.toContain('"name": "swapstate"');
      expect(raw, target).not.toContain('uiFilePath');
    }
    const root = resolveUiDir();
    expect(uiFilePath(root, '%2e%2e/x')).toBeNull();
    expect(uiFilePath(root, 'a/%2F/b')).toBeNull();
    expect(uiFilePath(root, 'app.js')).toBe(`${root.replace(/\/$/, '')}/app.js`);
  });

  it('finds the UI folder from src (and from dist, via the repo)', () => {
    expect(resolveUiDir()).toBe(fileURLToPath(new URL('../../src/ui/', import.meta.url)));
  });

  it('needs an API key, like every other route', async () => {
    for (const path of ['/ui', '/ui/', '/ui/app.js', '/api/machines/process']) {
      const res = await get(path, {});
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate'), path).toBe('Basic realm="swapstate"');
    }
    // A browser answers the Basic challenge; the key is the password.
    const basic = { authorization: `Basic ${Buffer.from('user:sk-ui').toString('base64')}` };
    expect((await get('/ui/', basic)).status).toBe(200);
  });

  it('answers other methods with 405 like Go', async () => {
    const res = await fetch(`${srv.url}/ui/app.js`, { method: 'POST', headers: auth });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
  });

  it('GET /api/machines/process is the definition of the process machine the runtime runs (with sleep mode)', async () => {
    const res = await get('/api/machines/process');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(JSON.parse(JSON.stringify(machineChart(sleepModeProcessMachine))));
  });
});
