/**
 * The `/api/state` snapshot (and `/api/events` `state` messages): the scheduler's (processes,
 * swaps, waiting requests, admission; runtime/state-view.ts) plus what this server forwards
 * to peers: the forwards in flight (`forwarded`) and counters per peer (`peers`).
 */
import type { StateSnapshot } from '../runtime/state-view.ts';
import type { AppDeps, ServerState } from './deps.ts';
import type { PeerState } from './peer-forwards.ts';

export type ApiState = StateSnapshot & PeerState;

/**
 * The snapshot of `state` (the current one by default), stamped `at` (wall ms; now by default).
 */
export function apiState(deps: Pick<AppDeps, 'current' | 'peers'>, state: ServerState = deps.current(), at?: number): ApiState {
  return { ...state.runtime.state(at), ...deps.peers.snapshot(Object.keys(state.config.peers)) };
}
