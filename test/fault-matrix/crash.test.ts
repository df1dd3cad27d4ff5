/**
 * Fault matrix, row "upstream crash" (docs/reliability.md): the upstream exits 1 by itself.
 *
 * In every cell the trigger fires first and the crash strikes while the trigger's clients
 * wait (the worst moment); the fault stays on, so any start made before it is gone crashes
 * too. Where a stop is under way the upstream stops slowly (`slowStop`), so the crash, not
 * the grace, is what ends it.
 */
import { describe, it } from 'vitest';
import {
  badGateway,
  call,
  chat,
  count,
  enterBusy,
  enterIdle,
  enterStarting,
  enterStopping,
  expectCutStream,
  expectError,
  expectNextServed,
  expectReplaced,
  expectServed,
  expectUnloaded,
  logged,
  longStream,
  MSG,
  perState,
  unload,
  until,
  withLab,
  type Lab,
} from './harness.ts';

const CRASH = { crash: true } as const;
/** Models stopped slowly get a long grace: a prompt stop then proves the crash ended it. */
const LONG_GRACE = ['unloadTimeout: 10'];
/** "Promptly": well within that grace, with room for a slow, busy machine. */
const PROMPT_MS = 5_000;

const fourStates = [
  { id: 'st', extra: LONG_GRACE },
  { id: 'id', extra: LONG_GRACE },
  { id: 'bu', extra: LONG_GRACE },
  { id: 'sp', extra: LONG_GRACE },
];

async function healAndServe(expect: Parameters<typeof expectServed>[0], lab: Lab, model: string): Promise<void> {
  lab.setFaults(model, null);
  await expectNextServed(expect, lab, model);
}

