/**
 * Metrics kept as plain numbers and turned into Prometheus samples only when scraped: the
 * per-request metrics (request-metrics.ts), which run on the proxy's hot path (issue 16).
 *
 * A prom-client child (`counter.labels(...)`) hashes its label values again at every
 * `inc`/`observe`: about 0.9 KB of garbage and several µs per request for five or six calls.
 * Here a series is resolved once, by its caller, into a cell it keeps (a number, or a
 * histogram's bucket counts), and a request's update is an addition. The metric objects are
 * registered in prom-client's registry like its own (`name`, `help`, `type`, `get()`), so the
 * exposition, its escaping and its order stay prom-client's: a histogram's samples are its
 * buckets (cumulative, `le` first), `+Inf`, `_sum`, `_count`, as prom-client writes them.
 */
import type { Metric, Registry } from 'prom-client';

type Labels = Readonly<Record<string, string>>;

interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface MetricData {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  values: Sample[];
  aggregator: 'sum';
}

/** One counter or gauge series: its labels and its value, changed in place. */
export class Cell {
  value = 0;
  constructor(readonly labels: Labels) {}
}

/** The base of the three kinds: a name, help, and series by label key, in creation order. */
abstract class Cells<S> {
  readonly aggregator = 'sum' as const;
  protected readonly series = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricData['type'],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series of `labels` (created on first use); callers keep it. */
  protected of(labels: Labels, make: (labels: Labels) => S): S {
    const key = JSON.stringify(labels);
    let s = this.series.get(key);
    if (s === undefined) {
      s = make(labels);
      this.series.set(key, s);
    }
    return s;
  }

  protected abstract samples(): Sample[];

  /** What prom-client's registry reads at a scrape. */
  get(): Promise<MetricData> {
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values: this.samples(), aggregator: this.aggregator });
  }

  /**
   * prom-client's `registry.resetMetrics()`: every series back to zero, in place. The series
   * stay (their callers keep them), but a histogram is shown again only once observed.
   */
  reset(): void {
    for (const s of this.series.values()) this.zero(s);
  }

  protected abstract zero(series: S): void;
}

/** A counter or a gauge: one number per series (a counter's callers only add). */
export class ValueCells extends Cells<Cell> {
  constructor(name: string, help: string, type: 'counter' | 'gauge', registry: Registry) {
    super(name, help, type, registry);
  }

  cell(labels: Labels): Cell {
    return this.of(labels, (l) => new Cell(l));
  }

  protected samples(): Sample[] {
    return [...this.series.values()].map((c) => ({ labels: { ...c.labels }, value: c.value }));
  }

  protected zero(c: Cell): void {
    c.value = 0;
  }
}

/** One histogram series: counts per bucket (not cumulative), sum and count. */
export class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(v: number): void {
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (v <= bounds[i]!) {
        this.counts[i]!++;
        break;
      }
    }
    this.sum += v;
    this.count++;
  }
}

export class HistogramCells extends Cells<HistogramSeries> {
  constructor(
    name: string,
    help: string,
    registry: Registry,
    private readonly bounds: readonly number[],
  ) {
    super(name, help, 'histogram', registry);
  }

  cell(labels: Labels): HistogramSeries {
    return this.of(labels, (l) => new HistogramSeries(l, this.bounds));
  }

  protected zero(s: HistogramSeries): void {
    s.counts.fill(0);
    s.sum = 0;
    s.count = 0;
  }

  protected samples(): Sample[] {
    const out: Sample[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      // Shown from its first observation, as prom-client shows a child.
      if (s.count === 0) continue;
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i]!;
        out.push({ labels: { le: this.bounds[i]!, ...s.labels }, value: acc, metricName: bucket });
      }
      out.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: bucket });
      out.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      out.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return out;
  }
}
