/**
 * Row 2d against its controls: streams during a 2000-request burst, with the burst and the
 * streams carried three ways in turn:
 * - direct: the burst straight to model m1's server, the streams straight to model s1's;
 * - floor: both through one bare Node pass-through (floor.mjs, two listen ports);
 * - swapstate: both through swapstate (m1 ready, concurrencyLimit 4000; s1 in a persistent group).
 * The same two model servers (started by swapstate) answer all three, and no swap happens, so
 * the only difference is what sits between the clients and the servers. Prints, per round and
 * way, the streams' merged chunks (< 1 ms apart) and largest gap.
 * `npx tsx test/bench/burst-floor.ts [--rounds N] [--burst N] [--stream-gen]`. Findings: docs/perf/issue16-phase11.md.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/real-upstreams.ts';
import { httpPost, killAll, startFloorProxy, startLoadGen, startSwapstate, UPSTREAM } from './procs.ts';
import { streamStats, streamsDuring } from './stream-stats.ts';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = argv.indexOf(name);
  return i === -1 ? dflt : Number(argv[i + 1]);
};
const rounds = opt('--rounds', 3);
const BURST = opt('--burst', 2000);
const MAX_DURING = 10;
const dir = mkdtempSync(join(tmpdir(), 'swapstate-burst-floor-'));
const [mPort, sPort] = [await freePort(), await freePort()];
const model = (id: string, port: number, extra = '') =>
  `  ${id}:\n    cmd: ${process.execPath} ${UPSTREAM} --port ${port} --id ${id}\n    proxy: http://127.0.0.1:${port}\n${extra}`;
const config =
  `healthCheckTimeout: 30\nmodels:\n${model('m1', mPort, '    concurrencyLimit: 4000\n')}${model('s1', sPort)}` +
  `groups:\n  side:\n    swap: false\n    exclusive: false\n    persistent: true\n    members: [s1]\n`;
const sw = await startSwapstate({ instance: 'burst-floor', dir, config, port: await freePort() });
const [fm, fs] = [await freePort(), await freePort()];
const floor = await startFloorProxy(fm, mPort, [], [[fs, sPort]]);
const gen = await startLoadGen();
// `--stream-gen`: the streams from a second load generator, so the burst's client loop cannot delay their reads.
const sgen = argv.includes('--stream-gen') ? await startLoadGen() : gen;
const chat = { model: 'm1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 };
const stream = { model: 's1', stream: true, chunks: 100, chunk_delay_ms: 10, messages: [{ role: 'user', content: 'a story' }] };
const ways = {
  direct: { burst: `http://127.0.0.1:${mPort}/v1/chat/completions`, stream: `http://127.0.0.1:${sPort}/v1/chat/completions` },
  floor: { burst: `http://127.0.0.1:${fm}/v1/chat/completions`, stream: `http://127.0.0.1:${fs}/v1/chat/completions` },
  swapstate: { burst: `${sw.url}/v1/chat/completions`, stream: `${sw.url}/v1/chat/completions` },
};

try {
  for (const m of ['m1', 's1']) {
    const r = await httpPost(`${sw.url}/v1/chat/completions`, { ...chat, model: m });
    if (r.status !== 200) throw new Error(`loading ${m}: ${r.status}`);
  }
  const totals: Record<string, { merged: number; streams: number }> = {};
  for (let r = 0; r < rounds; r++) {
    for (const [way, url] of Object.entries(ways)) {
      // Warm the way's path (and the floor's agent) as the bench's streams are warmed.
      await sgen.stream(url.stream, { ...stream, chunks: 5 });
      const burst = gen.burst(url.burst, [chat], BURST, 60_000);
      const during = await streamsDuring(sgen, url.stream, stream, burst, MAX_DURING);
      const res = await burst;
      const t = streamStats(during, stream.chunks);
      const tot = (totals[way] ??= { merged: 0, streams: 0 });
      tot.merged += t.merged;
      tot.streams += during.length;
      console.log(
        `round ${r} ${way.padEnd(9)}: burst ${JSON.stringify(res.statuses)} in ${res.wallMs.toFixed(0)} ms; ` +
          `${during.length} streams during it: ${t.merged} merged, largest gap ${t.maxGapMs.toFixed(1)} ms, ${t.incomplete} incomplete, ` +
          `TTFC ${during.map((s) => (s.eventsMs[0] ?? NaN).toFixed(0)).join('/')} ms` +
          (t.incomplete > 0 ? `; first error: ${during.find((s) => s.error)?.error ?? `status ${during.find((s) => s.status !== 200)?.status}`}` : ''),
      );
    }
  }
  console.log(`totals: ${Object.entries(totals).map(([w, t]) => `${w} ${t.merged} merged over ${t.streams} streams`).join('; ')}`);
} finally {
  gen.close();
  if (sgen !== gen) sgen.close();
  floor.stop();
  await sw.stop();
  killAll();
}
