/**
 * `${PORT}` allocation (reference 2.17).
 *
 * Models are visited in sorted id order and a model takes the next port only when its `cmd`
 * (after macro expansion) mentions `${PORT}`, so adding a fixed-port model never shifts the
 * ports of the others, and the same config always yields the same ports (clients and reloads
 * rely on that). Ports are not probed: a clash shows up as a failed start, as in llama-swap.
 */
import { MAX_PORT } from './limits.ts';
import { substituteSetParamsByIDKeys, substituteTree, type MacroBudget } from './macro-substitute.ts';
import { MacroScope } from './macros.ts';
import { ConfigError } from './config-error.ts';
import type { RawMap, SourceMap } from './yaml-tree.ts';

export const DEFAULT_START_PORT = 5800;

const PORT_REFERENCE = '${PORT}';

/**
 * Gives `model` the port `nextPort` when its cmd uses `${PORT}`, substituting it into every
 * field of the model (proxy, env, metadata, setParamsByID keys, ...).
 *
 * @returns the next free port.
 * @param proxyWritten whether the user wrote `proxy` (else it is the default, which uses `${PORT}`).
 * @throws ConfigError when `proxy` (also the default proxy) uses `${PORT}` but `cmd` does not:
 *   a model with a fixed port must set `proxy`; when the next port is above 65535.
 */
export function allocatePort(
  model: RawMap,
  modelId: string,
  nextPort: number,
  { sources, budget, proxyWritten }: { sources: SourceMap; budget: MacroBudget; proxyWritten: boolean },
  where: (...path: string[]) => string | undefined,
): number {
  const cmd = model.get('cmd');
  const proxy = model.get('proxy');
  const cmdHasPort = typeof cmd === 'string' && cmd.includes(PORT_REFERENCE);
  const proxyHasPort = typeof proxy === 'string' && proxy.includes(PORT_REFERENCE);
  if (!cmdHasPort && !proxyHasPort) return nextPort;
  if (!cmdHasPort) {
    // llama-swap's message names the proxy even when the user never wrote one (the default
    // `http://localhost:${PORT}` is meant): then it points at the wrong line and the wrong
    // fix. Its text stays for a proxy the user did write.
    if (!proxyWritten) {
      throw new ConfigError(
        `model ${modelId}: cmd does not use \${PORT} and no proxy is set: put --port \${PORT} (or your server's port flag) in cmd, ` +
          "or set proxy to the server's address",
        where('cmd'),
      );
    }
    throw new ConfigError(
      `model ${modelId}: proxy uses \${PORT} but cmd does not - \${PORT} is only available when used in cmd`,
      where('proxy'),
    );
  }
  // Counting up from a high startPort can run past the last port; such a cmd could never listen.
  if (nextPort > MAX_PORT) {
    throw new ConfigError(`model ${modelId}: cannot allocate \${PORT}: ${nextPort} is above the highest port ${MAX_PORT}`, where('cmd'));
  }
  const port = MacroScope.of([{ name: 'PORT', value: nextPort }], `model ${modelId}: `);
  substituteTree(model, port, budget);
  substituteSetParamsByIDKeys(model, port, budget, modelId, sources, (key) => where('filters', 'setParamsByID', key));
  return nextPort + 1;
}
