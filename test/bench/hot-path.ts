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
import { gcEvents, promotedMb, youngGarbageMb } from './gc-trace.ts';
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
    const gc0 = gcCount();
    const r = await gen.seq(`${sw.url}/v1/chat/completions`, body, 2000);
    const cpu = cpuMs(sw.pid) - c0;
    const sorted = [...r.latenciesUs].sort((a, b) => a - b);
    console.log(`1 conn ${i}: p50 ${sorted[sorted.length >> 1]!.toFixed(0)} µs, ${((cpu * 1000) / sorted.length).toFixed(0)} µs CPU/request`);
    if (gc) console.log(gcReport(gc0, sorted.length));
  }
  for (let i = 0; i < (one ? 0 : 3); i++) {
    const c0 = cpuMs(sw.pid);
    const gc0 = gcCount();
    const r = await gen.conc(`${sw.url}/v1/chat/completions`, body, 32, seconds * 1000, 1e9);
    const cpu = cpuMs(sw.pid) - c0;
    console.log(`run ${i}: ${r.requests} requests, ${r.reqPerSec.toFixed(0)} req/s, ${((cpu * 1000) / r.requests).toFixed(0)} µs CPU/request, RSS ${rssMb(sw.pid).toFixed(1)} MB, statuses ${JSON.stringify(r.statuses)}`);
    if (gc) console.log(gcReport(gc0, r.requests));
  }
  if (gc) console.log(`memory after the runs: ${memoryParts(sw.pid)}`);
} finally {
  gen.close();
  await sw.stop();
  killAll();
}
if (prof) console.log(profileText(join(dir, 'prof')));

/** Collections logged so far (`--gc`), where a run's window starts. */
function gcCount(): number {
  return gc ? gcEvents(readFileSync(sw.logFile, 'utf8')).length : 0;
}

/** The young garbage and the promoted garbage per request of the collections since `from`. */
function gcReport(from: number, requests: number): string {
  const window = gcEvents(readFileSync(sw.logFile, 'utf8')).slice(from);
  const p = promotedMb(window);
  const kb = (mb: number) => (mb * 1024) / requests;
  return `  young garbage ${kb(youngGarbageMb(window)).toFixed(1)} KB/request, promoted ~${kb(p.mb).toFixed(2)} KB/request, ${window.length} GCs, ${p.fullGcs} full`;
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
