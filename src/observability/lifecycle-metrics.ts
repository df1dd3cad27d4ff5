/**
 * Model lifecycle metrics (`/metrics`), which neither llama-swap nor its peers expose: starts
 * by outcome, load time, stops by reason (from each runtime's ModelLifecycle), and, read at
 * scrape time from the state serving now, crash-loop backoff and queue depth per model.
 *
 * A reload builds a new runtime: each one is watched from the state that brings it in, and
 * the old one's remaining events (its models stopping, reason `reload`) still count. The
 * counters live here, in one registry for the server's whole life, so they never go back.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Config } from '../config/types.ts';
import type { LifecycleEvent, LifecycleEvents } from './lifecycle-events.ts';
import { LATENCY_BUCKETS } from './request-metrics.ts';

/** What the gauges read of the runtime serving now. */
export interface LifecycleSource {
  config: Pick<Config, 'models'>;
  runtime: {
    readonly lifecycle: LifecycleEvents;
    /** The model's process now: its crash-loop backoff, when it is backing off. */
    process(model: string): { backoff: { retryAfterMs: number } | null } | null;
    /** Requests of the model admitted and not yet granted, this turn's arrivals included. */
    queued(model: string): number;
  };
}

/** Load times: a demo server starts in milliseconds, a large model in minutes. */
const LOAD_BUCKETS = [...LATENCY_BUCKETS, 600, 1200];

export class LifecycleMetrics {
  private readonly starts: Counter<'model' | 'outcome'>;
  private readonly loadSeconds: Histogram<'model'>;
  private readonly stops: Counter<'model' | 'reason'>;
  private readonly watched = new WeakSet<LifecycleEvents>();

  constructor(registry: Registry, current: () => LifecycleSource | null) {
    const registers = [registry];
    this.starts = new Counter({
      name: 'swapstate_model_starts_total',
      help: 'Model starts by outcome: ok (became ready), failed (exited or failed its health check), aborted (stopped before ready).',
      labelNames: ['model', 'outcome'],
      registers,
    });
    this.loadSeconds = new Histogram({
      name: 'swapstate_model_load_seconds',
      help: 'Seconds from launching a model to its health check passing (starts that became ready).',
      labelNames: ['model'],
      buckets: LOAD_BUCKETS,
      registers,
    });
    this.stops = new Counter({
      name: 'swapstate_model_stops_total',
      help: 'Stops of loaded models by reason: swap, unload, ttl, crash, shutdown, reload (unknown: none of these was noted).',
      labelNames: ['model', 'reason'],
      registers,
    });
    const perModel = (name: string, help: string, valueOf: (state: LifecycleSource, model: string) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['model'],
        registers,
        // Read at scrape time from the state serving now: one series per model it knows.
        collect() {
          this.reset();
          const state = current();
          if (!state) return;
          for (const model of Object.keys(state.config.models)) this.set({ model }, valueOf(state, model));
        },
      });
    };
    perModel(
      'swapstate_model_backoff',
      '1 while starts of the model are refused after repeated failures (crash-loop backoff), else 0.',
      (state, model) => (state.runtime.process(model)?.backoff ? 1 : 0),
    );
    perModel(
      'swapstate_model_backoff_seconds',
      'Length of the current crash-loop backoff of the model, 0 when it is not backing off.',
      (state, model) => (state.runtime.process(model)?.backoff?.retryAfterMs ?? 0) / 1000,
    );
    perModel(
      'swapstate_queue_depth',
      'Requests admitted and waiting for their grant (queued, or waiting for a swap), per model.',
      (state, model) => state.runtime.queued(model),
    );
  }

  /** Counts `lifecycle`'s events from now on (once per lifecycle, however often it is handed over). */
  watch(lifecycle: LifecycleEvents): void {
    if (this.watched.has(lifecycle)) return;
    this.watched.add(lifecycle);
    lifecycle.subscribe((e) => this.count(e));
  }

  private count(e: LifecycleEvent): void {
    if (e.type === 'started') {
      this.starts.inc({ model: e.model, outcome: e.outcome });
      if (e.outcome === 'ok') this.loadSeconds.observe({ model: e.model }, e.seconds);
    } else if (e.type === 'stop') {
      this.stops.inc({ model: e.model, reason: e.reason });
    }
  }
}
