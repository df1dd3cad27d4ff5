/**
 * A quick loop for the time to first chunk (bench row 2b): swapstate (built) with one ready
 * model, streams of 100 chunks 10 ms apart (the bench's), one connection each, direct and
 * proxied in turn as the bench alternates them; prints the added TTFC (median proxied -
 * median direct) for each setting of `SWAPSTATE_ABLATE` given, round-robin, so that the
 * machine's load falls on all settings alike.
 * `npx tsx test/bench/ttfc-path.ts [--streams N] [--rounds R] [--ablate none,accesslog,...] [--warm] [-- node args]`
 * (`none` is the whole path; a setting may join parts with `+`: `activity+bytes`). `proxy`
 * gives no figure: its bare forward passes the stream client's `Connection: close` on to the
 * upstream, and these streams came back 400 from the demo upstream, as they did through
 * floor.mjs from this harness (not investigated further; the bench's row 2b° gets its streams).
 * `--warm chat|health|tick`: while the streams run, a small chat request to the same model
 * every 5 ms (one keep-alive connection), so the request path is never cold when a stream
 * arrives; `other`: the same to a second model running beside it (the path warm, the streamed
 * model's process idle between streams); GET /health (the server warm, the model path not); or no request at all, a
 * process waking every 1 ms (the CPU kept out of deep idle). The difference to a run without
 * it is what a cold path costs the first chunk.
 * The full, honest measurement stays `npm run bench`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/real-upstreams.ts';
import { httpPost, killAll, startFloorProxy, startLoadGen, startSwapstate, UPSTREAM } from './procs.ts';

const all = process.argv.slice(2);
const dd = all.indexOf('--');
const argv = dd === -1 ? all : all.slice(0, dd);
const nodeArgs = dd === -1 ? [] : all.slice(dd + 1);
const opt = (name: string, dflt: string) => {
  const i = argv.indexOf(name);
  return i === -1 ? dflt : argv[i + 1]!;
};
const streams = Number(opt('--streams', '8'));
const rounds = Number(opt('--rounds', '2'));
const settings = opt('--ablate', 'none').split(',');
/**
 * Before the streams, as the bench does before its row 2b: 32 connections of small chat
 * requests for this many ms, then 500 one at a time, so that V8 has optimised the request path.
 * `--prewarm 0` streams into a path that has served three requests (phase 6 measured that:
 * mostly interpreted code, ~1 ms more than the bench's row 2b).
 */
const prewarmMs = Number(opt('--prewarm', '4000'));
/**
 * `--floor`: the floor (floor.mjs) streams too, in the same rotation as direct and swapstate
 * (as row 1a interleaves them), so its added TTFC is measured in the same seconds as ours.
 */
