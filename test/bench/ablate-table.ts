/**
 * Turns ablate.sh's output into the ablation table (markdown): per setting, the median CPU
 * µs/request at 32 connections over all its runs (3 per round), the spread (min-max), the
 * µs saved against `none` and its share of `none`'s total; the 1-connection p50 likewise.
 * `npx tsx test/bench/ablate-table.ts out.txt`
 */
import { readFileSync } from 'node:fs';

const text = readFileSync(process.argv[2]!, 'utf8');
const cpu = new Map<string, number[]>();
const p50 = new Map<string, number[]>();
let current = '';
for (const line of text.split('\n')) {
  const head = /^== round \d+ ablate=(\S+)/.exec(line);
  if (head) current = head[1]!;
  const run = /^run \d+: .* (\d+) µs CPU\/request/.exec(line);
  if (run && current) (cpu.get(current) ?? cpu.set(current, []).get(current)!).push(Number(run[1]));
  const one = /^1 conn ([12]): p50 (\d+) µs/.exec(line); // run 0 warms up
  if (one && current) (p50.get(current) ?? p50.set(current, []).get(current)!).push(Number(one[2]));
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const base = median(cpu.get('none') ?? [NaN]);
const baseP50 = median(p50.get('none') ?? [NaN]);
console.log('| switched off | CPU µs/request (32 conn), median [min-max] | saved µs | % of total | p50 µs (1 conn) | p50 saved µs |');
console.log('|---|---|---|---|---|---|');
for (const [name, xs] of cpu) {
  const m = median(xs);
  const pm = median(p50.get(name) ?? [NaN]);
  const label = name.includes(',') ? 'all of them' : name;
  const saved = name === 'none' ? '—' : (base - m).toFixed(0);
  const pct = name === 'none' ? '—' : `${(((base - m) / base) * 100).toFixed(0)} %`;
  console.log(`| ${label} | ${m.toFixed(0)} [${Math.min(...xs)}-${Math.max(...xs)}] (n=${xs.length}) | ${saved} | ${pct} | ${pm.toFixed(0)} | ${name === 'none' ? '—' : (baseP50 - pm).toFixed(0)} |`);
}
