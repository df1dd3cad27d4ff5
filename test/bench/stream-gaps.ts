/**
 * What stalls a lone stream (bench rows 2a, 2c): swapstate (built) with one ready model and
 * `--trace-gc`, N streams of 100 chunks 10 ms apart one after another, proxied; prints every
 * stream whose largest gap between chunks exceeds 14 ms (with the time since swapstate
 * started), then swapstate's full GCs (`Mark-Compact`, `(reduce)` when V8's memory reducer
 * ran them) and its largest scavenge, so the two can be read against each other.
 * `npx tsx test/bench/stream-gaps.ts [N] [-- node args]` (e.g. `-- --no-memory-reducer`).
 * docs/perf/issue16-phase7.md has what it showed.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/real-upstreams.ts';
import { httpPost, startLoadGen, startSwapstate, UPSTREAM } from './procs.ts';

const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const nodeArgs = dd === -1 ? [] : argv.slice(dd + 1);
const n = Number((dd === -1 ? argv : argv.slice(0, dd))[0] ?? 30);
const dir = mkdtempSync(join(tmpdir(), 'swapstate-gaps-'));
const port = await freePort();
const config = `models:\n  m1:\n    cmd: ${process.execPath} ${UPSTREAM} --port ${port} --id m1\n    proxy: http://127.0.0.1:${port}\n`;
const t0 = performance.now();
const sw = await startSwapstate({ instance: 'gaps', dir, config, port: await freePort(), nodeArgs: ['--trace-gc', ...nodeArgs] });
const gen = await startLoadGen();
try {
  const body = { model: 'm1', stream: true, chunks: 100, chunk_delay_ms: 10, messages: [{ role: 'user', content: 'tell me a story' }] };
  await httpPost(`${sw.url}/v1/chat/completions`, { model: 'm1', messages: [{ role: 'user', content: 'hi' }] });
  for (let i = 0; i < n; i++) {
    const s = await gen.stream(`${sw.url}/v1/chat/completions`, body);
    let gap = 0;
    for (let j = 1; j < s.eventsMs.length; j++) gap = Math.max(gap, s.eventsMs[j]! - s.eventsMs[j - 1]!);
    if (gap > 14) console.log(`stream ${i}: largest gap ${gap.toFixed(1)} ms, ended ${(performance.now() - t0).toFixed(0)} ms after swapstate's start`);
  }
} finally {
  await sw.stop();
  gen.close();
}
const gcs = readFileSync(sw.logFile, 'utf8').split('\n');
for (const l of gcs.filter((x) => x.includes('Mark-Compact'))) console.log(l.replace(/^\[[^\]]*\]\s*/, '').slice(0, 160));
const scavenges = gcs.filter((x) => x.includes('Scavenge')).map((x) => Number(/ ([0-9.]+) \/ [0-9.]+ ms/.exec(x)?.[1] ?? 0));
console.log(`${scavenges.length} scavenges, the longest ${Math.max(0, ...scavenges)} ms`);
