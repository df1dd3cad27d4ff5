/**
 * Per-request metrics of the model-dispatched requests (`/metrics`): requests by model, route
 * and status, time to first byte, duration and queue wait per model, requests in flight, and
 * tokens (fed by the activity parser through {@link RequestMetrics.observeTokens}).
 *
 * This runs on the proxy's hot path (issue 16 measures its CPU per request), so every label
 * set is resolved once and kept: a request looks its model's series up in one Map, and its
 * route's and status's children in two small Maps under it; no label object or string is
 * built per request. Each prom-client child call still hashes its labels (measured: about
 * 0.2 µs per call; a request makes five or six). Tokens are summed here and handed to
 * prom-client when it is read (pending-counts.ts): two calls less per request.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { PendingCounts, type PendingCount } from './pending-counts.ts';

/** Seconds: from a quick answer to a long generation or a slow load. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** A client that left before any response was sent: nginx's code for it. */
export const CLIENT_CLOSED = 499;

type CounterChild = ReturnType<Counter<string>['labels']>;
type GaugeChild = ReturnType<Gauge<string>['labels']>;
type HistogramChild = ReturnType<Histogram<string>['labels']>;

/** One model's children, resolved once. */
interface ModelSeries {
  ttfb: HistogramChild;
  duration: HistogramChild;
  queueWait: HistogramChild;
  inFlight: GaugeChild;
  tokensIn: PendingCount;
  tokensOut: PendingCount;
  /** route -> status -> requests counter. */
  routes: Map<string, Map<number, CounterChild>>;
}

/** One request, from when the scheduler is asked until its handler ends. */
export interface RequestObservation {
  /** The scheduler granted it at `at` (performance.now()): it is being served. */
  granted(at?: number): void;
  /**
   * Its handler has ended: counted with its response's status (499 when the client left
   * before a response), its duration, and its time to first byte when it was served.
   */
  end(status: number, firstByteAt: number, at?: number): void;
}

export class RequestMetrics {
  private readonly series = new Map<string, ModelSeries>();
  private readonly requests: Counter<'model' | 'route' | 'status'>;
  private readonly ttfb: Histogram<'model'>;
  private readonly duration: Histogram<'model'>;
  private readonly queueWait: Histogram<'model'>;
  private readonly inFlight: Gauge<'model'>;
  private readonly tokens: Counter<'model' | 'type'>;
  /** The tokens counted since the last read of {@link tokens}. */
  private readonly pendingTokens = new PendingCounts();

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'swapstate_requests_total',
      help: 'Model-dispatched requests by model, route and response status (499: the client left before a response).',
      labelNames: ['model', 'route', 'status'],
      registers,
    });
    this.ttfb = new Histogram({
      name: 'swapstate_request_ttfb_seconds',
      help: 'Seconds from asking the scheduler to the first response body byte, of served requests (includes queueing and loading).',
      labelNames: ['model'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.duration = new Histogram({
      name: 'swapstate_request_duration_seconds',
      help: 'Seconds from asking the scheduler until the request was done (served, refused or abandoned).',
      labelNames: ['model'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.queueWait = new Histogram({
      name: 'swapstate_queue_wait_seconds',
      help: 'Seconds a granted request waited for its grant: in the queue, and for its model to load.',
      labelNames: ['model'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.inFlight = new Gauge({
      name: 'swapstate_requests_in_flight',
      help: 'Requests granted and being served now.',
      labelNames: ['model'],
      registers,
    });
    this.tokens = new Counter({
      name: 'swapstate_tokens_total',
      help: 'Tokens reported by the model in its responses, by type (input: prompt, output: generated).',
      labelNames: ['model', 'type'],
      registers,
      // Run by prom-client before every read of the counter (a scrape).
      collect: () => this.pendingTokens.flush(),
    });
  }

  /** Starts observing one request to `model` on `route`, asked of the scheduler at `at`. */
  begin(model: string, route: string, at: number = performance.now()): RequestObservation {
    const s = this.of(model);
    let statuses = s.routes.get(route);
    if (!statuses) {
      statuses = new Map();
      s.routes.set(route, statuses);
    }
    return new Observation(this.requests, s, statuses, model, route, at);
  }

  /** Tokens of one response (the activity parser's `input_tokens` and `output_tokens`); negatives count as 0. */
  observeTokens(model: string, input: number, output: number): void {
    const s = this.of(model);
    if (input > 0) s.tokensIn.add(input);
    if (output > 0) s.tokensOut.add(output);
  }

  private of(model: string): ModelSeries {
    let s = this.series.get(model);
    if (!s) {
      s = {
        ttfb: this.ttfb.labels(model),
        duration: this.duration.labels(model),
        queueWait: this.queueWait.labels(model),
        inFlight: this.inFlight.labels(model),
        tokensIn: this.pendingTokens.of(this.tokens.labels(model, 'input')),
        tokensOut: this.pendingTokens.of(this.tokens.labels(model, 'output')),
        routes: new Map(),
      };
      this.series.set(model, s);
    }
    return s;
  }
}

/** One request's observation: plain fields, one object per request (no closures). */
class Observation implements RequestObservation {
  private grantedAt = 0;
  private ended = false;

  constructor(
    private readonly requests: Counter<'model' | 'route' | 'status'>,
    private readonly s: ModelSeries,
    private readonly byStatus: Map<number, CounterChild>,
    private readonly model: string,
    private readonly route: string,
    private readonly at: number,
  ) {}

  granted(t: number = performance.now()): void {
    if (this.grantedAt !== 0 || this.ended) return;
    this.grantedAt = t;
    this.s.queueWait.observe((t - this.at) / 1000);
    this.s.inFlight.inc();
  }

  end(status: number, firstByteAt: number, t: number = performance.now()): void {
    if (this.ended) return;
    this.ended = true;
    let child = this.byStatus.get(status);
    if (!child) {
      child = this.requests.labels(this.model, this.route, String(status));
      this.byStatus.set(status, child);
    }
    child.inc();
    const s = this.s;
    s.duration.observe((t - this.at) / 1000);
    if (this.grantedAt !== 0) {
      s.inFlight.dec();
      if (firstByteAt > 0) s.ttfb.observe((firstByteAt - this.at) / 1000);
    }
  }
}
