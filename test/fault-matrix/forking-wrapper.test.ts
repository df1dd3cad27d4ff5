/**
 * Fault matrix, row "a forking wrapper whose child keeps the pipes open" (docs/reliability.md):
 * the upstream (`--fork-child`) forks a grandchild into its process group that shrugs off
 * SIGTERM and SIGHUP and holds the upstream's stdout/stderr open after it exits.
 *
 * The defined behaviour: the leader's exit is what counts (not the pipes closing), so every
 * stop ends as soon as the leader has exited, and the whole group, grandchild included, is
 * SIGKILLed then. Models here have `unloadTimeout: 10` (and evictions 15 s), so a prompt stop
 * proves nothing waited for a grace.
 */
import { describe, it, type ExpectStatic } from 'vitest';
import {
  chat,
  enterBusy,
  enterIdle,
  enterStarting,
  enterStopping,
  expectCutStream,
  expectError,
  expectCompleteStream,
  expectNextServed,
  expectReplaced,
  expectServed,
  finiteStream,
  count,
  diedAt,
  expectUnloaded,
  isAlive,
  MSG,
  perState,
  unload,
  until,
  withLab,
  type Lab,
  type ModelSpec,
} from './harness.ts';

const PROMPT_MS = 5_000;
const STATES = ['st', 'id', 'bu', 'sp'];

function forking(ids: string[], extra: string[] = []): ModelSpec[] {
  return ids.map((id) => ({ id, args: `--fork-child --pid-file {dir}/${id}.child.pid`, extra: ['unloadTimeout: 10', ...extra] }));
}

/**
 * The grandchild of the model's current upstream (its pid file is written at start), once it
 * has said that its SIGTERM and SIGHUP handlers are in place.
 */
async function grandchild(lab: Lab, id: string): Promise<number> {
  let pid: number | null = null;
  await until(() => (pid = lab.childPid(id)) !== null && lab.modelLog(id).includes(`forked child ${pid} ready`), `${id}'s grandchild`);
  return pid!;
}

/** The stop is over: no process of the model left, its grandchild included. */
async function gone(expect: ExpectStatic, lab: Lab, id: string, child: number): Promise<void> {
  await lab.noProcesses(id);
  await grandchildDead(expect, child);
}

/**
 * The grandchild was SIGKILLed with its group when the stop ended. Its death is the kernel's
 * to complete (on a loaded machine, a moment after the signal), and nobody waits for it: poll,
 * but only for as long as "at once" allows, not for any grace.
 */
async function grandchildDead(expect: ExpectStatic, child: number): Promise<void> {
  await until(() => !isAlive(child), `grandchild ${child} to die`, PROMPT_MS).catch(() => undefined);
  expect(isAlive(child)).toBe(false);
}

async function healAndServe(expect: ExpectStatic, lab: Lab, id: string): Promise<void> {
  lab.setFaults(id, null);
  await expectNextServed(expect, lab, id);
}

