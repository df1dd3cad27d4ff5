// @ts-nocheck: a bench tool in plain JS, like loop-blocks-profile.mjs.
// Where ALL the blocked windows of loop-blocks.mjs went, summed over the burst (where
// loop-blocks-profile.mjs shows the largest windows one by one): each .cpuprofile sample in a
// window is put in one phase of a request's life by its stack (first match wins), and in one
// origin by its own frame (swapstate's code, a package, Node's JS, native or GC).
// `node test/bench/loop-blocks-classify.mjs <prof dir> <lag json>`.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const [dir, lagFile] = process.argv.slice(2);
const f = readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))[0];
const p = JSON.parse(readFileSync(join(dir, f), 'utf8'));
const wins = JSON.parse(readFileSync(lagFile, 'utf8')).filter(([a]) => a >= p.startTime);
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const ts = [];
let t = p.startTime;
for (let i = 0; i < p.samples.length; i++) ts.push((t += p.timeDeltas[i]));

// The phases, matched against the whole stack (innermost first) in this order.
const PHASES = [
  ['garbage collection', /\(garbage collector\)/],
  ['arrival: request parsed and routed', /parserOnIncoming |parserOnHeadersComplete/],
  ['grant and forward', /grantServe|leanForward|lean-forward|tickOnSocket|internalConnect/],
  ['ticket and scheduler', /onTurnEnd|tickets\.js|scheduler-runtime/],
  ['response closed (hooks, access log, activity)', /emitCloseNT|onClose|closed .*response-observer/],
  ['upstream response relayed', /parserOnIncomingClient|onend|ondata|endReadableNT|socketOnData/],
  ['timers', /processTimers|listOnTimeout/],
  ['writes (writev)', /writev/],
  ['idle (descheduled)', /\(idle\)/],
];
const origin = (cf) =>
  /\/(dist|src|machines)\//.test(cf.url) && !cf.url.includes('node_modules')
    ? 'swapstate'
    : cf.url.includes('node_modules')
      ? `package ${cf.url.replace(/.*node_modules\//, '').split('/')[0]}`
      : cf.url.startsWith('node:')
        ? "Node's JS"
        : cf.functionName === '(garbage collector)'
          ? 'GC'
          : `native ${cf.functionName || '?'}`;
const phases = new Map();
const origins = new Map();
let n = 0;
for (let i = 0; i < ts.length; i++) {
  if (!wins.some(([a, b]) => ts[i] >= a && ts[i] <= b)) continue;
  n++;
  const names = [];
  for (let x = p.samples[i]; x !== undefined; x = parent.get(x)) {
    const cf = byId.get(x).callFrame;
    names.push(`${cf.functionName} ${cf.url.replace(/.*\//, '')}`);
  }
  const stack = names.join('|');
  const phase = PHASES.find(([, re]) => re.test(stack))?.[0] ?? 'other';
  phases.set(phase, (phases.get(phase) ?? 0) + 1);
  const o = origin(byId.get(p.samples[i]).callFrame);
  origins.set(o, (origins.get(o) ?? 0) + 1);
}
const pct = (v) => `${((100 * v) / n).toFixed(0)} %`;
const interval = (ts.at(-1) - ts[0]) / ts.length;
console.log(`blocked windows > 12 ms: ${wins.length}, ${(wins.reduce((s, [a, b]) => s + b - a, 0) / 1000).toFixed(0)} ms in all; ${n} samples in them (one per ~${interval.toFixed(0)} µs)`);
console.log('\nby phase (stack) | share');
for (const [k, v] of [...phases].sort((a, b) => b[1] - a[1])) console.log(`${k} | ${pct(v)}`);
console.log('\nby origin (own frame) | share');
for (const [k, v] of [...origins].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${k} | ${pct(v)}`);