const withFloor = argv.includes('--floor');
const floorResults: number[] = [];
/** `--warm chat` (a chat request every 5 ms), `other` (the same to a second model), `health` (GET /health), `tick` (no request: a process of our own waking every 1 ms). */
const wi = argv.indexOf('--warm');
const warm = wi === -1 ? null : (argv[wi + 1] ?? 'chat');
const dir = mkdtempSync(join(tmpdir(), 'swapstate-ttfc-'));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const body = (model: string) => ({ model, stream: true, chunks: 100, chunk_delay_ms: 10, messages: [{ role: 'user', content: 'tell me a story of exactly one hundred words' }] });
const gen = await startLoadGen();
const CHAT = { model: 'm1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 };
/** What the bench sends before its streams (see `--prewarm`). */
async function prewarm(url: string): Promise<void> {
  if (prewarmMs <= 0) return;
  await gen.conc(url, CHAT, 32, prewarmMs, 10_000_000);
  await gen.seq(url, CHAT, 500);
}
const results = new Map<string, number[]>();
try {
  for (let r = 0; r < rounds; r++) {
    for (const setting of settings) {
      const port = await freePort();
      const port2 = await freePort();
      const m2 = warm === 'other' ? `  m2:\n    cmd: ${process.execPath} ${UPSTREAM} --port ${port2} --id m2\n    proxy: http://127.0.0.1:${port2}\n` : '';
      const groups = warm === 'other' ? `groups:\n  both:\n    swap: false\n    members: [m1, m2]\n` : '';
      const config = `healthCheckTimeout: 30\nmodels:\n  m1:\n    cmd: ${process.execPath} ${UPSTREAM} --port ${port} --id m1\n    proxy: http://127.0.0.1:${port}\n    concurrencyLimit: 100\n${m2}${groups}`;
      process.env.SWAPSTATE_ABLATE = setting === 'none' ? '' : setting.replaceAll('+', ',');
      const sw = await startSwapstate({ instance: `ttfc-${setting}-${r}`, dir, config, port: await freePort(), nodeArgs });
      try {
        const direct = `http://127.0.0.1:${port}/v1/chat/completions`;
        const proxied = `${sw.url}/v1/chat/completions`;
        await httpPost(proxied, CHAT);
        await prewarm(proxied);
        const fl = withFloor ? await startFloorProxy(await freePort(), port, nodeArgs) : null;
        const floorUrl = fl ? `${fl.url}/v1/chat/completions` : null;
        if (floorUrl !== null) await prewarm(floorUrl);
        await gen.stream(direct, { ...body('m1'), chunks: 5 });
        await gen.stream(proxied, { ...body('m1'), chunks: 5 });
        if (floorUrl !== null) await gen.stream(floorUrl, { ...body('m1'), chunks: 5 });
        let warming = warm !== null;
        const ticker = warm === 'tick' ? spawn(process.execPath, ['-e', 'setInterval(() => {}, 1)'], { stdio: 'ignore' }) : null;
        const warmer = (async () => {
          if (warm === 'tick') return;
          const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
          const chat = JSON.stringify({ model: warm === 'other' ? 'm2' : 'm1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 });
          while (warming) {
            await new Promise<void>((resolve) => {
              const health = warm === 'health';
              const rq = http.request(health ? `${sw.url}/health` : proxied, { method: health ? 'GET' : 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => res.resume().on('end', resolve));
              rq.on('error', () => resolve());
              rq.end(health ? undefined : chat);
            });
            await new Promise((r) => setTimeout(r, 5));
          }
          agent.destroy();
        })();
        const d: number[] = [];
        const p: number[] = [];
        const f: number[] = [];
        const ways = floorUrl === null ? [direct, proxied] : [direct, proxied, floorUrl];
        for (let i = 0; i < streams; i++) {
          // Every other stream in the reverse order, so that no way always goes first.
          const order = i % 2 === 0 ? ways : ways.toReversed();
          for (const url of order) {
            const s = await gen.stream(url, body('m1'));
            if (s.eventsMs.length === 0) console.log(`no events from ${url}: ${s.status} ${s.error}`);
            else (url === direct ? d : url === proxied ? p : f).push(s.eventsMs[0]!);
          }
        }
        fl?.stop();
        if (fl) {
          floorResults.push(median(f) - median(d));
          console.log(`round ${r} floor: ${median(f).toFixed(2)} ms, added ${(median(f) - median(d)).toFixed(2)} ms`);
        }
        warming = false;
        await warmer;
        ticker?.kill('SIGKILL');
        const added = median(p) - median(d);
        results.set(setting, [...(results.get(setting) ?? []), added]);
        console.log(`round ${r} ${setting}: direct ${median(d).toFixed(2)} ms, proxied ${median(p).toFixed(2)} ms, added ${added.toFixed(2)} ms`);
      } finally {
        await sw.stop();
      }
    }
  }
} finally {
  gen.close();
  killAll();
}
console.log('\nsetting | added TTFC per round (ms) | median');
for (const [s, xs] of results) console.log(`${s} | ${xs.map((x) => x.toFixed(2)).join(' ')} | ${median(xs).toFixed(2)}`);
if (floorResults.length > 0) console.log(`the floor | ${floorResults.map((x) => x.toFixed(2)).join(' ')} | ${median(floorResults).toFixed(2)}`);