describe.concurrent('fault matrix: forking wrapper whose child keeps the pipes open', () => {
  it('forking wrapper × request', async ({ expect }) => {
    await withLab(forking(STATES), {}, (lab) =>
      perState({
        starting: async () => {
          const r1 = await enterStarting(lab, 'st');
          const r2 = chat(lab.url, 'st');
          await until(() => lab.swapWaiters('st') === 2, 'the second request to join the load');
          lab.setFaults('st', null);
          expectServed(expect, await r1.reply, 'st');
          expectServed(expect, await r2.reply, 'st');
        },
        idle: async () => {
          await enterIdle(lab, 'id');
          expectServed(expect, await chat(lab.url, 'id').reply, 'id');
        },
        busy: async () => {
          const r1 = await enterBusy(lab, 'bu');
          let ended = false;
          void r1.reply.then(() => (ended = true));
          expectServed(expect, await chat(lab.url, 'bu').reply, 'bu');
          expect(ended).toBe(false);
          r1.abort();
        },
        stopping: async () => {
          let child = 0;
          const u0 = await enterStopping(lab, 'sp', null, { beforeStop: async () => (child = await grandchild(lab, 'sp')) });
          const r2 = chat(lab.url, 'sp');
          await until(() => lab.isQueued('sp'), 'the request to queue behind the unload');
          const t = Date.now();
          lab.setFaults('sp', null); // the leader's slow stop ends; the grandchild lives on
          const u = await u0.reply;
          expectUnloaded(expect, u);
          expect(u.at - t).toBeLessThan(PROMPT_MS);
          await grandchildDead(expect, child);
          expectServed(expect, await r2.reply, 'sp');
          expect(await grandchild(lab, 'sp')).not.toBe(child); // intended: the restarted model's own
        },
      }),
    );
  });

  it('forking wrapper × TTL', async ({ expect }) => {
    await withLab(forking(['id'], ['ttl: 1']), {}, async (lab) => {
      await enterIdle(lab, 'id');
      const child = await grandchild(lab, 'id');
      await until(() => lab.proxyLog().includes('id Unloading model, TTL of 1s reached'), 'the TTL to fire');
      const t = Date.now();
      await lab.waitState('id', 'stopped');
      expect(Date.now() - t).toBeLessThan(PROMPT_MS);
      await gone(expect, lab, 'id', child);
      await healAndServe(expect, lab, 'id');
    });
  });

  it('forking wrapper × unload', async ({ expect }) => {
    await withLab(forking(STATES), {}, (lab) => {
      const unloadPromptly = async (id: string, child: number, u = unload(lab.url, id), t = Date.now()) => {
        const r = await u.reply;
        expectUnloaded(expect, r);
        expect(r.at - t).toBeLessThan(PROMPT_MS);
        await gone(expect, lab, id, child);
      };
      return perState({
        starting: async () => {
          const r1 = await enterStarting(lab, 'st');
          const child = await grandchild(lab, 'st');
          const u = unload(lab.url, 'st');
          expectError(expect, await r1.reply, 500, MSG.unloaded);
          await unloadPromptly('st', child, u);
          await healAndServe(expect, lab, 'st');
        },
        idle: async () => {
          await enterIdle(lab, 'id');
          await unloadPromptly('id', await grandchild(lab, 'id'));
          await healAndServe(expect, lab, 'id');
        },
        busy: async () => {
          const r1 = await enterBusy(lab, 'bu');
          await unloadPromptly('bu', await grandchild(lab, 'bu'));
          expectCutStream(expect, await r1.reply);
          await healAndServe(expect, lab, 'bu');
        },
        stopping: async () => {
          let child = 0;
          const u0 = await enterStopping(lab, 'sp', null, { beforeStop: async () => (child = await grandchild(lab, 'sp')) });
          const u = unload(lab.url, 'sp');
          await until(() => lab.unloadsOf('sp') === 2, 'the second unload');
          const t = Date.now();
          lab.setFaults('sp', null);
          await unloadPromptly('sp', child, u, t);
          expectUnloaded(expect, await u0.reply);
          await healAndServe(expect, lab, 'sp');
        },
      });
    });
  });

  it('forking wrapper × eviction', async ({ expect }) => {
    await withLab(forking(STATES), {}, (lab) => {
      // The bound is on the evicted model's stop (timed from the trigger), not on B's answer:
      // that includes the partner's cold start, which a loaded machine can stretch past any bound.
      const evictedPromptly = async (id: string, child: number, b: ReturnType<typeof chat>, stopMs: Promise<number>) => {
        expectServed(expect, await b.reply, `${id}~`);
        expect(await stopMs).toBeLessThan(PROMPT_MS); // not the 15 s eviction grace
        await gone(expect, lab, id, child);
      };
      return perState({
        starting: async () => {
          const r1 = await enterStarting(lab, 'st');
          const child = await grandchild(lab, 'st');
          const b = chat(lab.url, 'st~');
          await until(() => lab.isQueued('st~'), 'the evicting request to queue behind the start');
          const stopMs = lab.msUntilStopped('st');
          lab.setFaults('st', null);
          expectServed(expect, await r1.reply, 'st');
          await evictedPromptly('st', child, b, stopMs);
          await healAndServe(expect, lab, 'st');
        },
        idle: async () => {
          await enterIdle(lab, 'id');
          const child = await grandchild(lab, 'id');
          const stopMs = lab.msUntilStopped('id');
          await evictedPromptly('id', child, chat(lab.url, 'id~'), stopMs);
          await healAndServe(expect, lab, 'id');
        },
        busy: async () => {
          const r1 = await enterBusy(lab, 'bu');
          const child = await grandchild(lab, 'bu');
          const b = chat(lab.url, 'bu~');
          await until(() => lab.isQueued('bu~'), 'the evicting request to wait for the busy model');
          const stopMs = lab.msUntilStopped('bu');
          r1.abort();
          await evictedPromptly('bu', child, b, stopMs);
          await healAndServe(expect, lab, 'bu');
        },
        stopping: async () => {
          let child = 0;
          const u0 = await enterStopping(lab, 'sp', null, { beforeStop: async () => (child = await grandchild(lab, 'sp')) });
          const b = chat(lab.url, 'sp~');
          await until(() => lab.isQueued('sp~'), 'the evicting request to queue behind the unload');
          const stopMs = lab.msUntilStopped('sp');
          lab.setFaults('sp', null);
          expectUnloaded(expect, await u0.reply);
          await evictedPromptly('sp', child, b, stopMs);
          await healAndServe(expect, lab, 'sp');
        },
      });
    });
  });

  it('forking wrapper × SIGTERM', async ({ expect }) => {
    await withLab(forking(STATES), {}, async (lab) => {
      await enterIdle(lab, 'id');
      const r1b = await enterBusy(lab, 'bu');
      await enterStopping(lab, 'sp', null, { clientLeaves: true, beforeStop: () => grandchild(lab, 'sp') });
      // Entered last: the start's health check (15 s) counts from here, not from before the
      // other three states were set up (CI: it timed out before the SIGTERM on a loaded machine).
      const r1s = await enterStarting(lab, 'st');
      const children = await Promise.all(STATES.map((id) => grandchild(lab, id)));
      const budget = 3_000;
      const t = Date.now();
      await lab.srv.server.shutdown(budget);
      expect(Date.now() - t).toBeLessThan(budget + PROMPT_MS);
      expectError(expect, await r1s.reply, 503, MSG.shuttingDown);
      expectCutStream(expect, await r1b.reply);
      for (const [i, id] of STATES.entries()) await gone(expect, lab, id, children[i]!);
      for (const id of STATES) lab.setFaults(id, null);
      await lab.boot();
      for (const id of STATES) await expectNextServed(expect, lab, id);
    });
  });

  it('forking wrapper × reload', async ({ expect }) => {
    // The reload changes the wrapper's config: its process must be replaced, and each stop
    // of an old one ends as soon as its leader exits, its grandchild killed with it.
    await withLab(forking(STATES), { reloadable: true }, async (lab) => {
      await enterIdle(lab, 'id');
      await enterIdle(lab, 'bu');
      const u0 = await enterStopping(lab, 'sp', null, { beforeStop: () => grandchild(lab, 'sp') });
      const r1s = await enterStarting(lab, 'st'); // last: see forking wrapper × SIGTERM
      const children = Object.fromEntries(await Promise.all(STATES.map(async (id) => [id, await grandchild(lab, id)] as const)));
      // A stream that ends by itself, a few seconds after the reload.
      const r1b = finiteStream(lab.url, 'bu', 100);
      await r1b.firstData;
      const pids = Object.fromEntries(STATES.map((id) => [id, lab.view(id).pid]));
      const t = Date.now();
      expect(await lab.reloadChanging(STATES)).toBe(true);
      await perState({
        starting: async () => {
          // The old config's start is abandoned: its stop ends as soon as its leader exits,
          // the grandchild killed with it, and R1 is served by a fresh process of the new config.
          // The bound is on the old leader's death, polled from the reload: R1's answer also
          // waits for the new process's cold start, which a loaded machine stretches.
          const died = diedAt(pids['st']!, "st's old process to die");
          lab.setFaults('st', null);
          const r = await r1s.reply;
          expectServed(expect, r, 'st');
          expect((await died) - t).toBeLessThan(PROMPT_MS); // not its 10 s unloadTimeout
          await grandchildDead(expect, children['st']!);
          await expectReplaced(expect, lab, 'st', pids['st']!);
        },
        idle: async () => {
          // Retired at once.
          const stopped = await lab.stoppedAt('id');
          expect(stopped - t).toBeLessThan(PROMPT_MS);
          await gone(expect, lab, 'id', children['id']!);
          await expectReplaced(expect, lab, 'id', pids['id']!);
        },
        busy: async () => {
          // R1 runs to its end on the old process; then the model is retired.
          const r = await r1b.reply;
          expectCompleteStream(expect, r);
          expect(r.at).toBeGreaterThan(t);
          const stopped = await lab.stoppedAt('bu');
          expect(stopped - r.at).toBeLessThan(PROMPT_MS);
          await gone(expect, lab, 'bu', children['bu']!);
          await expectReplaced(expect, lab, 'bu', pids['bu']!);
        },
        stopping: async () => {
          // The stop under way goes on (the leader's slow stop); nothing is stopped twice.
          const tRelease = Date.now();
          lab.setFaults('sp', null);
          const u = await u0.reply;
          expectUnloaded(expect, u);
          expect(u.at - tRelease).toBeLessThan(PROMPT_MS);
          await gone(expect, lab, 'sp', children['sp']!);
          expect(count(lab.modelLog('sp'), 'stopping slowly')).toBe(1);
          await expectReplaced(expect, lab, 'sp', pids['sp']!);
        },
      });
      // The fresh processes forked grandchildren of their own.
      for (const id of STATES) expect(await grandchild(lab, id)).not.toBe(children[id]);
    });
  });
});