describe.concurrent('fault matrix: upstream crash', () => {
  it('crash × request', async ({ expect }) => {
    await withLab(fourStates, {}, (lab) =>
      perState({
        starting: async () => {
          const r1 = await enterStarting(lab, 'st');
          const r2 = chat(lab.url, 'st');
          await until(() => lab.swapWaiters('st') === 2, 'the second request to join the load');
          lab.setFaults('st', { loading: true, ...CRASH });
          expectError(expect, await r1.reply, 500, MSG.exitedPrematurely('st'));
          expectError(expect, await r2.reply, 500, MSG.exitedPrematurely('st'));
          await lab.noProcesses('st');
          await healAndServe(expect, lab, 'st');
        },
        idle: async () => {
          await enterIdle(lab, 'id');
          const r2 = chat(lab.url, 'id', { delay_ms: 60_000 });
          await logged(lab, 'id', 'POST /v1/chat/completions', 2);
          lab.setFaults('id', CRASH);
          expectError(expect, await r2.reply, 502, badGateway('id'));
          await lab.noProcesses('id');
          await until(() => lab.view('id').inFlight === 0, 'the slot to come back');
          await healAndServe(expect, lab, 'id');
        },
        busy: async () => {
          const r1 = await enterBusy(lab, 'bu');
          const r2 = longStream(lab.url, 'bu');
          await r2.firstData;
          lab.setFaults('bu', CRASH);
          expectCutStream(expect, await r1.reply);
          expectCutStream(expect, await r2.reply);
          await lab.noProcesses('bu');
          await until(() => lab.view('bu').inFlight === 0, 'the slots to come back');
          await healAndServe(expect, lab, 'bu');
        },
        stopping: async () => {
          const u0 = await enterStopping(lab, 'sp');
          const r2 = chat(lab.url, 'sp');
          await until(() => lab.isQueued('sp'), 'the request to queue behind the unload');
          const t = Date.now();
          lab.setFaults('sp', { slowStop: true, ...CRASH });
          const u = await u0.reply;
          expectUnloaded(expect, u);
          expect(u.at - t).toBeLessThan(PROMPT_MS);
          // Its restart, once stopped, crashed too: the fault was still on.
          expectError(expect, await r2.reply, 500, MSG.exitedPrematurely('sp'));
          await lab.noProcesses('sp');
          await healAndServe(expect, lab, 'sp');
        },
      }),
    );
  });

  it('crash × TTL', async ({ expect }) => {
    await withLab([{ id: 'id', extra: ['ttl: 1', ...LONG_GRACE] }], {}, async (lab) => {
      await enterIdle(lab, 'id', { slowStop: true });
      await lab.waitState('id', 'stopping'); // the TTL fired
      await logged(lab, 'id', 'stopping slowly');
      const t = Date.now();
      lab.setFaults('id', { slowStop: true, ...CRASH });
      await lab.waitState('id', 'stopped');
      expect(Date.now() - t).toBeLessThan(PROMPT_MS);
      await lab.noProcesses('id');
      expect(lab.proxyLog()).toContain('id Unloading model, TTL of 1s reached');
      expect(lab.view('id').starts).toBe(1); // nothing restarted it
      await healAndServe(expect, lab, 'id');
    });
  });

  it('crash × unload', async ({ expect }) => {
    await withLab(fourStates, {}, (lab) => {
      /** Unload under way, upstream stopping slowly: the crash ends the stop, the unload answers at once. */
      const crashDuringStop = async (model: string, faults: Record<string, boolean>, u: ReturnType<typeof unload>) => {
        await lab.waitState(model, 'stopping');
        await logged(lab, model, 'stopping slowly');
        const t = Date.now();
        lab.setFaults(model, { ...faults, slowStop: true, ...CRASH });
        const r = await u.reply;
        expectUnloaded(expect, r);
        expect(r.at - t).toBeLessThan(PROMPT_MS);
        await lab.noProcesses(model);
      };
      return perState({
        starting: async () => {
          const r1 = await enterStarting(lab, 'st', { slowStop: true });
          const u = unload(lab.url, 'st');
          expectError(expect, await r1.reply, 500, MSG.unloaded);
          await crashDuringStop('st', { loading: true }, u);
          await healAndServe(expect, lab, 'st');
        },
        idle: async () => {
          await enterIdle(lab, 'id', { slowStop: true });
          await crashDuringStop('id', {}, unload(lab.url, 'id'));
          await healAndServe(expect, lab, 'id');
        },
        busy: async () => {
          const r1 = await enterBusy(lab, 'bu', { slowStop: true });
          const u = unload(lab.url, 'bu');
          await crashDuringStop('bu', {}, u);
          expectCutStream(expect, await r1.reply);
          await healAndServe(expect, lab, 'bu');
        },
        stopping: async () => {
          const u0 = await enterStopping(lab, 'sp');
          const u = unload(lab.url, 'sp');
          await until(() => lab.unloadsOf('sp') === 2, 'the second unload');
          await crashDuringStop('sp', {}, u);
          expectUnloaded(expect, await u0.reply);
          await healAndServe(expect, lab, 'sp');
        },
      });
    });
  });

  it('crash × eviction', async ({ expect }) => {
    await withLab(fourStates, {}, (lab) =>
      perState({
        starting: async () => {
          const r1 = await enterStarting(lab, 'st');
          const b = chat(lab.url, 'st~');
          await until(() => lab.isQueued('st~'), 'the evicting request to queue behind the start');
          lab.setFaults('st', { loading: true, ...CRASH });
          expectError(expect, await r1.reply, 500, MSG.exitedPrematurely('st'));
          expectServed(expect, await b.reply, 'st~');
          await lab.noProcesses('st');
          await healAndServe(expect, lab, 'st');
        },
        idle: async () => {
          await enterIdle(lab, 'id', { slowStop: true });
          const b = chat(lab.url, 'id~');
          await lab.waitState('id', 'stopping');
          await logged(lab, 'id', 'stopping slowly');
          const stopMs = lab.msUntilStopped('id');
          lab.setFaults('id', { slowStop: true, ...CRASH });
          expectServed(expect, await b.reply, 'id~');
          // The stop's end, not B's answer: that also waits for id~'s cold start.
          expect(await stopMs).toBeLessThan(PROMPT_MS); // not the 15 s eviction grace
          await lab.noProcesses('id');
          await healAndServe(expect, lab, 'id');
        },
        busy: async () => {
          const r1 = await enterBusy(lab, 'bu');
          const b = chat(lab.url, 'bu~');
          await until(() => lab.isQueued('bu~'), 'the evicting request to wait for the busy model');
          lab.setFaults('bu', CRASH);
          expectCutStream(expect, await r1.reply);
          expectServed(expect, await b.reply, 'bu~');
          await lab.noProcesses('bu');
          await healAndServe(expect, lab, 'bu');
        },
        stopping: async () => {
          const u0 = await enterStopping(lab, 'sp');
          const b = chat(lab.url, 'sp~');
          await until(() => lab.isQueued('sp~'), 'the evicting request to queue behind the unload');
          lab.setFaults('sp', { slowStop: true, ...CRASH });
          expectUnloaded(expect, await u0.reply);
          expectServed(expect, await b.reply, 'sp~');
          await lab.noProcesses('sp');
          await healAndServe(expect, lab, 'sp');
        },
      }),
    );
  });

  it('crash × SIGTERM', async ({ expect }) => {
    await withLab(fourStates, {}, async (lab) => {
      await enterIdle(lab, 'id', { slowStop: true });
      const r1b = await enterBusy(lab, 'bu', { slowStop: true });
      await enterStopping(lab, 'sp', null, { clientLeaves: true });
      // Entered last: the start's health check (15 s) counts from here, not from before the
      // other three states were set up (a loaded machine took longer than that).
      const r1s = await enterStarting(lab, 'st', { slowStop: true });
      const t = Date.now();
      // What SIGTERM runs: stop accepting, drain in-flight requests within the budget, then
      // stop every model with what is left of it.
      const down = lab.srv.server.shutdown(20_000);
      const refused = await call(lab.url, 'GET', '/health', undefined).reply;
      expect(refused.error).toMatch(/ECONNREFUSED/);
      // The crash strikes during the drain.
      lab.setFaults('st', { loading: true, slowStop: true, ...CRASH });
      for (const m of ['id', 'bu', 'sp']) lab.setFaults(m, { slowStop: true, ...CRASH });
      expectError(expect, await r1s.reply, 500, MSG.exitedPrematurely('st'));
      expectCutStream(expect, await r1b.reply);
      await down;
      expect(Date.now() - t).toBeLessThan(10_000); // the drain ended with the crash, not with the 20 s budget
      for (const m of ['st', 'id', 'bu', 'sp']) await lab.noProcesses(m);
      // Once the fault is gone, a swapstate started again serves every model.
      for (const m of ['st', 'id', 'bu', 'sp']) lab.setFaults(m, null);
      await lab.boot();
      for (const m of ['st', 'id', 'bu', 'sp']) await expectNextServed(expect, lab, m);
    });
  });

  it('crash × reload', async ({ expect }) => {
    // The reload changes the crashing model's config: its process must be replaced. As in the
    // other cells, the crash strikes after the trigger, while its clients wait.
    await withLab(fourStates, { reloadable: true }, async (lab) => {
      await enterIdle(lab, 'id', { slowStop: true });
      const r1b = await enterBusy(lab, 'bu', { slowStop: true });
      const u0 = await enterStopping(lab, 'sp');
      const r1s = await enterStarting(lab, 'st', { slowStop: true }); // last: see crash × SIGTERM
      const pids = Object.fromEntries(['st', 'id', 'bu', 'sp'].map((m) => [m, lab.view(m).pid]));
      expect(await lab.reloadChanging(['st', 'id', 'bu', 'sp'])).toBe(true);
      await perState({
        starting: async () => {
          // The old config's start is abandoned and R1 waits for the new config's; the crash
          // (of whichever process is running) fails the start R1 waits for, as it would without
          // the reload, and there is nothing left to stop.
          lab.setFaults('st', { loading: true, slowStop: true, ...CRASH });
          expectError(expect, await r1s.reply, 500, MSG.exitedPrematurely('st'));
          await lab.noProcesses('st');
          await healAndReplace('st');
        },
        idle: async () => {
          // Retired at once: its own unload stops it (slowly), and the crash ends that stop.
          await lab.waitState('id', 'stopping');
          await logged(lab, 'id', 'stopping slowly');
          const t = Date.now();
          lab.setFaults('id', { slowStop: true, ...CRASH });
          await lab.noProcesses('id');
          expect(Date.now() - t).toBeLessThan(PROMPT_MS); // not the 10 s unloadTimeout
          await healAndReplace('id');
        },
        busy: async () => {
          // The stream goes on across the reload; the crash cuts it, and the model, stopped
          // by the crash, is retired without a stop of its own.
          const before = r1b.received();
          await until(() => r1b.received() > before + 100, 'the stream to go on after the reload');
          expect(lab.view('bu').pid).toBe(pids['bu']);
          lab.setFaults('bu', { slowStop: true, ...CRASH });
          expectCutStream(expect, await r1b.reply);
          await lab.noProcesses('bu');
          expect(lab.modelLog('bu')).not.toContain('stopping slowly');
          await healAndReplace('bu');
        },
        stopping: async () => {
          // The unload under way goes on and the crash ends it; no second stop.
          const t = Date.now();
          lab.setFaults('sp', { slowStop: true, ...CRASH });
          const u = await u0.reply;
          expectUnloaded(expect, u);
          expect(u.at - t).toBeLessThan(PROMPT_MS);
          await lab.noProcesses('sp');
          expect(count(lab.modelLog('sp'), 'stopping slowly')).toBe(1);
          await healAndReplace('sp');
        },
      });
      expect(count(lab.proxyLog(), 'config reloaded')).toBe(1);

      async function healAndReplace(model: string): Promise<void> {
        lab.setFaults(model, null);
        await expectReplaced(expect, lab, model, pids[model] ?? null);
      }
    });
  });
});
