/**
 * A preload for a swapstate process under a bench (issue 16): V8's sampling heap profiler,
 * collected objects included, from HEAP_SAMPLE_FROM to HEAP_SAMPLE_TO seconds after start;
 * then the allocations per request (requests counted through diagnostics_channel), top
 * functions by self bytes, written to HEAP_SAMPLE_OUT. HEAP_SAMPLE_MINOR=0 leaves out what
 * scavenges collected: what is left is what reached the old generation (or still lives), the
 * promoted garbage that full GCs must collect and that RSS under load is made of.
 * `npx tsx test/bench/hot-path.ts -- --import $PWD/test/bench/heap-sample.mjs` with those
 * variables in the environment.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import dc from 'node:diagnostics_channel';

const from = Number(process.env.HEAP_SAMPLE_FROM ?? 10) * 1000;
const to = Number(process.env.HEAP_SAMPLE_TO ?? 16) * 1000;
const out = process.env.HEAP_SAMPLE_OUT ?? '/tmp/heap-sample.txt';
let requests = 0;
dc.subscribe('http.server.request.start', () => requests++);
const s = new Session();
s.connect();
setTimeout(async () => {
  await s.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: process.env.HEAP_SAMPLE_MINOR !== '0' });
  const r0 = requests;
  setTimeout(async () => {
    const { profile } = await s.post('HeapProfiler.stopSampling');
    const n = requests - r0;
    const self = new Map();
    let total = 0;
    /** @param {{ callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: any[] }} node @param {string | null} parent */
    const walk = (node, parent) => {
      const f = node.callFrame;
      const key = `${f.functionName || '(anon)'} ${f.url.replace(/.*node_modules\//, '').replace(/.*\/dist\//, '')}:${f.lineNumber + 1}`;
      // Allocations inside a native builtin are charged to its JS caller too.
      const k = f.url === '' && parent ? `${key} <- ${parent}` : key;
      self.set(k, (self.get(k) ?? 0) + node.selfSize);
      total += node.selfSize;
      for (const c of node.children) walk(c, f.url === '' ? parent : key);
    };
    walk(profile.head, null);
    const lines = [`${n} requests, ${(total / n / 1024).toFixed(1)} KB sampled per request`];
    for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 60)) lines.push(`${(v / n).toFixed(0).padStart(7)} B/req  ${k}`);
    writeFileSync(out, lines.join('\n') + '\n');
  }, to - from).unref();
}, from).unref();
