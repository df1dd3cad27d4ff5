/**
 * What the HTTP layer needs from the rest of swapstate. `current()` is read once per request,
 * so a config reload swaps the whole state atomically: a request finishes on the state it
 * started with (its grant carries where to send it, from that state's runtime).
 */
import type { Config } from '../config/types.ts';
import type { ActivityLog } from '../observability/activity-log.ts';
import type { InflightTracker } from '../observability/inflight.ts';
import type { Logs } from '../observability/logger.ts';
import type { SwapstateMetrics } from '../observability/metrics.ts';
import type { SchedulerRuntime } from '../runtime/scheduler-runtime.ts';
import type { ActiveProfile } from './active-profile.ts';
import type { BodyBudget } from './body-budget.ts';
import type { OpenStreams } from './open-streams.ts';
import type { PeerForwards } from './peer-forwards.ts';
import type { UpstreamProxy } from './proxy.ts';

export interface ServerState {
  config: Config;
  runtime: SchedulerRuntime;
  /** The active profile (none when the state is built: at startup and after every reload). */
  profile: ActiveProfile;
}

export interface AppDeps {
  current(): ServerState;
  logs: Logs;
  proxy: UpstreamProxy;
  version: string;
  /** The address or name the server listens on (`--listen`'s host), one of its own names. */
  listenHost: string;
  /** Null when swapstate can serve; else why not (for `/health`). */
  liveness(): string | null;
  /** Request bodies held in memory, over all requests (`maxBufferedRequestBytes`). */
  bodies: BodyBudget;
  /** This server's long-lived responses (log and event streams), ended on shutdown. */
  streams: OpenStreams;
  /** Model-dispatched requests in flight (reference 7.2); one per server, across reloads. */
  inflight: InflightTracker;
  /** `/metrics`: lifecycle, request and system metrics; one per server, across reloads. */
  metrics: SwapstateMetrics;
  /** Metered requests' rows and captures (reference 7.3, 7.4); one per server, across reloads. */
  activity: ActivityLog;
  /** Requests forwarded to peers: their connection pools and those in flight; one per server, across reloads. */
  peers: PeerForwards;
  /**
   * Calls `listener` with each state a reload swaps in (after `current()` returns it), so
   * watchers of the actor tree (`/api/events`) can move to the new one. Returns the unsubscribe.
   */
  watchState(listener: (state: ServerState) => void): () => void;
}
