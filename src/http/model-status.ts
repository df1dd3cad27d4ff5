/**
 * The `modelStatus` payload of `/api/events` (reference 3.11): every local model, unlisted
 * ones included (flagged), sorted by id, in llama-swap's four display states, then every
 * peer model by FQN with its `peerID` (empty for local models). A peer model has no state
 * here: it shows as `stopped`, as it is in `/v1/models` (`unloaded`).
 */
import type { Config } from '../config/types.ts';
import type { SchedulerRuntime } from '../runtime/scheduler-runtime.ts';

export type DisplayState = 'stopped' | 'starting' | 'ready' | 'stopping' | 'sleeping';

export interface ModelStatusRecord {
  id: string;
  name: string;
  description: string;
  state: DisplayState;
  unlisted: boolean;
  peerID: string;
  aliases?: string[];
}

/**
 * llama-swap's UI knows four states, llmsnap's a fifth: `sleeping`. `backoff` and `shutdown`
 * read as stopped (llama-swap reports its shutdown as stopped too); `waking` reads as
 * starting; any other running sub-state an extension adds reads as ready while the process
 * is loaded.
 */
export function displayState(state: string | undefined, loaded: boolean): DisplayState {
  if (state === 'starting' || state === 'ready' || state === 'stopping' || state === 'sleeping') return state;
  if (state === 'waking') return 'starting';
  return loaded ? 'ready' : 'stopped';
}

export function modelStatus(config: Config, runtime: SchedulerRuntime): ModelStatusRecord[] {
  const peers = Object.entries(config.peers).flatMap(([peerID, peer]) =>
    peer.models.map(
      (model): ModelStatusRecord => ({ id: `${peerID}/${model}`, name: '', description: '', state: 'stopped', unlisted: false, peerID }),
    ),
  );
  peers.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return [...localStatus(config, runtime), ...peers];
}

function localStatus(config: Config, runtime: SchedulerRuntime): ModelStatusRecord[] {
  return Object.keys(config.models)
    .sort()
    .map((id) => {
      const m = config.models[id]!;
      const p = runtime.process(id);
      const rec: ModelStatusRecord = {
        id,
        name: m.name,
        description: m.description,
        state: displayState(p?.state, p?.loaded ?? false),
        unlisted: m.unlisted,
        peerID: '',
      };
      if (m.aliases.length > 0) rec.aliases = [...m.aliases];
      return rec;
    });
}
