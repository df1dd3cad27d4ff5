/**
 * Fault matrix, row "upstream accepts but never answers" (docs/reliability.md): once `hang`
 * is on, the upstream accepts every connection (health probes included) and answers nothing;
 * streams under way stall. SIGTERM still stops it.
 *
 * swapstate, like llama-swap, puts no timeout on a proxied request: a client whose request
 * hangs waits until it gives up itself, and its giving up frees the slot. A hang while
 * starting ends with the health-check timeout (15 s, the minimum).
 *
 * The `stopping` rows are not here: a stopping upstream accepts nothing new, so a hang cannot
 * show (and what waits for its restart is the `starting` row).
 */
import { describe, it } from 'vitest';
import {
  badGateway,
  chat,
  enterBusy,
  enterIdle,
  enterStarting,
  expectCutStream,
  expectError,
  expectNextServed,
  expectReplaced,
  expectServed,
  isAlive,
  expectUnloaded,
  logged,
  MSG,
  perState,
  unload,
  until,
  withLab,
  type Lab,
} from './harness.ts';
import type { ExpectStatic } from 'vitest';

const HANG = { hang: true } as const;
const LONG_GRACE = ['unloadTimeout: 10'];
const PROMPT_MS = 5_000;
const threeStates = [
  { id: 'st', extra: LONG_GRACE },
  { id: 'id', extra: LONG_GRACE },
  { id: 'bu', extra: LONG_GRACE },
];

async function healAndServe(expect: ExpectStatic, lab: Lab, model: string): Promise<void> {
  lab.setFaults(model, null);
  await expectNextServed(expect, lab, model);
}

/** The slot of every request the clients gave up on has come back; the model stays loaded. */
async function slotsBack(lab: Lab, model: string): Promise<void> {
  await until(() => lab.view(model).inFlight === 0, `${model}'s slots to come back`);
  await until(
    () => lab.srv.server.state().runtime.actor.getSnapshot().context.fifo.reserved[model] === undefined,
    `${model}'s reservations to be released`,
  );
}

