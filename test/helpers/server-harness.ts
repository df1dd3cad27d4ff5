/**
 * An in-process swapstate on a free port, from a YAML config text, for HTTP integration
 * tests. `stop()` shuts it down like SIGTERM would (every model stopped).
 */
import type { InspectionEvent, Observer } from 'xstate';
import { loadConfigText } from '../../src/config/load.ts';
import { Logs } from '../../src/observability/logger.ts';
import type { TrimOptions } from '../../src/runtime/memory-trim.ts';
import { SwapstateServer } from '../../src/server.ts';
import { freePortBlock } from './real-upstreams.ts';

export interface RunningServer {
  url: string;
  server: SwapstateServer;
  logs: Logs;
  stop(): Promise<void>;
}

export async function startServer(
  yaml: string,
  opts: { configPath?: string; inspect?: Observer<InspectionEvent>; trim?: Partial<TrimOptions> } = {},
): Promise<RunningServer> {
  // llama-swap's default startPort (5800) would give parallel test servers the same ports.
  const text = /^startPort:/m.test(yaml) ? yaml : `startPort: ${await freePortBlock(20)}\n${yaml}`;
  const config = loadConfigText(text, 'test.yaml');
  const logs = new Logs(config, { stdout: () => {} });
  const server = new SwapstateServer(config, logs, opts.configPath ?? null, 'test', opts.inspect, opts.trim);
  const addr = await server.listen({ host: '127.0.0.1', port: 0 });
  return {
    url: `http://127.0.0.1:${addr.port}`,
    server,
    logs,
    stop: async () => {
      await server.shutdown(5_000);
      logs.close();
    },
  };
}

/** A `models.<id>` YAML block served by the demo upstream on a `${PORT}`. */
export function demoModel(id: string, extra = '', args = ''): string {
  return `  ${id}:
    cmd: "${process.execPath} src/demo/upstream.mjs --port \${PORT} --id ${id} ${args}"
${extra
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => `    ${l}`)
  .join('\n')}
`;
}

/**
 * A chat request for `model` to a running swapstate (`extra` merged into the body);
 * `init` adds headers, a signal, or another model route's path.
 */
export function chat(
  url: string,
  model: string,
  extra: Record<string, unknown> = {},
  init: { headers?: Record<string, string>; signal?: AbortSignal; path?: string } = {},
): Promise<Response> {
  return fetch(`${url}${init.path ?? '/v1/chat/completions'}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...init.headers },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], ...extra }),
    ...(init.signal ? { signal: init.signal } : {}),
  });
}
