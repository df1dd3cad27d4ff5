/**
 * Per-request metrics of the model-dispatched requests (`/metrics`): requests by model, route
 * and status, time to first byte, duration and queue wait per model, requests in flight, and
 * tokens (fed by the activity parser through {@link RequestMetrics.observeTokens}).
 *
 * This runs on the proxy's hot path (issue 16 measures its CPU per request), so every label
 * set is resolved once and kept: a request looks its model's series up in one Map, and its
 * route's and status's cells in two small Maps under it; no label object or string is built
 * per request, and an update is an addition to a plain number (metric-cells.ts; prom-client's
 * children hashed their labels again at every call, five or six per request).
 */
import type { Registry } from 'prom-client';
import { HistogramCells, ValueCells, type Cell, type HistogramSeries } from './metric-cells.ts';

/** Seconds: from a quick answer to a long generation or a slow load. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** A client that left before any response was sent: nginx's code for it. */
export const CLIENT_CLOSED = 499;

/** One model's series, resolved once. */
interface ModelSeries {
  ttfb: HistogramSeries;
  duration: HistogramSeries;
  queueWait: HistogramSeries;
  inFlight: Cell;
  /** Created at the first tokens: a model that never reported any has no series. */
  tokensIn: Cell | null;
  tokensOut: Cell | null;
  /** route -> status -> requests counter. */
  routes: Map<string, Map<number, Cell>>;
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
  private readonly requests: ValueCells;
  private readonly ttfb: HistogramCells;
  private readonly duration: HistogramCells;
  private readonly queueWait: HistogramCells;
  private readonly inFlight: ValueCells;
  private readonly tokens: ValueCells;

  constructor(registry: Registry) {
    this.requests = new ValueCells(
      'swapstate_requests_total',
      'Model-dispatched requests by model, route and response status (499: the client left before a response).',
      'counter',
      registry,
    );
    this.ttfb = new HistogramCells(
      'swapstate_request_ttfb_seconds',
      'Seconds from asking the scheduler to the first response body byte, of served requests (includes queueing and loading).',
      registry,
      LATENCY_BUCKETS,
    );
    this.duration = new HistogramCells(
      'swapstate_request_duration_seconds',
      'Seconds from asking the scheduler until the request was done (served, refused or abandoned).',
      registry,
      LATENCY_BUCKETS,
    );
    this.queueWait = new HistogramCells(
      'swapstate_queue_wait_seconds',
      'Seconds a granted request waited for its grant: in the queue, and for its model to load.',
      registry,
      LATENCY_BUCKETS,
    );
    this.inFlight = new ValueCells('swapstate_requests_in_flight', 'Requests granted and being served now.', 'gauge', registry);
    this.tokens = new ValueCells(
      'swapstate_tokens_total',
      'Tokens reported by the model in its responses, by type (input: prompt, output: generated).',
      'counter',
      registry,
    );
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
    if (input > 0) (s.tokensIn ??= this.tokens.cell({ model, type: 'input' })).value += input;
    if (output > 0) (s.tokensOut ??= this.tokens.cell({ model, type: 'output' })).value += output;
  }

  private of(model: string): ModelSeries {
    let s = this.series.get(model);
    if (!s) {
      s = {
        ttfb: this.ttfb.cell({ model }),
        duration: this.duration.cell({ model }),
        queueWait: this.queueWait.cell({ model }),
        inFlight: this.inFlight.cell({ model }),
        tokensIn: null,
        tokensOut: null,
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
    private readonly requests: ValueCells,
    private readonly s: ModelSeries,
    private readonly byStatus: Map<number, Cell>,
    private readonly model: string,
    private readonly route: string,
    private readonly at: number,
  ) {}

  granted(t: number = performance.now()): void {
    if (this.grantedAt !== 0 || this.ended) return;
    this.grantedAt = t;
    this.s.queueWait.observe((t - this.at) / 1000);
    this.s.inFlight.value++;
  }

  end(status: number, firstByteAt: number, t: number = performance.now()): void {
    if (this.ended) return;
    this.ended = true;
    let child = this.byStatus.get(status);
    if (!child) {
      child = this.requests.cell({ model: this.model, route: this.route, status: String(status) });
      this.byStatus.set(status, child);
    }
    child.value++;
    const s = this.s;
    s.duration.observe((t - this.at) / 1000);
    if (this.grantedAt !== 0) {
      s.inFlight.value--;
      if (firstByteAt > 0) s.ttfb.observe((firstByteAt - this.at) / 1000);
    }
  }
}
