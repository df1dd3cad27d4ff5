import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/real-upstreams.ts';
import { httpPost, killAll, startFloorProxy, startLoadGen, startSwapstate, UPSTREAM } from './procs.ts';
const dir = mkdtempSync(join(tmpdir(), 'swapstate-xm-'));
const port = await freePort();
const config = `healthCheckTimeout: 30\nmodels:\n  m1:\n    cmd: ${process.execPath} ${UPSTREAM} --port ${port} --id m1\n    proxy: http://127.0.0.1:${port}\n    concurrencyLimit: 100\n`;
const sw = await startSwapstate({ instance: 'xm', dir, config, port: await freePort(), nodeArgs: ['--import', '/tmp/x/ttfc-marks.mjs', ...(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/x/prof', '--cpu-prof-interval=' + process.env.PROF] : [])] });
const gen = await startLoadGen();
await httpPost(`${sw.url}/v1/chat/completions`, { model: 'm1', messages: [] });
const fl = process.env.FLOOR ? await startFloorProxy(await freePort(), port, ['--import', '/tmp/x/ttfc-marks.mjs', ...(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/x/proff', '--cpu-prof-interval=' + process.env.PROF] : [])]) : null;
const target = process.env.DIRECT ? `http://127.0.0.1:${port}` : fl ? fl.url : sw.url;
const ka = new http.Agent({ keepAlive: true, maxSockets: 1 });
const times = new Map<string, number[]>();
const one = (body: unknown, agent: http.Agent | false, name = '') => new Promise<void>((resolve, reject) => {
  const t0 = performance.now();
  const rq = http.request(`${target}/v1/chat/completions`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => res.once('data', () => { times.set(name, [...(times.get(name) ?? []), performance.now() - t0]); }).on('end', resolve));
  rq.on('error', reject);
  rq.end(JSON.stringify(body));
});
try {
  const chat = { model: 'm1', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 };
  const stream = { model: 'm1', stream: true, chunks: 5, chunk_delay_ms: 10, messages: [{ role: 'user', content: 'tell me a story of exactly one hundred words' }] };
  const chatStreamBody = { ...chat, messages: stream.messages, chunks: 5 };
  await gen.conc(`${target}/v1/chat/completions`, chat, 32, 4000, 1e7);
  await gen.seq(`${target}/v1/chat/completions`, chat, 500);
  const modes: [string, unknown, http.Agent | false][] = [
    ['chat-ka', chat, ka], ['chat-new', chat, false], ['stream-ka', stream, ka], ['stream-new', stream, false], ['chatbig-ka', chatStreamBody, ka], ['streamflag-ka', { ...chat, stream: true }, ka],
  ];
  const only = process.env.MODE;
  const reps = Number(process.env.REPS ?? 20);
  const gap = Number(process.env.GAP ?? 30);
  for (let r = 0; r < reps; r++) for (const [name, body, agent] of modes) {
    if (only && name !== only) continue;
    console.error(`MODE ${name}`);
    await one(body, agent, name);
    await new Promise((res) => setTimeout(res, gap));
  }
} finally {
  if (fl) { process.kill(fl.pid, 'SIGTERM'); await new Promise((r) => setTimeout(r, 1500)); }
  gen.close(); fl?.stop(); ka.destroy(); await sw.stop(); killAll();
}
console.log(fl ? fl.pid : sw.pid);
const med = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]!; };
for (const [k, v] of times) console.log(k, 'first byte p50', med(v).toFixed(3), 'ms');
