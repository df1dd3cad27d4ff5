/**
 * A quick loop for optimising the request path: swapstate (built) with one ready model, 32
 * connections for a few seconds, swapstate's CPU per proxied request; `--prof` adds a CPU
 * profile summary, `--gc` the young-generation garbage per request (from `--trace-gc`).
 * `npx tsx test/bench/hot-path.ts [--prof] [--gc] [--one] [--seconds N] [-- node args]`.
 * The full, honest measurement stays `npm run bench`.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/real-upstreams.ts';
import { profileText } from './cpuprofile.ts';
import { cpuMs, httpPost, killAll, rssMb, startLoadGen, startSwapstate, UPSTREAM } from './procs.ts';

const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const nodeArgs = dd === -1 ? [] : argv.slice(dd + 1);
const prof = argv.includes('--prof');
const gc = argv.includes('--gc');
/** `--one`: only the 1-connection runs (five of them), e.g. to profile the lone request's path. */
const one = argv.includes('--one');
const si = argv.indexOf('--seconds');
const seconds = si === -1 ? 4 : Number(argv[si + 1]);
const dir = mkdtempSync(join(tmpdir(), 'swapstate-hot-'));
const [port, upPort] = [await freePort(), await freePort()];
const config = `logToStdout: proxy\nmodels:\n  m:\n    cmd: ${process.execPath} ${UPSTREAM} --port ${upPort}\n    proxy: http://127.0.0.1:${upPort}\n    concurrencyLimit: 64\n`;
const args = [...nodeArgs, ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'prof')}`] : []), ...(gc ? ['--trace-gc'] : [])];
const sw = await startSwapstate({ instance: 'hot', dir, config, port, nodeArgs: args });
const gen = await startLoadGen();
const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
try {
  await httpPost(`${sw.url}/v1/chat/completions`, body);
  await gen.conc(`${sw.url}/v1/chat/completions`, body, 32, 1000, 1e9); // warm-up
  for (let i = 0; i < (one ? 5 : 3); i++) {
    const c0 = cpuMs(sw.pid);
    const freed0 = gc ? scavenged(sw.logFile) : 0;
    const gc0 = gc ? gcLines(sw.logFile).length : 0;
    const r = await gen.seq(`${sw.url}/v1/chat/completions`, body, 2000);
    const cpu = cpuMs(sw.pid) - c0;
    const sorted = [...r.latenciesUs].sort((a, b) => a - b);
    console.log(`1 conn ${i}: p50 ${sorted[sorted.length >> 1]!.toFixed(0)} µs, ${((cpu * 1000) / sorted.length).toFixed(0)} µs CPU/request`);
    if (gc) {
      const lines = gcLines(sw.logFile).slice(gc0);
      const p = promoted(lines);
      console.log(`  young garbage ${(((scavenged(sw.logFile) - freed0) * 1024) / sorted.length).toFixed(1)} KB/request, promoted ~${((p.mb * 1024) / sorted.length).toFixed(2)} KB/request, ${lines.length} GCs, ${p.fullGcs} full`);
    }
  }
  for (let i = 0; i < (one ? 0 : 3); i++) {
    const c0 = cpuMs(sw.pid);
    const freed0 = gc ? scavenged(sw.logFile) : 0;
    const gc0 = gc ? gcLines(sw.logFile).length : 0;
    const r = await gen.conc(`${sw.url}/v1/chat/completions`, body, 32, seconds * 1000, 1e9);
    const cpu = cpuMs(sw.pid) - c0;
    console.log(`run ${i}: ${r.requests} requests, ${r.reqPerSec.toFixed(0)} req/s, ${((cpu * 1000) / r.requests).toFixed(0)} µs CPU/request, RSS ${rssMb(sw.pid).toFixed(1)} MB, statuses ${JSON.stringify(r.statuses)}`);
    if (gc) {
      const p = promoted(gcLines(sw.logFile).slice(gc0));
      console.log(`  young garbage ${(((scavenged(sw.logFile) - freed0) * 1024) / r.requests).toFixed(1)} KB/request, promoted ~${((p.mb * 1024) / r.requests).toFixed(2)} KB/request, ${p.fullGcs} full GCs`);
    }
  }
  if (gc) console.log(`memory after the runs: ${memoryParts(sw.pid)}`);
} finally {
  gen.close();
  await sw.stop();
  killAll();
}
if (prof) console.log(profileText(join(dir, 'prof')));

/** MB freed by all scavenges so far, from `--trace-gc` lines in the log ("Scavenge A (B) -> C (D) MB"). */
function scavenged(logFile: string): number {
  let mb = 0;
  for (const m of readFileSync(logFile, 'utf8').matchAll(/Scavenge\S* ([\d.]+) \([\d.]+\) -> ([\d.]+) /g)) mb += Number(m[1]) - Number(m[2]);
  return mb;
}

/** Every GC line of `--trace-gc` in the log: kind, heap used before and after (MB). */
function gcLines(logFile: string): { kind: string; before: number; after: number }[] {
  return [...readFileSync(logFile, 'utf8').matchAll(/ms: (?:Incremental )?(Scavenge|Mark-Compact|Mark-Sweep)\S*(?: \([^)]*\))? ([\d.]+) \([\d.]+\) -> ([\d.]+) /g)].map((m) => ({
    kind: m[1]!,
    before: Number(m[2]),
    after: Number(m[3]),
  }));
}

/**
 * MB that reached the old generation over a window of GC lines: the heap's growth from the
 * first GC's end to the last's, plus what each full GC freed (scavenges empty the young
 * generation, so what their ends add up to is what they promoted; approximate by the survivors
 * still young at either end).
 */
function promoted(lines: { kind: string; before: number; after: number }[]): { mb: number; fullGcs: number } {
  if (lines.length < 2) return { mb: 0, fullGcs: 0 };
  const full = lines.slice(1).filter((l) => l.kind !== 'Scavenge');
  return { mb: lines.at(-1)!.after - lines[0]!.after + full.reduce((s, l) => s + l.before - l.after, 0), fullGcs: full.length };
}

/**
 * RSS split by what holds it, from /proc/<pid>/smaps: file pages (the node binary), V8's heap
 * pages (anonymous mappings of at most 256 KB: V8 maps its pages one by one, and keeps pages
 * a full GC freed in a pool that still counts), the malloc heap (`[heap]`), and other
 * anonymous memory (thread stacks, malloc arenas).
 */
function memoryParts(pid: number): string {
  let file = 0;
  let v8 = 0;
  let brk = 0;
  let other = 0;
  let kind: 'file' | 'v8' | 'brk' | 'other' = 'other';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      const kb = (parseInt(head[2]!, 16) - parseInt(head[1]!, 16)) / 1024;
      const name = head[4]!;
      kind = name === '[heap]' ? 'brk' : name.startsWith('/') ? 'file' : name === '' && kb <= 256 ? 'v8' : 'other';
      continue;
    }
    const rss = /^Rss:\s+(\d+)/.exec(line);
    if (!rss) continue;
    const mb = Number(rss[1]) / 1024;
    if (kind === 'file') file += mb;
    else if (kind === 'v8') v8 += mb;
    else if (kind === 'brk') brk += mb;
    else other += mb;
  }
  return `RSS ${(file + v8 + brk + other).toFixed(1)} MB: V8 heap pages ${v8.toFixed(1)}, malloc heap ${brk.toFixed(1)}, other anonymous ${other.toFixed(1)}, file ${file.toFixed(1)}`;
}
