/**
 * Where the scheduler round trip allocates: sched-micro's loop under V8's sampling heap
 * profiler, collected objects included. `npx tsx test/bench/sched-alloc.ts [N]`.
 */
import { Session } from 'node:inspector/promises';
import { readyScheduler } from './sched-one.ts';

const n = Number(process.argv[2] ?? 20000);
const { rt, one } = await readyScheduler();
for (let i = 0; i < 2000; i++) await one();
const s = new Session();
s.connect();
await s.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
await Promise.all(Array.from({ length: 8 }, async () => { for (let i = 0; i < n / 8; i++) await one(); }));
const { profile } = (await s.post('HeapProfiler.stopSampling')) as { profile: { head: Node } };
interface Node { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: Node[] }
const self = new Map<string, number>();
const incl = new Map<string, number>();
function walk(node: Node, stack: Set<string>): number {
  const f = node.callFrame;
  const key = `${f.functionName || '(anon)'} ${f.url.replace(/.*node_modules\//, '').replace(/.*wt-sched\//, '')}:${f.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + node.selfSize);
  let total = node.selfSize;
  const inner = new Set(stack).add(key);
  for (const c of node.children) total += walk(c, inner);
  if (!stack.has(key)) incl.set(key, (incl.get(key) ?? 0) + total);
  return total;
}
const all = walk(profile.head, new Set());
const top = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, 30).map(([k, v]) => `${(v / n).toFixed(0).padStart(7)} B/req  ${k}`).join('\n');
console.log(`total ${(all / n).toFixed(0)} B/request\n-- self\n${top(self)}\n-- inclusive\n${top(incl)}`);
await rt.shutdown(5000);
