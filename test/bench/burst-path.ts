/**
 * A quick loop for the burst row (bench 4a/2d): swapstate (built) with four models of one
 * swap group and a fifth in a persistent group, 2000 concurrent requests over the four while
 * streams run to the fifth; prints the burst's wall time, swapstate's CPU, the streams'
 * merged chunks and largest gap, and (`--prof`) a CPU profile summary of the whole burst.
 * `--after N` also runs N streams right after each burst, as the bench's row 2d does, and
 * prints each stream's merged chunks and largest gap.
 * `--stream-gen` sends the streams from a second load generator, as the bench does.
 * `npx tsx test/bench/burst-path.ts [--prof] [--rounds N] [--after N] [--stream-gen] [-- node args]`; `BURST_LIMIT=N` sets
 * the four models' `concurrencyLimit` (default 1000: every queued request granted at once).
 * The full, honest measurement stays `npm run bench`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/real-upstreams.ts';
import { profileText } from './cpuprofile.ts';
import type { StreamResult } from './loadgen.ts';
import { cpuMs, httpPost, killAll, rssMb, startLoadGen, startSwapstate, UPSTREAM } from './procs.ts';

const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const nodeArgs = dd === -1 ? [] : argv.slice(dd + 1);
const prof = argv.includes('--prof');
const ri = argv.indexOf('--rounds');
const rounds = ri === -1 ? 2 : Number(argv[ri + 1]);
const ai = argv.indexOf('--after');
const afterN = ai === -1 ? 0 : Number(argv[ai + 1]);
const MODELS = ['q1', 'q2', 'q3', 'q4'];
const dir = mkdtempSync(join(tmpdir(), 'swapstate-burst-'));
const ports = await Promise.all([...MODELS, 's1'].map(() => freePort()));
const model = (id: string, port: number, extra = '') =>
  `  ${id}:\n    cmd: ${process.execPath} ${UPSTREAM} --port ${port} --id ${id}\n    proxy: http://127.0.0.1:${port}\n${extra}`;
const config =
  `healthCheckTimeout: 30\nlogToStdout: proxy\nmodels:\n${MODELS.map((m, i) => model(m, ports[i]!, `    concurrencyLimit: ${process.env.BURST_LIMIT ?? 1000}\n`)).join('')}${model('s1', ports[4]!)}` +
  `groups:\n  four:\n    swap: true\n    exclusive: true\n    members: [${MODELS.join(', ')}]\n  side:\n    swap: false\n    exclusive: false\n    persistent: true\n    members: [s1]\n`;
const args = [...nodeArgs, ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'prof')}`] : [])];
const sw = await startSwapstate({ instance: 'burst', dir, config, port: await freePort(), nodeArgs: args });
const gen = await startLoadGen();
const sgen = argv.includes('--stream-gen') ? await startLoadGen() : gen;
const url = `${sw.url}/v1/chat/completions`;
const chat = (m: string) => ({ model: m, messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 });
const stream = { model: 's1', stream: true, chunks: 100, chunk_delay_ms: 10, messages: [{ role: 'user', content: 'a story' }] };
try {
  await httpPost(url, chat('s1'));
  for (let r = 0; r < rounds; r++) {
    const c0 = cpuMs(sw.pid);
    let over = false;
    const burst = gen.burst(url, MODELS.map(chat), 2000, 60_000).finally(() => (over = true));
    const during: StreamResult[] = [];
    while (!over) during.push(await sgen.stream(url, stream));
    const res = await burst;
    const cpu = cpuMs(sw.pid) - c0;
    const rss = rssMb(sw.pid);
    const after: StreamResult[] = [];
    for (let i = 0; i < afterN; i++) after.push(await sgen.stream(url, stream));
    const tally = (s: StreamResult) => {
      let m = 0;
      let g = 0;
      for (let i = 1; i < s.eventsMs.length; i++) {
        const d = s.eventsMs[i]! - s.eventsMs[i - 1]!;
        if (d < 1) m++;
        g = Math.max(g, d);
      }
      return { m, g };
    };
    let merged = 0;
    let gap = 0;
    for (const s of during) {
      const t = tally(s);
      merged += t.m;
      gap = Math.max(gap, t.g);
    }
    if (afterN > 0) console.log(`  after: ${after.map((s) => { const t = tally(s); return `${t.m} merged/${t.g.toFixed(1)} ms`; }).join(', ')}`);
    console.log(
      `round ${r}: ${res.statuses['200'] ?? 0}/2000 ok in ${res.wallMs.toFixed(0)} ms, swapstate CPU ${cpu.toFixed(0)} ms, RSS ${rss.toFixed(1)} MB; ` +
        `${during.length} streams during it: ${merged} merged chunks, largest gap ${gap.toFixed(1)} ms`,
    );
  }
} finally {
  gen.close();
  if (sgen !== gen) sgen.close();
  await sw.stop();
  killAll();
}
if (prof) console.log(profileText(join(dir, 'prof')));
