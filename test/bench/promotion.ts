/**
 * How much of a short-lived object graph reaches V8's old generation (issue 16, phase 9), on
 * the Node that runs this script, without HTTP: a child Node runs one of two loops with
 * `--trace-gc` and the MB promoted over its last three quarters are printed (the heap's growth
 * between GCs plus what full GCs freed). Each loop's objects die within a turn of the event
 * loop, so what is promoted is garbage only a full GC frees.
 *
 * - `xstate`: a two-event machine with `enqueueActions` and a delayed `raise` cancelled by the
 *   next event, 20 000 rounds. XState itself, not swapstate's code.
 * - `scheduler`: swapstate's scheduler actor with one ready model, REQUEST then SERVE_DONE,
 *   20 000 rounds.
 *
 * `npx tsx test/bench/promotion.ts [xstate|scheduler] [-- node flags]`; without flags it runs
 * with the `swapstate` binary's own and again with `--maglev` added, which on Node 24 and 26
 * (where Maglev is on by default) is the difference docs/perf/issue16-phase9.md is about.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { gcEvents, promotedMb } from './gc-trace.ts';
import { binNodeFlags } from './procs.ts';

const ROUNDS = 20_000;
const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const loop = (dd === -1 ? argv : argv.slice(0, dd))[0] ?? 'xstate';
const self = fileURLToPath(import.meta.url);
const turn = () => new Promise<void>((r) => setImmediate(r));

if (process.env.PROMOTION_CHILD) {
  await (loop === 'scheduler' ? schedulerLoop() : xstateLoop());
} else {
  const runs = dd === -1 ? [binNodeFlags(), [...binNodeFlags(), '--maglev']] : [argv.slice(dd + 1)];
  for (const flags of runs) {
    const r = spawnSync(process.execPath, [...flags, '--trace-gc', '--import', 'tsx', self, loop], {
      env: { ...process.env, PROMOTION_CHILD: '1' },
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    if (r.status !== 0) throw new Error(`the ${loop} loop failed: ${r.stderr}`);
    const p = promotedOverTail(r.stdout);
    console.log(`node ${process.version} ${flags.join(' ')}: ${loop} loop, ${p.gcs} GCs, ${p.mb.toFixed(1)} MB promoted over the last 3/4 (${((p.mb * 1e6) / (ROUNDS * 0.75)).toFixed(0)} B/round), ${p.full} full GCs`);
  }
}

/** MB promoted over the last three quarters of the `--trace-gc` lines in `log`. */
function promotedOverTail(log: string): { mb: number; gcs: number; full: number } {
  const all = gcEvents(log);
  const p = promotedMb(all.slice(Math.floor(all.length / 4)));
  return { mb: p.mb, gcs: all.length, full: p.fullGcs };
}

async function xstateLoop(): Promise<void> {
  const { createActor, enqueueActions, setup } = await import('xstate');
  const machine = setup({
    types: { context: {} as { n: number; busy: Record<string, number> }, events: {} as { type: 'START' | 'END' | 'SETTLED' } },
  }).createMachine({
    context: { n: 0, busy: {} },
    on: {
      START: {
        actions: enqueueActions(({ enqueue, context }) => {
          enqueue.assign({ n: context.n + 1, busy: { ...context.busy, m: 1 } });
          enqueue.cancel('settle');
        }),
      },
      END: {
        actions: enqueueActions(({ enqueue, context }) => {
          enqueue.assign({ n: context.n + 1, busy: {} });
          enqueue.cancel('settle');
          enqueue.raise({ type: 'SETTLED' }, { delay: 100, id: 'settle' });
        }),
      },
    },
  });
  const actor = createActor(machine).start();
  for (let i = 0; i < ROUNDS; i++) {
    actor.send({ type: 'START' });
    actor.send({ type: 'END' });
    await turn();
  }
  actor.stop();
}

async function schedulerLoop(): Promise<void> {
  const { readyScheduler } = await import('./sched-one.ts');
  const { rt } = await readyScheduler();
  for (let i = 0; i < ROUNDS; i++) {
    rt.actor.send({ type: 'REQUEST', reqId: `p-${i}`, model: 'm' });
    rt.actor.send({ type: 'SERVE_DONE', reqId: `p-${i}`, model: 'm' });
    await turn();
  }
  await rt.shutdown(5000);
}
