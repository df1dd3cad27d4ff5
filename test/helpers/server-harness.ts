/**
 * An in-process swapstate on a free port, from a YAML config text, for HTTP integration
 * tests. `stop()` shuts it down like SIGTERM would (every model stopped).
 */
import { loadConfigText } from '../../src/config/load.ts';
import { Logs } from '../../src/observability/logger.ts';
import { SwapstateServer } from '../../src/server.ts';

export interface RunningServer {
  url: string;
  server: SwapstateServer;
  logs: Logs;
  stop(): Promise<void>;
}

/**
 * A `startPort` for one test server. Test files run in parallel workers, and llama-swap's
 * default (5800) would hand every server the same ports, so each worker gets its own range
 * and each server in it the next 20 ports.
 */
let serversInWorker = 0;
export function nextStartPort(): number {
  const worker = Number(process.env['VITEST_POOL_ID'] ?? process.env['VITEST_WORKER_ID'] ?? 1);
  const slot = serversInWorker++ % 40;
  return 21000 + (worker % 20) * 1000 + slot * 20;
}

export async function startServer(yaml: string, opts: { configPath?: string } = {}): Promise<RunningServer> {
  const text = /^startPort:/m.test(yaml) ? yaml : `startPort: ${nextStartPort()}\n${yaml}`;
  const config = loadConfigText(text, 'test.yaml');
  const logs = new Logs(config, { stdout: () => {} });
  const server = new SwapstateServer(config, logs, opts.configPath ?? null, 'test');
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
