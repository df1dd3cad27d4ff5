/**
 * llama-swap's system sample (reference 7.5), read on Linux from /proc and node:os: CPU
 * utilisation per core, memory, swap, load average and network bytes per interface.
 *
 * The parsers are pure (a file's text in, numbers out); {@link readSystemSample} does the
 * reading. CPU utilisation needs two readings: {@link cpuPercents} compares a reading with the
 * one before it, as gopsutil's `cpu.Percent(0, true)` does in llama-swap.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

/** Cumulative jiffies of one core: busy and total. */
export interface CoreTimes {
  busy: number;
  total: number;
}

export interface MemoryStats {
  totalBytes: number;
  /** Total less what is available (MemAvailable): what programs hold. */
  usedBytes: number;
  freeBytes: number;
  swapTotalBytes: number;
  swapUsedBytes: number;
}

export interface InterfaceBytes {
  name: string;
  recv: number;
  sent: number;
}

export interface SystemSample {
  /** Per core, 0-100; empty when /proc/stat cannot be read. */
  cpuPercent: number[];
  memory: MemoryStats | null;
  load: [number, number, number];
  network: InterfaceBytes[];
}

/**
 * The per-core lines of /proc/stat (`cpu0 user nice system idle iowait irq softirq steal guest
 * guest_nice`). Busy is everything but idle and iowait; guest time is already in user time.
 */
export function parseProcStat(text: string): CoreTimes[] {
  const cores: CoreTimes[] = [];
  for (const line of text.split('\n')) {
    if (!/^cpu\d/.test(line)) continue;
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
    const total = user + nice + system + idle + iowait + irq + softirq + steal;
    cores.push({ busy: total - idle - iowait, total });
  }
  return cores;
}

/** Utilisation of each core between two readings, 0-100 (0 for a core that did not tick). */
export function cpuPercents(before: readonly CoreTimes[], after: readonly CoreTimes[]): number[] {
  return after.map((a, i) => {
    const b = before[i] ?? { busy: 0, total: 0 };
    const total = a.total - b.total;
    if (total <= 0) return 0;
    return Math.min(100, Math.max(0, (100 * (a.busy - b.busy)) / total));
  });
}

/** /proc/meminfo (values in kB). */
export function parseMeminfo(text: string): MemoryStats | null {
  const kb = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+)/.exec(line);
    if (m) kb.set(m[1]!, Number(m[2]) * 1024);
  }
  const total = kb.get('MemTotal');
  if (total === undefined) return null;
  const free = kb.get('MemFree') ?? 0;
  const available = kb.get('MemAvailable') ?? free + (kb.get('Buffers') ?? 0) + (kb.get('Cached') ?? 0);
  const swapTotal = kb.get('SwapTotal') ?? 0;
  return {
    totalBytes: total,
    usedBytes: Math.max(0, total - available),
    freeBytes: free,
    swapTotalBytes: swapTotal,
    swapUsedBytes: Math.max(0, swapTotal - (kb.get('SwapFree') ?? 0)),
  };
}

/** /proc/net/dev: `iface: rx_bytes rx_packets ... (8 receive fields) tx_bytes ...`. */
export function parseNetDev(text: string): InterfaceBytes[] {
  const out: InterfaceBytes[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (name === '' || f.length < 9 || f.some((n) => !Number.isFinite(n))) continue;
    out.push({ name, recv: f[0]!, sent: f[8]! });
  }
  return out;
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Reads the system as it is now; `previous` are the CPU times of the reading before (none: since boot). */
export function readSystemSample(previous: readonly CoreTimes[]): { sample: SystemSample; cpuTimes: CoreTimes[] } {
  const stat = readOrNull('/proc/stat');
  const cpuTimes = stat === null ? [] : parseProcStat(stat);
  const meminfo = readOrNull('/proc/meminfo');
  const netdev = readOrNull('/proc/net/dev');
  const [l1 = 0, l5 = 0, l15 = 0] = loadavg();
  return {
    cpuTimes,
    sample: {
      cpuPercent: cpuPercents(previous, cpuTimes),
      memory: meminfo === null ? null : parseMeminfo(meminfo),
      load: [l1, l5, l15],
      network: netdev === null ? [] : parseNetDev(netdev),
    },
  };
}
