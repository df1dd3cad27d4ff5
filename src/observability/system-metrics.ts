/**
 * llama-swap's system gauges on `/metrics` (reference 7.5), same names and labels, from the
 * latest sample, taken every `performance.every` (system-stats.ts). With
 * `performance.disabled` nothing is sampled and these metrics leave the registry; the
 * lifecycle and request metrics stay (llama-swap answers 503 instead: README, Differences).
 *
 * No GPU gauges: llama-swap reads them from vendor tools (nvidia-smi, rocm-smi, ...), and
 * swapstate has no such reader yet.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { PerformanceConfig } from '../config/performance.ts';
import { readSystemSample, type CoreTimes, type SystemSample } from './system-stats.ts';

/** Reads a sample; `previous` is the CPU times of the last one. Replaceable in tests. */
export type SampleReader = (previous: readonly CoreTimes[]) => { sample: SystemSample; cpuTimes: CoreTimes[] };

/** prom-client's metrics carry their name, which its types do not show. */
const nameOf = (m: Gauge | Counter): string => (m as unknown as { name: string }).name;

export class SystemMetrics {
  private latest: SystemSample | null = null;
  private cpuTimes: CoreTimes[] = [];
  private timer: NodeJS.Timeout | null = null;
  private settings: PerformanceConfig | null = null;
  private readonly metrics: Array<Gauge | Counter>;

  constructor(
    private readonly registry: Registry,
    private readonly read: SampleReader = readSystemSample,
  ) {
    const latest = () => this.latest;
    // Registered by configure(), so that a disabled monitor shows none of them.
    const registers: Registry[] = [];
    const plain = (name: string, help: string, value: (s: SystemSample) => number | undefined) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.reset();
          const s = latest();
          const v = s ? value(s) : undefined;
          if (v !== undefined) this.set(v);
        },
      });
    this.metrics = [
      new Gauge({
        name: 'llamaswap_cpu_util_percent',
        help: 'CPU utilization per core (0-100)',
        labelNames: ['core'],
        registers,
        collect() {
          this.reset();
          latest()?.cpuPercent.forEach((pct, i) => this.set({ core: String(i) }, pct));
        },
      }),
      plain('llamaswap_memory_total_bytes', 'Total memory in bytes', (s) => s.memory?.totalBytes),
      plain('llamaswap_memory_used_bytes', 'Used memory in bytes', (s) => s.memory?.usedBytes),
      plain('llamaswap_memory_free_bytes', 'Free memory in bytes', (s) => s.memory?.freeBytes),
      plain('llamaswap_swap_total_bytes', 'Total swap in bytes', (s) => s.memory?.swapTotalBytes),
      plain('llamaswap_swap_used_bytes', 'Used swap in bytes', (s) => s.memory?.swapUsedBytes),
      new Gauge({
        name: 'llamaswap_load_average',
        help: 'Load average',
        labelNames: ['interval'],
        registers,
        collect() {
          this.reset();
          const s = latest();
          if (!s) return;
          this.set({ interval: '1m' }, s.load[0]);
          this.set({ interval: '5m' }, s.load[1]);
          this.set({ interval: '15m' }, s.load[2]);
        },
      }),
      new Counter({
        name: 'llamaswap_network_bytes_total',
        help: 'Total network bytes transferred',
        labelNames: ['interface', 'direction'],
        registers,
        collect() {
          // The kernel's own totals, copied as they are (the counter is never added to).
          this.reset();
          for (const io of latest()?.network ?? []) {
            this.inc({ interface: io.name, direction: 'recv' }, io.recv);
            this.inc({ interface: io.name, direction: 'sent' }, io.sent);
          }
        },
      }),
    ];
  }

  /** Applies `performance` (at start and after every reload): starts, restarts or stops sampling. */
  configure(perf: PerformanceConfig): void {
    const was = this.settings;
    if (was && was.disabled === perf.disabled && was.everyMs === perf.everyMs) return;
    this.settings = { ...perf };
    this.stopTimer();
    if (perf.disabled) {
      for (const m of this.metrics) this.registry.removeSingleMetric(nameOf(m));
      this.latest = null;
      return;
    }
    for (const m of this.metrics) this.registry.registerMetric(m);
    this.sample();
    this.timer = setInterval(() => this.sample(), perf.everyMs);
    // Sampling never keeps the process alive.
    this.timer.unref();
  }

  /** Takes a sample now (the timer's tick). */
  sample(): void {
    try {
      const { sample, cpuTimes } = this.read(this.cpuTimes);
      this.latest = sample;
      this.cpuTimes = cpuTimes;
    } catch {
      /* an unreadable system leaves the last sample in place */
    }
  }

  stop(): void {
    this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
