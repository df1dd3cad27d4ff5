/**
 * Everything `/metrics` serves, in one prom-client registry that lives as long as the server
 * (a reload keeps every counter): llama-swap's system gauges (system-metrics.ts), model
 * lifecycle metrics (lifecycle-metrics.ts) and per-request metrics (request-metrics.ts).
 *
 * The server hands it each state it serves ({@link SwapstateMetrics.follow}: at start and
 * after every reload); that is the whole seam with the runtime.
 *
 * @example
 * const metrics = new SwapstateMetrics(() => server.state());
 * metrics.follow(server.state());
 * const { contentType, body } = await metrics.exposition();
 */
import { Registry } from 'prom-client';
import type { PerformanceConfig } from '../config/performance.ts';
import { LifecycleMetrics, type LifecycleSource } from './lifecycle-metrics.ts';
import { RequestMetrics, type RequestObservation } from './request-metrics.ts';
import { SystemMetrics, type SampleReader } from './system-metrics.ts';

export type { RequestObservation } from './request-metrics.ts';

/** A state as far as the metrics need it: its config's `performance` and models, its runtime. */
export interface MetricsState extends LifecycleSource {
  config: LifecycleSource['config'] & { performance: PerformanceConfig };
}

export class SwapstateMetrics {
  readonly registry = new Registry();
  private readonly lifecycle: LifecycleMetrics;
  private readonly requests: RequestMetrics;
  private readonly system: SystemMetrics;

  constructor(current: () => MetricsState | null, readSystem?: SampleReader) {
    this.system = new SystemMetrics(this.registry, readSystem);
    this.lifecycle = new LifecycleMetrics(this.registry, current);
    this.requests = new RequestMetrics(this.registry);
  }

  /** A state is serving now (startup, reload): watch its runtime, apply its `performance`. */
  follow(state: MetricsState): void {
    this.lifecycle.watch(state.runtime.lifecycle);
    this.system.configure(state.config.performance);
  }

  /** Starts observing one model-dispatched request (serve-model.ts). */
  beginRequest(model: string, route: string, at?: number): RequestObservation {
    return this.requests.begin(model, route, at);
  }

  /** Tokens of one response, from the activity parser (reference 7.3: input_tokens, output_tokens). */
  observeTokens(model: string, input: number, output: number): void {
    this.requests.observeTokens(model, input, output);
  }

  /** The Prometheus text exposition (format 0.0.4) and its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Stops sampling (shutdown). */
  close(): void {
    this.system.stop();
  }
}
