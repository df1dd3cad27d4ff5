/** The /proc parsers behind llama-swap's system gauges, and the sampler's `performance` switch. */
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { SystemMetrics } from '../../src/observability/system-metrics.ts';
import { cpuPercents, parseMeminfo, parseNetDev, parseProcStat, type SystemSample } from '../../src/observability/system-stats.ts';
import { parseExposition, value } from '../helpers/prom-text.ts';

describe('/proc parsers', () => {
  it('/proc/stat: per-core busy and total jiffies (idle and iowait are not busy), the aggregate line skipped', () => {
    const stat = 'cpu  10 0 10 80 0 0 0 0 0 0\ncpu0 5 1 4 80 10 0 0 0 3 0\ncpu1 0 0 0 100 0 0 0 0 0 0\nintr 1 2\n';
    expect(parseProcStat(stat)).toEqual([
      { busy: 10, total: 100 },
      { busy: 0, total: 100 },
    ]);
  });

  it('CPU percent per core between two readings; a core that did not tick is 0', () => {
    expect(cpuPercents([{ busy: 10, total: 100 }, { busy: 0, total: 100 }], [{ busy: 60, total: 200 }, { busy: 0, total: 100 }])).toEqual([50, 0]);
    expect(cpuPercents([], [{ busy: 25, total: 100 }])).toEqual([25]);
  });

  it('/proc/meminfo: used is total less available; swap used is total less free', () => {
    const text = 'MemTotal: 1000 kB\nMemFree: 200 kB\nMemAvailable: 600 kB\nSwapTotal: 100 kB\nSwapFree: 40 kB\n';
    expect(parseMeminfo(text)).toEqual({ totalBytes: 1024000, usedBytes: 409600, freeBytes: 204800, swapTotalBytes: 102400, swapUsedBytes: 61440 });
    expect(parseMeminfo('nothing\n')).toBeNull();
  });

  it('/proc/net/dev: received and sent bytes per interface, headers skipped', () => {
    const text = [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      '    lo:  1234      10    0    0    0     0          0         0     1234      10    0    0    0     0       0          0',
      '  eth0: 99 1 0 0 0 0 0 0 77 1 0 0 0 0 0 0',
    ].join('\n');
    expect(parseNetDev(text)).toEqual([
      { name: 'lo', recv: 1234, sent: 1234 },
      { name: 'eth0', recv: 99, sent: 77 },
    ]);
  });
});

const sample: SystemSample = {
  cpuPercent: [12.5, 50],
  memory: { totalBytes: 100, usedBytes: 60, freeBytes: 10, swapTotalBytes: 8, swapUsedBytes: 2 },
  load: [0.5, 0.25, 0.125],
  network: [{ name: 'eth0', recv: 5, sent: 7 }],
};

describe('SystemMetrics', () => {
  it('serves the latest sample under llama-swap\'s names and labels', async () => {
    const registry = new Registry();
    const system = new SystemMetrics(registry, () => ({ sample, cpuTimes: [] }));
    system.configure({ disabled: false, everyMs: 5000 });
    const m = parseExposition(await registry.metrics());
    system.stop();
    expect(value(m, 'llamaswap_cpu_util_percent', { core: '1' })).toBe(50);
    expect(value(m, 'llamaswap_memory_used_bytes')).toBe(60);
    expect(value(m, 'llamaswap_swap_used_bytes')).toBe(2);
    expect(value(m, 'llamaswap_load_average', { interval: '15m' })).toBe(0.125);
    expect(value(m, 'llamaswap_network_bytes_total', { interface: 'eth0', direction: 'sent' })).toBe(7);
  });

  it('samples every `every`; disabled drops the gauges and the timer, enabled again brings both back', async () => {
    vi.useFakeTimers();
    try {
      const registry = new Registry();
      const read = vi.fn(() => ({ sample, cpuTimes: [] }));
      const system = new SystemMetrics(registry, read);
      system.configure({ disabled: false, everyMs: 5000 });
      expect(read).toHaveBeenCalledTimes(1);
      vi.advanceTimersByTime(10_000);
      expect(read).toHaveBeenCalledTimes(3);
      system.configure({ disabled: false, everyMs: 5000 }); // a reload that changed nothing: same timer
      vi.advanceTimersByTime(5000);
      expect(read).toHaveBeenCalledTimes(4);
      system.configure({ disabled: true, everyMs: 5000 });
      vi.advanceTimersByTime(60_000);
      expect(read).toHaveBeenCalledTimes(4);
      expect(await registry.metrics()).not.toContain('llamaswap_');
      system.configure({ disabled: false, everyMs: 10_000 });
      expect(await registry.metrics()).toContain('llamaswap_memory_total_bytes 100');
      system.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
