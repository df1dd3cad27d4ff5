/**
 * Shared bits of the HTTP integration tests: a server on ports nobody else uses, an echo
 * upstream that shows what swapstate forwarded, and small request/log helpers.
 */
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { startServer, type RunningServer } from '../helpers/server-harness.ts';
import { freePortBlock, until } from '../helpers/real-upstreams.ts';

export { until };
export type { RunningServer };

/** The echo upstream script (see echo-upstream.mjs). */
export const ECHO_UPSTREAM = fileURLToPath(new URL('./echo-upstream.mjs', import.meta.url));

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A `startPort` whose next `count` ports are free right now, in this worker's slice. */
export async function freeStartPort(count = 8): Promise<number> {
  return freePortBlock(count);
}

/** Starts swapstate from `yaml` (without a `startPort` line) on a free port range. */
export async function startOnFreePorts(yaml: string): Promise<RunningServer> {
  return startServer(`startPort: ${await freeStartPort()}\n${yaml}`);
}

/** A `models.<id>` YAML block served by the echo upstream. */
export function echoModel(id: string, extra = ''): string {
  return `  ${id}:
    cmd: "${process.execPath} ${ECHO_UPSTREAM} --port \${PORT} --id ${id}"
${extra
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => `    ${l}`)
  .join('\n')}
`;
}

/** What the echo upstream answers. */
export interface Echo {
  id: string;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  bodyBase64: string;
  length: number;
}

/** Reads an echo answer, failing with the body when it is not one. */
export async function echoOf(res: Response): Promise<Echo> {
  const text = await res.text();
  expect(res.status, text).toBe(200);
  expect(res.headers.get('x-echo-upstream'), text).not.toBeNull();
  return JSON.parse(text) as Echo;
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A chat request naming `model`. */
export const chat = (model: unknown, text = 'hello', extra: Record<string, unknown> = {}) => ({
  model,
  messages: [{ role: 'user', content: text }],
  ...extra,
});

/** The lines of a model's log (its upstream's output). */
export function modelLogLines(srv: RunningServer, id: string): string[] {
  return srv.logs.hub.forModel(id).history().split('\n');
}

/** How many log lines of `id` are exactly `line`. */
export function countLine(srv: RunningServer, id: string, line: string): number {
  return modelLogLines(srv, id).filter((l) => l === line).length;
}

/**
 * Waits until model `id` has logged `line` more than `before` times: the upstream's stdout
 * travels through a pipe, so it may arrive after the HTTP answer.
 */
export async function waitForLine(srv: RunningServer, id: string, line: string, before = 0): Promise<void> {
  await until(() => countLine(srv, id, line) > before, `${id} to log "${line}"`);
}

/** Asserts swapstate's JSON error envelope, exactly. */
export async function expectEnvelope(
  res: Response,
  status: number,
  message: string,
  type: string,
  code: string,
): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/json');
  expect(JSON.parse(text)).toStrictEqual({ src: 'swapstate', error: { message, type, param: null, code } });
  // Key order too: clients and golden files compare bytes.
  expect(text).toBe(JSON.stringify({ src: 'swapstate', error: { message, type, param: null, code } }));
}

/** The 404 envelope. */
export const expect404 = (res: Response, message: string) =>
  expectEnvelope(res, 404, message, 'invalid_request_error', 'not_found');

/** The 404 envelope, its message matching `message` (for the JS runtime's own words). */
export async function expect404Matching(res: Response, message: RegExp): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(404);
  expect(res.headers.get('content-type')).toBe('application/json');
  const body = JSON.parse(text) as { src: string; error: { message: string; type: string; param: null; code: string } };
  expect(body).toStrictEqual({ src: 'swapstate', error: { message: expect.stringMatching(message), type: 'invalid_request_error', param: null, code: 'not_found' } });
}

/** A non-swapping group holding `members`, so tests can use several models without swaps. */
export function sharedGroup(members: string[]): string {
  return `groups:
  shared:
    swap: false
    exclusive: false
    members: [${members.join(', ')}]
`;
}
