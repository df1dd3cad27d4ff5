// @ts-nocheck: a bench tool in plain JS (a preload must not need tsx).
// For each blocked window of loop-blocks.mjs, what the .cpuprofile samples in it were doing:
// `node test/bench/loop-blocks-profile.mjs <prof dir> <lag json> [N]`.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
const [dir, lagFile, nShow = '6'] = process.argv.slice(2);
const f = readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))[0];
const p = JSON.parse(readFileSync(join(dir, f), 'utf8'));
const wins = JSON.parse(readFileSync(lagFile, 'utf8')).filter(([a]) => a >= p.startTime);
const byId = new Map(p.nodes.map((n) => [n.id, n])); const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (n) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/.*\/(src|machines|node_modules)\//, '$1/')}:${n.callFrame.lineNumber}`;
const ts = []; let t = p.startTime; for (let i = 0; i < p.samples.length; i++) { t += p.timeDeltas[i]; ts.push(t); }
console.log(`blocked windows > 12 ms: ${wins.length}; sizes ${wins.map(([a, b]) => ((b - a) / 1000).toFixed(0)).join(' ')}`);
for (const [a, b] of wins.sort((x, y) => y[1] - y[0] - (x[1] - x[0])).slice(0, Number(nShow))) {
  const incl = new Map(); const self = new Map(); let n = 0;
  for (let i = 0; i < ts.length; i++) {
    if (ts[i] < a || ts[i] > b) continue; n++;
    const id = p.samples[i]; const s = name(byId.get(id)); self.set(s, (self.get(s) ?? 0) + 1);
    const seen = new Set(); let x = id;
    while (x !== undefined) { const nm = name(byId.get(x)); if (!seen.has(nm)) { seen.add(nm); incl.set(nm, (incl.get(nm) ?? 0) + 1); } x = parent.get(x); }
  }
  const top = (m, k) => [...m].filter(([nm]) => !/xstate\/dist|\(root\)/.test(nm)).sort((x, y) => y[1] - x[1]).slice(0, k).map(([nm, c]) => `   ${(100 * c / n).toFixed(0)}% ${nm}`).join('\n');
  console.log(`-- ${((b - a) / 1000).toFixed(1)} ms at +${((a - p.startTime) / 1000).toFixed(0)} ms, ${n} samples\n self:\n${top(self, 5)}\n incl:\n${top(incl, 22)}`);
}
