/**
 * Fault matrix, the rows of faults that only a start can meet (docs/reliability.md): health
 * checks flapping 200/503, a command that does not exist, a port someone else holds.
 *
 * - Health is probed only while a model starts, so flapping matters only there.
 * - A missing command and a taken port fail the start within milliseconds; the model is never
 *   in another state with them, except when the command vanishes or the port is taken while
 *   the model is stopping and a request waits for its restart (the `stopping × request` cells).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type ExpectStatic } from 'vitest';
import {
  chat,
  enterStarting,
  enterStopping,
  expectError,
  expectNextServed,
  expectServed,
  expectUnloaded,
  MSG,
  perState,
  until,
  withLab,
  type Lab,
  type Reply,
  type Squatter,
} from './harness.ts';

/** "At once": well under any grace or health-check deadline, on a slow and busy machine. */
const PROMPT_MS = 5_000;

/** The upstream's own answer while it loads, passed through as it is (not swapstate's envelope). */
function expectUpstreamLoading(expect: ExpectStatic, r: Reply): void {
  expect(r.status, r.body).toBe(503);
  const body = JSON.parse(r.body) as { src?: string; error?: { message?: string } };
  expect(body.src).toBeUndefined();
  expect(body.error?.message).toBe('Loading model');
}

const enoent = (dir: string, model: string): RegExp =>
  new RegExp(`^unspecific error: failed to start command '${dir}/bin/${model}-server --port \\d+ .*': spawn ${dir}/bin/${model}-server ENOENT$`);

describe.concurrent('fault matrix: health check flapping 200/503', () => {
  it('health flapping × request', async ({ expect }) => {
    await withLab([{ id: 'st' }, { id: 'up' }], {}, (lab) =>
      perState({
        starting: async () => {
          // Still loading, but one probe in two says 200: the first 200 makes it ready, and
          // the requests get the upstream's own "still loading" answer (as with llama-swap).
          const r1 = await enterStarting(lab, 'st');
          const r2 = chat(lab.url, 'st');
          await until(() => lab.swapWaiters('st') === 2, 'the second request to join the load');
          lab.setFaults('st', { loading: true, healthFlap: true });
          expectUpstreamLoading(expect, await r1.reply);
          expectUpstreamLoading(expect, await r2.reply);
          expect(lab.state('st')).toBe('ready');
          lab.setFaults('st', null);
          await expectNextServed(expect, lab, 'st');
        },
        // The same cell with an upstream that is up and only its health flaps: served.
        'starting, upstream up': async () => {
          const r1 = await enterStarting(lab, 'up');
          lab.setFaults('up', { healthFlap: true });
          expectServed(expect, await r1.reply, 'up');
          await expectNextServed(expect, lab, 'up');
        },
      }),
    );
  });

  it('health flapping × eviction', async ({ expect }) => {
    await withLab([{ id: 'st' }], {}, async (lab) => {
      const r1 = await enterStarting(lab, 'st');
      const b = chat(lab.url, 'st~');
      await until(() => lab.isQueued('st~'), 'the evicting request to queue behind the start');
      lab.setFaults('st', { loading: true, healthFlap: true });
      expectUpstreamLoading(expect, await r1.reply);
      expectServed(expect, await b.reply, 'st~');
      await lab.noProcesses('st');
      lab.setFaults('st', null);
      await expectNextServed(expect, lab, 'st');
    });
  });
});

describe.concurrent('fault matrix: command not found', () => {
  it('command not found × request', async ({ expect }) => {
    await withLab(
      [
        { id: 'st', missingCommand: true },
        { id: 'sp', missingCommand: true, extra: ['unloadTimeout: 10'] },
      ],
      {},
      (lab) =>
        perState({
          starting: async () => {
            for (let i = 0; i < 3; i++) expectError(expect, await chat(lab.url, 'st').reply, 500, enoent(lab.dir, 'st'));
            // Crash-loop protection: the fourth is refused at once, with when to come back.
            const refused = await chat(lab.url, 'st').reply;
            expectError(expect, refused, 503, /Last error: failed to start command .* ENOENT$/);
            expect(refused.headers['retry-after']).toBe('1');
            expect(lab.view('st').starts).toBe(3);
            await lab.noProcesses('st');
            lab.installCommand('st');
            await until(() => lab.state('st') === 'stopped', 'the backoff to pass');
            await expectNextServed(expect, lab, 'st');
          },
          stopping: async () => {
            lab.installCommand('sp');
            const u0 = await enterStopping(lab, 'sp');
            rmSync(join(lab.dir, 'bin', 'sp-server')); // the command vanishes while the model stops
            const r2 = chat(lab.url, 'sp');
            await until(() => lab.isQueued('sp'), 'the request to queue behind the unload');
            lab.setFaults('sp', null); // the slow stop ends
            expectUnloaded(expect, await u0.reply);
            expectError(expect, await r2.reply, 500, enoent(lab.dir, 'sp'));
            await lab.noProcesses('sp');
            lab.installCommand('sp');
            await expectNextServed(expect, lab, 'sp');
          },
        }),
    );
  });
});

describe.concurrent('fault matrix: port already taken', () => {
  /**
   * The start failed before the command ran, with the port named, and the stranger (which
   * would have passed the health check) was never sent a request.
   */
  function expectPortRefused(expect: ExpectStatic, lab: Lab, model: string, r: Reply, squatter: Squatter): void {
    const proxy = lab.srv.server.config.models[model]!.proxy;
    expectError(expect, r, 500, MSG.portTaken(lab.port(model), proxy));
    expect(squatter.requests(), 'requests the stranger got').toBe(0);
    expect(lab.proxyLog()).toContain(`[WARN] ${model} failed to start: port ${lab.port(model)} (from proxy ${proxy})`);
  }

  it('port taken × request', async ({ expect }) => {
    await withLab([{ id: 'st' }, { id: 'sp', extra: ['unloadTimeout: 10'] }], {}, (lab) =>
      perState({
        starting: async () => {
          const squatter = await lab.squat('st');
          const r = await chat(lab.url, 'st').reply;
          expectPortRefused(expect, lab, 'st', r, squatter);
          expect(r.ms).toBeLessThan(PROMPT_MS); // at once, not after a health check timeout
          expect(lab.view('st').starts).toBe(1);
          expect(lab.modelLog('st')).not.toContain('listening on'); // the command never ran
          await lab.noProcesses('st');
          await lab.unsquat(squatter);
          await expectNextServed(expect, lab, 'st');
        },
        stopping: async () => {
          const u0 = await enterStopping(lab, 'sp');
          // The stopping upstream has closed its listener: someone else takes the port.
          let squatter: Squatter | null = null;
          await until(async () => (squatter = await lab.squat('sp').catch(() => null)) !== null, 'the port to be taken');
          const r2 = chat(lab.url, 'sp');
          await until(() => lab.isQueued('sp'), 'the request to queue behind the unload');
          lab.setFaults('sp', null);
          const u = await u0.reply;
          expectUnloaded(expect, u);
          // The restart waited for the old process (ours) to be gone, then found the stranger.
          const r = await r2.reply;
          expectPortRefused(expect, lab, 'sp', r, squatter!);
          expect(r.at).toBeGreaterThanOrEqual(u.at);
          expect(r.at - u.at).toBeLessThan(PROMPT_MS);
          expect(lab.modelLog('sp')).not.toContain('EADDRINUSE');
          await lab.noProcesses('sp');
          await lab.unsquat(squatter!);
          await expectNextServed(expect, lab, 'sp');
        },
      }),
    );
  });
});
