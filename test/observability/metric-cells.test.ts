/**
 * metric-cells.ts: plain-number series exposed through prom-client's registry. The text a
 * scrape gets must be exactly what prom-client's own Counter, Gauge and Histogram write for
 * the same updates (names, label order, cumulative buckets, +Inf, _sum, _count, escaping).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HistogramCells, ValueCells } from '../../src/observability/metric-cells.ts';

const BOUNDS = [0.005, 0.1, 1, 10];

describe('metric cells', () => {
  it('a histogram: the same exposition as prom-client for the same observations, by series', async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const h = new Histogram({ name: 'x_seconds', help: 'X "quoted" \\ help', labelNames: ['model'], buckets: BOUNDS, registers: [theirs] });
    const cells = new HistogramCells('x_seconds', 'X "quoted" \\ help', ours, BOUNDS);
    const observations: Array<[string, number]> = [['a', 0.001], ['a', 0.005], ['b"\n', 3], ['a', 50], ['a', 0.2]];
    for (const [model, v] of observations) {
      h.labels(model).observe(v);
      cells.cell({ model }).observe(v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('a series never observed is not shown, as prom-client shows no child until its first observation', async () => {
    const ours = new Registry();
    const cells = new HistogramCells('y_seconds', 'Y', ours, BOUNDS);
    cells.cell({ model: 'never' });
    cells.cell({ model: 'once' }).observe(0.5);
    const text = await ours.metrics();
    expect(text).toContain('y_seconds_count{model="once"} 1');
    expect(text).not.toContain('never');
  });

  it('a counter and a gauge: the same exposition as prom-client; a cell is one series, kept by its caller', async () => {
    const theirs = new Registry();
    const ours = new Registry();
    const c = new Counter({ name: 'r_total', help: 'R', labelNames: ['model', 'status'], registers: [theirs] });
    const g = new Gauge({ name: 'g', help: 'G', labelNames: ['model'], registers: [theirs] });
    const rc = new ValueCells('r_total', 'R', 'counter', ours);
    const rg = new ValueCells('g', 'G', 'gauge', ours);
    const ok = rc.cell({ model: 'a', status: '200' });
    for (let i = 0; i < 3; i++) {
      c.labels('a', '200').inc();
      ok.value++;
    }
    c.labels('b', '499').inc(2);
    rc.cell({ model: 'b', status: '499' }).value += 2;
    expect(rc.cell({ model: 'a', status: '200' })).toBe(ok);
    g.labels('a').inc();
    g.labels('a').dec();
    g.labels('b').inc(4);
    rg.cell({ model: 'a' }).value += 1 - 1;
    rg.cell({ model: 'b' }).value += 4;
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it("the registry's resetMetrics zeroes every series in place: the cells its callers keep go on counting", async () => {
    const ours = new Registry();
    const counter = new ValueCells('r_total', 'R', 'counter', ours);
    const hist = new HistogramCells('h_seconds', 'H', ours, BOUNDS);
    const cell = counter.cell({ model: 'a' });
    const series = hist.cell({ model: 'a' });
    cell.value += 5;
    series.observe(0.5);
    ours.resetMetrics();
    expect(await ours.metrics()).toContain('r_total{model="a"} 0');
    expect(await ours.metrics()).not.toContain('h_seconds_count');
    cell.value++;
    series.observe(2);
    const text = await ours.metrics();
    expect(text).toContain('r_total{model="a"} 1');
    expect(text).toContain('h_seconds_count{model="a"} 1');
    expect(text).toContain('h_seconds_bucket{le="1",model="a"} 0');
  });
});
