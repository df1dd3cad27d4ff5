/**
 * The sources of `/api/events`, fanned out to its clients: the proxy and upstream logs, the
 * in-flight tracker, the activity log, the peer forwards, and the current actor tree (model states for `modelStatus`, the
 * scheduler for our `state` messages).
 *
 * The hub subscribes to its sources only while at least one client is connected, so an idle
 * server pays nothing (no subscriber, no timer). It follows the CURRENT actor tree: a reload
 * builds a new one, and the hub moves its subscriptions there, then re-sends `modelStatus`
 * and `state`. Within a tree it hears model changes from the runtime's process-change stream,
 * which follows a process actor the scheduler respawned.
 */
import { Coalescer } from '../observability/coalescer.ts';
import type { UpstreamPart } from '../observability/ring-log.ts';
import type { SchedulerRuntime } from '../runtime/scheduler-runtime.ts';
import { apiState, type ApiState } from './api-state.ts';
import type { AppDeps, ServerState } from './deps.ts';
import { displayState, modelStatus, type DisplayState } from './model-status.ts';
import { sseFrame, type SseClient } from './sse-client.ts';

/** `state` messages: at most one per this many ms per hub. */
export const STATE_INTERVAL_MS = 100;

/** A snapshot's identity for "has anything changed": all of it but the time it was taken. */
function stateKey(snap: ApiState): string {
  const { at: _at, ...rest } = snap;
  return JSON.stringify(rest);
}

/**
 * The upstream history message: llama-swap's `{source, data}` (the aggregate log's bytes,
 * unchanged, so llama-swap's own UI reads it as before), plus `spans`, which model wrote
 * which part of `data`, as `[model, length]` in string units, in order; they add up to
 * `data.length`. Live upstream chunks carry their `model` the same way. Our UI prefixes
 * each line with it; the raw logs (`/logs`, `/logs/stream/upstream`) stay unprefixed.
 */
export function upstreamHistory(parts: UpstreamPart[]): { source: 'upstream'; data: string; spans: Array<[string, number]> } {
  return { source: 'upstream', data: parts.map((p) => p.text).join(''), spans: parts.map((p) => [p.model, p.text.length]) };
}

export class EventHub {
  private readonly clients = new Set<SseClient>();
  private sources: Array<() => void> = [];
  private runtimeSubs: Array<() => void> = [];
  private runtime: SchedulerRuntime | null = null;
  private profileSub: (() => void) | null = null;
  /** The active profile clients were last told of. */
  private activeProfile: string | null = null;
  /** Each model's last display state, to send `modelStatus` on state changes only. */
  private readonly modelStates = new Map<string, DisplayState>();
  // Never fired synchronously: pokes come from inside actor observers, and the snapshot is
  // read once the actors have settled.
  private readonly stateUpdates = new Coalescer(STATE_INTERVAL_MS, (now) => this.flushState(now), false);

  constructor(private readonly deps: AppDeps) {}

  /** Sends the initial burst to a new client, then live messages until {@link remove}. */
  add(client: SseClient): void {
    if (this.clients.size === 0) this.attach();
    const { logs, inflight } = this.deps;
    const { config, runtime, profile } = this.deps.current();
    // llama-swap's order: proxy log, upstream log, modelStatus, uiConfig, profileChanged,
    // inflight snapshot. Then ours: state.
    client.send('logData', JSON.stringify({ source: 'proxy', data: logs.proxy.history() }));
    client.send('logData', JSON.stringify(upstreamHistory(logs.hub.upstreamParts())));
    client.send('modelStatus', JSON.stringify(modelStatus(config, runtime)));
    // No activity store, hence no sessions to offer.
    client.send('uiConfig', JSON.stringify({ activity: { session_id: [] } }));
    client.send('profileChanged', JSON.stringify({ active: profile.name }));
    client.send('inflight', JSON.stringify({ operation: 'snapshot', requests: inflight.snapshot() }));
    const snap = apiState(this.deps);
    client.send('state', JSON.stringify(snap));
    client.lastState = stateKey(snap);
    this.clients.add(client);
  }

  remove(client: SseClient): void {
    if (!this.clients.delete(client) || this.clients.size > 0) return;
    this.detach();
  }

  private broadcast(type: string, data: string): void {
    const frame = sseFrame(type, data);
    for (const client of this.clients) client.write(frame);
  }

