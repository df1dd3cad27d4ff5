/**
 * Where a lone proxied request's added time goes: swapstate and the floor (floor.mjs) side by
 * side, one connection, each request split into its legs by leg-marks.mjs (a preload reading
 * Node's diagnostics channels, so both processes are timed by the same marks): the request
 * leg (head parsed -> upstream request written), the upstream's (-> its response head), the
 * response leg (-> `end()` on the client's response) and the finish (-> response finished).
 * Row 1a of the bench is the sum of what swapstate adds over the floor in these legs.
 * `npx tsx test/bench/legs.ts [--rounds N] [-- node args]`; docs/perf/issue16-phase8.md.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/real-upstreams.ts';
import { httpPost, killAll, startFloorProxy, startLoadGen, startSwapstate, until, UPSTREAM } from './procs.ts';

const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const nodeArgs = dd === -1 ? [] : argv.slice(dd + 1);
const ri = argv.indexOf('--rounds');
const rounds = ri === -1 ? 3 : Number(argv[ri + 1]);
const MARKS = join(import.meta.dirname, 'leg-marks.mjs');
const N = 2000;

interface Legs {
  n: number;
  requestUs: number;
  upstreamUs: number;
  toAnswerUs: number;
  responseUs: number;
  finishUs: number;
  totalUs: number;
}

/** The legs of the requests since the last call (leg-marks.mjs writes them on SIGUSR2). */
async function legsOf(pid: number): Promise<Legs> {
  const file = join(tmpdir(), `swapstate-leg-marks-${pid}.json`);
  rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  await until(() => existsSync(file), `the leg marks of ${pid}`, 10_000);
  await until(() => readFileSync(file, 'utf8').endsWith('}'), `the leg marks of ${pid}, whole`, 10_000);
  const legs = JSON.parse(readFileSync(file, 'utf8')) as Legs;
  rmSync(file, { force: true });
  return legs;
}

const dir = mkdtempSync(join(tmpdir(), 'swapstate-legs-'));
const upPort = await freePort();
const config = `logToStdout: proxy\nmodels:\n  m:\n    cmd: ${process.execPath} ${UPSTREAM} --port ${upPort}\n    proxy: http://127.0.0.1:${upPort}\n    concurrencyLimit: 64\n`;
const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
const path = '/v1/chat/completions';
try {
  const sw = await startSwapstate({ instance: 'legs', dir, config, port: await freePort(), nodeArgs: ['--import', MARKS, ...nodeArgs] });
  await httpPost(`${sw.url}${path}`, body); // starts the upstream
  const floor = await startFloorProxy(await freePort(), upPort, ['--import', MARKS, ...nodeArgs]);
  const gen = await startLoadGen();
  const targets = [
    { name: 'swapstate', url: `${sw.url}${path}`, pid: sw.pid },
    { name: 'floor', url: `${floor.url}${path}`, pid: floor.pid },
  ];
  console.log(`node ${process.version}; ${N} sequential requests per target and round, medians in µs`);
  for (const t of targets) await gen.seq(t.url, body, 3 * N); // warm-up: V8 optimises the paths
  const added: Record<keyof Omit<Legs, 'n'> | 'p50', number[]> = { p50: [], requestUs: [], upstreamUs: [], toAnswerUs: [], responseUs: [], finishUs: [], totalUs: [] };
  console.log('round | target | p50 (client) | request leg | upstream | (both) | response leg | end -> finish | total');
  for (let round = 0; round < rounds; round++) {
    const seen: Record<string, Legs & { p50: number }> = {};
    for (const t of round % 2 ? [...targets].reverse() : targets) {
      await legsOf(t.pid); // forget the warm-up's and the last round's
      const r = await gen.seq(t.url, body, N);
      const sorted = [...r.latenciesUs].sort((a, b) => a - b);
      const legs = await legsOf(t.pid);
      seen[t.name] = { ...legs, p50: sorted[sorted.length >> 1]! };
    }
    const direct = await gen.seq(`http://127.0.0.1:${upPort}${path}`, body, N);
    const directP50 = [...direct.latenciesUs].sort((a, b) => a - b)[direct.latenciesUs.length >> 1]!;
    for (const name of ['swapstate', 'floor']) {
      const l = seen[name]!;
      console.log(`${round} | ${name} | ${l.p50.toFixed(0)} (+${(l.p50 - directP50).toFixed(0)} over direct) | ${l.requestUs} | ${l.upstreamUs} | ${l.toAnswerUs} | ${l.responseUs} | ${l.finishUs} | ${l.totalUs}`);
    }
    const [s, f] = [seen.swapstate!, seen.floor!];
    for (const k of Object.keys(added) as (keyof typeof added)[]) added[k].push(s[k] - f[k]);
  }
  const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!.toFixed(1);
  console.log(
    `swapstate over the floor (median of the rounds): p50 +${med(added.p50)} µs; request leg +${med(added.requestUs)}, upstream +${med(added.upstreamUs)} (both +${med(added.toAnswerUs)}), response leg +${med(added.responseUs)}, end -> finish +${med(added.finishUs)}, total +${med(added.totalUs)}`,
  );
  gen.close();
  floor.stop();
  await sw.stop();
} finally {
  killAll();
  rmSync(dir, { recursive: true, force: true });
}
