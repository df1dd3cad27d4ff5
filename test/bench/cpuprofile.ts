/**
 * Summarises a V8 `.cpuprofile` (written by `node --cpu-prof`): self time per function and
 * self / inclusive time per origin (a package under node_modules, swapstate's own module,
 * Node's internals), so a report can say where the CPU of a proxied request goes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileRow {
  name: string;
  ms: number;
  /** Share of the busy (non-idle) time. */
  pct: number;
}

export interface ProfileSummary {
  file: string;
  /** Whether only the samples inside the requested window were counted. */
  windowed: boolean;
  samples: number;
  totalMs: number;
  idleMs: number;
  busyMs: number;
  topSelf: ProfileRow[];
  originSelf: ProfileRow[];
  originInclusive: ProfileRow[];
  /** Functions of swapstate and of npm packages (not Node's internals), inclusive time. */
  topInclusive: ProfileRow[];
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** Where a frame comes from: `express`, `swapstate src/http/proxy.ts`, `node:_http_server`, ... */
export function origin(frame: CallFrame): string {
  if (SPECIAL.has(frame.functionName) && frame.url === '') return frame.functionName;
  const url = frame.url;
  if (url === '') return '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (url.startsWith('node:')) return url;
  const dist = /\/dist\/((?:src|machines)\/.*)\.js$/.exec(url);
  if (dist) return `swapstate ${dist[1]}.ts`;
  return url.replace(/^file:\/\//, '');
}

function short(frame: CallFrame): string {
  const o = origin(frame);
  if (SPECIAL.has(o) || o === '(native)') return frame.functionName || o;
  return `${frame.functionName || '(anonymous)'}  ${o}:${frame.lineNumber + 1}`;
}

function rows(map: Map<string, number>, busyMs: number, top: number): ProfileRow[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, ms: us / 1000, pct: (us / 1000 / busyMs) * 100 }));
}

/**
 * `window`: CLOCK_MONOTONIC microseconds (`process.hrtime.bigint() / 1000n` in any process
 * of the machine; V8's profile timestamps use the same clock on Linux). Samples outside it
 * are ignored, so start-up and warm-up do not count. Ignored when it misses the profile.
 */
export function summariseProfile(file: string, top = 20, window?: { fromUs: number; toUs: number }): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const selfUs = new Map<number, number>();
  const windowed = window !== undefined && window.fromUs < profile.endTime && window.toUs > profile.startTime;
  let samples = 0;
  // timeDeltas[i] is the time since the previous sample: it is charged to sample i - 1's node.
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (windowed && (at < window.fromUs || at > window.toUs)) continue;
    samples++;
    const id = profile.samples[i]!;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  let totalUs = 0;
  let idleUs = 0;
  const fnSelf = new Map<string, number>();
  const originSelf = new Map<string, number>();
  const originIncl = new Map<string, number>();
  const fnIncl = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    totalUs += us;
    if (node.callFrame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const name = short(node.callFrame);
    fnSelf.set(name, (fnSelf.get(name) ?? 0) + us);
    const o = origin(node.callFrame);
    originSelf.set(o, (originSelf.get(o) ?? 0) + us);
    // Inclusive: every origin on the stack, once per sample.
    const seen = new Set<string>();
    const fns = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur)!.callFrame;
      if (frame.functionName === '(root)') break;
      const o = origin(frame);
      seen.add(o);
      if (o.startsWith('swapstate ') || frame.url.includes('/node_modules/')) fns.add(short(frame));
    }
    for (const s of seen) originIncl.set(s, (originIncl.get(s) ?? 0) + us);
    for (const f of fns) fnIncl.set(f, (fnIncl.get(f) ?? 0) + us);
  }
  const busyMs = (totalUs - idleUs) / 1000;
  return {
    file,
    windowed,
    samples,
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    busyMs,
    topSelf: rows(fnSelf, busyMs, top),
    originSelf: rows(originSelf, busyMs, top),
    originInclusive: rows(originIncl, busyMs, top),
    topInclusive: rows(fnIncl, busyMs, 40),
  };
}

/** The summary of the one profile `--cpu-prof-dir=<dir>` holds, as text (the quick loops' `--prof`). */
export function profileText(dir: string, top = 25): string {
  const file = join(dir, readdirSync(dir)[0]!);
  const s = summariseProfile(file, top);
  const fmt = (rows: Array<{ name: string; pct: number }>) => rows.map((r) => `${r.pct.toFixed(1).padStart(5)}%  ${r.name}`).join('\n');
  return (
    `busy ${s.busyMs.toFixed(0)} ms\n-- self\n${fmt(s.topSelf)}\n-- by origin, self\n${fmt(s.originSelf)}\n-- by origin, inclusive\n${fmt(s.originInclusive)}` +
    `\n-- inclusive (packages and swapstate)\n${fmt(s.topInclusive)}\nprofile: ${file}`
  );
}