describe.concurrent('fault matrix: upstream accepts but never answers', () => {
  it('hang × request', async ({ expect }) => {
    await withLab(threeStates, {}, (lab) =>
      perState({
        starting: async () => {
          const r1 = await enterStarting(lab, 'st');
          const r2 = chat(lab.url, 'st', {}, { deadlineMs: 40_000 });
          await until(() => lab.swapWaiters('st') === 2, 'the second request to join the load');
          lab.setFaults('st', { loading: true, ...HANG });
          expectError(expect, await r1.reply, 500, MSG.healthTimeout);
          expectError(expect, await r2.reply, 500, MSG.healthTimeout);
          await lab.noProcesses('st');
          await healAndServe(expect, lab, 'st');
        },
        idle: async () => {
          await enterIdle(lab, 'id');
          const pid = lab.view('id').pid;
          lab.setFaults('id', HANG);
          const r2 = await chat(lab.url, 'id', {}, { abortAfterMs: 1_000 }).reply;
          expect(r2.abandoned).toBe(true);
          expect(r2.status).toBe(0); // nothing came back: no timeout of swapstate's own
          await slotsBack(lab, 'id');
          expect(lab.state('id')).toBe('ready'); // intended: the hung process stays loaded
          lab.setFaults('id', null);
          await expectNextServed(expect, lab, 'id');
          expect(lab.view('id').pid).toBe(pid); // the same process, recovered
        },
        busy: async () => {
          const r1 = await enterBusy(lab, 'bu');
          const pid = lab.view('bu').pid;
          lab.setFaults('bu', HANG);
          await logged(lab, 'bu', 'stream stalled');
          const r2 = await chat(lab.url, 'bu', {}, { abortAfterMs: 1_000 }).reply;
          expect(r2.abandoned).toBe(true);
          expect(r2.status).toBe(0);
          r1.abort();
          expect((await r1.reply).abandoned).toBe(true);
          await slotsBack(lab, 'bu');
          expect(lab.state('bu')).toBe('ready');
          lab.setFaults('bu', null);
          await expectNextServed(expect, lab, 'bu');
          expect(lab.view('bu').pid).toBe(pid);
        },
      }),
    );
  });

  it('hang × TTL', async ({ expect }) => {
    await withLab([{ id: 'id', extra: ['ttl: 1'] }], {}, async (lab) => {
      await enterIdle(lab, 'id');
      lab.setFaults('id', HANG);
      const r2 = await chat(lab.url, 'id', {}, { abortAfterMs: 300 }).reply;
      expect(r2.abandoned).toBe(true);
      // The abandoned request gave its slot back, so the model is idle and its TTL runs out.
      await lab.waitState('id', 'stopped');
      expect(lab.proxyLog()).toContain('id Unloading model, TTL of 1s reached');
      await lab.noProcesses('id');
      await healAndServe(expect, lab, 'id');
    });
  });

  it('hang × unload', async ({ expect }) => {
    await withLab(threeStates, {}, (lab) => {
      const unloadPromptly = async (model: string) => {
        const t = Date.now();
        const u = await unload(lab.url, model).reply;
        expectUnloaded(expect, u);
        expect(u.at - t).toBeLessThan(PROMPT_MS); // SIGTERM stops a hung upstream
        await lab.noProcesses(model);
      };
      return perState({
        starting: async () => {
          const r1 = await enterStarting(lab, 'st');
          lab.setFaults('st', { loading: true, ...HANG });
          await unloadPromptly('st');
          expectError(expect, await r1.reply, 500, MSG.unloaded);
          await healAndServe(expect, lab, 'st');
        },
        idle: async () => {
          await enterIdle(lab, 'id');
          lab.setFaults('id', HANG);
          await unloadPromptly('id');
          await healAndServe(expect, lab, 'id');
        },
        busy: async () => {
          const r1 = await enterBusy(lab, 'bu');
          lab.setFaults('bu', HANG);
          await logged(lab, 'bu', 'stream stalled');
          const r2 = chat(lab.url, 'bu');
          await logged(lab, 'bu', 'hanging');
          await unloadPromptly('bu');
          expectCutStream(expect, await r1.reply);
          expectError(expect, await r2.reply, 502, badGateway('bu'));
          await healAndServe(expect, lab, 'bu');
        },
      });
    });
  });

  it('hang × eviction', async ({ expect }) => {
    await withLab(threeStates, {}, (lab) =>
      perState({
        starting: async () => {
          const r1 = await enterStarting(lab, 'st');
          const b = chat(lab.url, 'st~', {}, { deadlineMs: 40_000 });
          await until(() => lab.isQueued('st~'), 'the evicting request to queue behind the start');
          lab.setFaults('st', { loading: true, ...HANG });
          expectError(expect, await r1.reply, 500, MSG.healthTimeout);
          expectServed(expect, await b.reply, 'st~');
          await lab.noProcesses('st');
          await healAndServe(expect, lab, 'st');
        },
        idle: async () => {
          await enterIdle(lab, 'id');
          lab.setFaults('id', HANG);
          const t = Date.now();
          const b = await chat(lab.url, 'id~').reply;
          expectServed(expect, b, 'id~');
          expect(b.at - t).toBeLessThan(PROMPT_MS);
          await lab.noProcesses('id');
          await healAndServe(expect, lab, 'id');
        },
        busy: async () => {
          const r1 = await enterBusy(lab, 'bu');
          lab.setFaults('bu', HANG);
          await logged(lab, 'bu', 'stream stalled');
          const b = chat(lab.url, 'bu~');
          await until(() => lab.isQueued('bu~'), 'the evicting request to wait for the busy model');
          // Swaps never evict a busy model: it waits as long as the hung request's client does.
          await new Promise((r) => setTimeout(r, 500));
          expect(lab.isQueued('bu~')).toBe(true);
          const t = Date.now();
          r1.abort();
          const rb = await b.reply;
          expectServed(expect, rb, 'bu~');
          expect(rb.at - t).toBeLessThan(PROMPT_MS);
          await lab.noProcesses('bu');
          await healAndServe(expect, lab, 'bu');
        },
      }),
    );
  });

  it('hang × SIGTERM', async ({ expect }) => {
    await withLab(threeStates, {}, async (lab) => {
      await enterIdle(lab, 'id');
      lab.setFaults('id', HANG);
      const r1b = await enterBusy(lab, 'bu');
      lab.setFaults('bu', HANG);
      await logged(lab, 'bu', 'stream stalled');
      // Entered last: the start's health check (15 s) counts from here, not from before the
      // other states were set up (a loaded machine took longer than that).
      const r1s = await enterStarting(lab, 'st');
      lab.setFaults('st', { loading: true, ...HANG });
      const t = Date.now();
      await lab.srv.server.shutdown(3_000);
      // The drain waited the whole budget for the two requests, then the models were stopped.
      const elapsed = Date.now() - t;
      expect(elapsed).toBeGreaterThanOrEqual(2_900);
      expect(elapsed).toBeLessThan(3_000 + PROMPT_MS);
      const rs = await r1s.reply;
      expectError(expect, rs, 503, MSG.shuttingDown);
      expect(rs.at - t).toBeGreaterThanOrEqual(2_900);
      expectCutStream(expect, await r1b.reply);
      for (const m of ['st', 'id', 'bu']) await lab.noProcesses(m);
      for (const m of ['st', 'id', 'bu']) lab.setFaults(m, null);
      await lab.boot();
      for (const m of ['st', 'id', 'bu']) await expectNextServed(expect, lab, m);
    });
  });

  it('hang × reload', async ({ expect }) => {
    // The reload changes the hung model's config: its process must be replaced.
    await withLab(threeStates, { reloadable: true }, async (lab) => {
      await enterIdle(lab, 'id');
      lab.setFaults('id', HANG);
      const r1b = await enterBusy(lab, 'bu');
      lab.setFaults('bu', HANG);
      await logged(lab, 'bu', 'stream stalled');
      const r1s = await enterStarting(lab, 'st'); // last: see hang × SIGTERM
      lab.setFaults('st', { loading: true, ...HANG });
      const pids = Object.fromEntries(['st', 'id', 'bu'].map((m) => [m, lab.view(m).pid]));
      const t = Date.now();
      expect(await lab.reloadChanging(['st', 'id', 'bu'])).toBe(true);
      await perState({
        starting: async () => {
          // The old config's start is abandoned (SIGTERM stops a hung upstream) and R1 waits
          // for the new config's, which hangs too and times out as it would without the
          // reload; the failed start left nothing to stop.
          expectError(expect, await r1s.reply, 500, MSG.healthTimeout);
          await lab.noProcesses('st');
          await healAndReplace('st');
        },
        idle: async () => {
          // Retired at once: SIGTERM stops a hung upstream.
          await lab.noProcesses('id');
          expect(Date.now() - t).toBeLessThan(PROMPT_MS); // not its 10 s unloadTimeout
          await healAndReplace('id');
        },
        busy: async () => {
          // R1 stalls and holds the old process as long as its client waits: the reload
          // neither cuts it nor retires the model under it. A new request waits for the
          // replacement.
          const r2 = chat(lab.url, 'bu');
          await until(() => lab.isQueued('bu'), 'the new request to wait for the replacement');
          await new Promise((r) => setTimeout(r, 500)); // as in hang × eviction: it keeps waiting
          expect(lab.state('bu')).toBe('ready');
          expect(lab.view('bu').pid).toBe(pids['bu']);
          expect(lab.isQueued('bu')).toBe(true);
          lab.setFaults('bu', null); // the stalled stream stays stalled; the fresh process is healthy
          const tAbort = Date.now();
          r1b.abort();
          expect((await r1b.reply).abandoned).toBe(true);
          const r = await r2.reply;
          expectServed(expect, r, 'bu');
          expect(r.at - tAbort).toBeLessThan(PROMPT_MS);
          expect(isAlive(pids['bu']!)).toBe(false);
          await expectReplaced(expect, lab, 'bu', pids['bu'] ?? null);
        },
      });

      async function healAndReplace(model: string): Promise<void> {
        lab.setFaults(model, null);
        await expectReplaced(expect, lab, model, pids[model] ?? null);
      }
    });
  });
});