  private attach(): void {
    const { logs, inflight } = this.deps;
    this.sources = [
      logs.proxy.subscribe((chunk) => this.broadcast('logData', JSON.stringify({ source: 'proxy', data: chunk.toString('utf8') }))),
      logs.hub.subscribeUpstream((chunk, model) =>
        this.broadcast('logData', JSON.stringify({ source: 'upstream', data: chunk.toString('utf8'), model })),
      ),
      inflight.subscribe((event) => this.broadcast('inflight', JSON.stringify(event))),
      // A new activity row: its id only, as llama-swap sends it (the UI fetches the rows).
      this.deps.activity.onRecord((entry) => this.broadcast('activity', JSON.stringify({ id: entry.id }))),
      // A forward to a peer begins or ends: the snapshot's `forwarded` changed.
      this.deps.peers.subscribe(() => this.stateUpdates.poke()),
      this.deps.watchState((state) => this.reloaded(state)),
    ];
    this.watchRuntime(this.deps.current().runtime);
    this.watchProfile(this.deps.current());
  }

  private detach(): void {
    for (const off of this.sources.splice(0)) off();
    this.unwatchRuntime();
    this.profileSub?.();
    this.profileSub = null;
    this.stateUpdates.cancel();
  }

  /**
   * A reload swapped in a new actor tree: follow it, and tell every client. The new state has
   * no active profile: clients told of one hear that it is gone (llama-swap ends the stream
   * instead, and the reconnecting UI reads it from the initial burst).
   */
  private reloaded(state: ServerState): void {
    this.unwatchRuntime();
    this.watchRuntime(state.runtime);
    const told = this.activeProfile;
    this.watchProfile(state);
    if (told !== this.activeProfile) this.broadcast('profileChanged', JSON.stringify({ active: this.activeProfile }));
    this.broadcast('modelStatus', JSON.stringify(modelStatus(state.config, state.runtime)));
    for (const client of this.clients) client.lastState = null;
    this.stateUpdates.poke();
  }

  private watchRuntime(runtime: SchedulerRuntime): void {
    this.runtime = runtime;
    this.modelStates.clear();
    const scheduler = runtime.actor.subscribe({ next: () => this.stateUpdates.poke(), error: () => {}, complete: () => {} });
    for (const model of runtime.processChanges.models()) {
      const p = runtime.process(model);
      this.modelStates.set(model, displayState(p?.state, p?.loaded ?? false));
    }
    const processes = runtime.processChanges.subscribe((model) => this.processChanged(runtime, model));
    this.runtimeSubs = [() => scheduler.unsubscribe(), processes];
  }

  /** Follows `state`'s active profile: `profileChanged` on every switch, then `modelStatus` (as llama-swap). */
  private watchProfile(state: ServerState): void {
    this.profileSub?.();
    this.activeProfile = state.profile.name;
    this.profileSub = state.profile.subscribe((name) => {
      this.activeProfile = name;
      this.broadcast('profileChanged', JSON.stringify({ active: name }));
      this.broadcast('modelStatus', JSON.stringify(modelStatus(state.config, state.runtime)));
    });
  }

  private unwatchRuntime(): void {
    for (const off of this.runtimeSubs.splice(0)) off();
    this.runtime = null;
  }

  /** A process actor moved: `modelStatus` when its display state changed, `state` anyway. */
  private processChanged(runtime: SchedulerRuntime, model: string): void {
    if (runtime !== this.runtime) return;
    this.stateUpdates.poke();
    const p = runtime.process(model);
    const state = displayState(p?.state, p?.loaded ?? false);
    if (this.modelStates.get(model) === state) return;
    this.modelStates.set(model, state);
    this.broadcast('modelStatus', JSON.stringify(modelStatus(this.deps.current().config, runtime)));
  }

  /**
   * Sends the scheduler snapshot to each client whose last one differs.
   * @param now the coalescer's instant (performance.now) this message counts from: the stamp
   *   is that instant, not the moment the snapshot is built, so two stamps are as far apart as
   *   the coalescer spaced them even when building one is slow (a loaded CI run stamped two
   *   97 ms apart: the snapshot was read ~3 ms after the interval's start).
   */
  private flushState(now: number): void {
    if (this.clients.size === 0) return;
    const snap = apiState(this.deps, this.deps.current(), performance.timeOrigin + now);
    const key = stateKey(snap);
    let data: string | null = null;
    for (const client of this.clients) {
      if (client.lastState === key) continue;
      data ??= JSON.stringify(snap);
      client.send('state', data);
      client.lastState = key;
    }
  }
}
