/**
 * Random scenarios for the FIFO core's property tests: a small config and a command
 * sequence, interpreted against a {@link World}.
 *
 * A command is a few random numbers interpreted against what is possible at that moment
 * (which request to cancel, which swap to finish, ...), so sequences stay valid while
 * fast-check shrinks them.
 */
import fc from 'fast-check';
import { MODEL_IDS, UNKNOWN_MODEL, World, type WorldConfig } from './fifo-world.ts';

export interface Command {
  /** Picks the command kind among the possible ones, by weight. */
  kind: number;
  /** Picks the model / request / swap the command applies to. */
  pick: number;
  /**
   * 3 fails a swap; anything else completes it. For an abandon check, 0 delivers a stale seq.
   */
  fail: number;
  /**
   * Unload: 0 mod 4 is "all", otherwise a subset mask in the higher bits. A failed swap: odd
   * carries retryAfterMs ((1 + bits>>1 mod 4) seconds), and bit 3 then also puts the process's
   * mirror into that backoff before the done event. Backoff on: the wait, likewise.
   */
  bits: number;
}

export interface Scenario {
  cfg: WorldConfig;
  commands: Command[];
  /** Shutdown before the last `shutdownFromEnd` commands; none when undefined. */
  shutdownFromEnd: number | undefined;
}

export const configArb: fc.Arbitrary<WorldConfig> = fc.record({
  models: fc.array(
    fc.record({
      limit: fc.integer({ min: 1, max: 4 }),
      priority: fc.integer({ min: -1, max: 2 }),
      group: fc.integer({ min: -1, max: 1 }),
    }),
    { minLength: 2, maxLength: MODEL_IDS.length },
  ),
  groups: fc.array(fc.record({ swap: fc.boolean(), exclusive: fc.boolean(), persistent: fc.boolean() }), { maxLength: 2 }),
});

export const commandArb: fc.Arbitrary<Command> = fc.record({
  kind: fc.nat({ max: 99 }),
  pick: fc.nat({ max: 31 }),
  fail: fc.integer({ min: 0, max: 3 }),
  bits: fc.nat({ max: 127 }),
});

export const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  cfg: configArb,
  // size 'max': lengths spread over 0..60 instead of fast-check's default bias to short arrays.
  commands: fc.array(commandArb, { maxLength: 60, size: 'max' }),
  // One scenario in five shuts down, a few commands before the end.
  shutdownFromEnd: fc.oneof(
    { weight: 4, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.nat({ max: 4 }) },
  ),
});

type Kind = 'request' | 'cancel' | 'progress' | 'swapDone' | 'serveDone' | 'unload' | 'crash' | 'abandonCheck' | 'backoff';
const WEIGHTS: Array<[Kind, number]> = [
  ['request', 6],
  ['cancel', 3],
  ['progress', 2],
  ['swapDone', 4],
  ['serveDone', 4],
  ['unload', 1],
  ['crash', 1],
  ['abandonCheck', 3],
  ['backoff', 1],
];

function pickOf<T>(xs: readonly T[], n: number): T {
  const x = xs[n % xs.length];
  if (x === undefined) throw new Error('test bug: pick from an empty list');
  return x;
}

function step(w: World, c: Command): void {
  const possible: Record<Kind, boolean> = {
    request: true,
    cancel: w.pending().length > 0,
    progress: w.progressable().length > 0,
    swapDone: w.active.length > 0,
    serveDone: w.granted().length > 0,
    unload: true,
    crash: w.crashable().length > 0,
    abandonCheck: w.notices.length > 0,
    backoff: w.backoffable().length > 0,
  };
  const enabled = WEIGHTS.filter(([k]) => possible[k]);
  let r = c.kind % enabled.reduce((n, [, wt]) => n + wt, 0);
  let kind: Kind = 'request';
  for (const [k, wt] of enabled) {
    if (r < wt) {
      kind = k;
      break;
    }
    r -= wt;
  }
  switch (kind) {
    case 'request':
      // One request in eight names a model nobody configured.
      w.request(c.pick % 8 === 7 ? UNKNOWN_MODEL : pickOf(w.ids, c.pick));
      break;
    case 'cancel':
      w.cancel(pickOf(w.pending(), c.pick).reqId);
      break;
    case 'progress':
      w.progress(pickOf(w.progressable(), c.pick));
      break;
    case 'swapDone': {
      const retryAfterMs = c.bits % 2 === 1 ? (1 + ((c.bits >> 1) % 4)) * 1000 : undefined;
      w.swapDone(pickOf(w.active, c.pick), c.fail !== 3, retryAfterMs, (c.bits & 8) !== 0);
      break;
    }
    case 'serveDone':
      w.serveDone(pickOf(w.granted(), c.pick).reqId);
      break;
    case 'crash':
      w.crash(pickOf(w.crashable(), c.pick));
      break;
    case 'abandonCheck':
      w.abandonCheck(pickOf(w.notices, c.pick), c.fail === 0);
      break;
    case 'backoff':
      w.toggleBackoff(pickOf(w.backoffable(), c.pick), (1 + ((c.bits >> 1) % 4)) * 1000);
      break;
    case 'unload':
      w.unload(c.bits % 4 === 0 ? undefined : w.ids.filter((_, i) => ((c.bits >> 2) & (1 << i)) !== 0));
      break;
  }
}

/** Runs one scenario; throws an InvariantError (with the trace) on the first broken invariant. */
export function runScenario(sc: Scenario): World {
  const w = new World(sc.cfg);
  const shutdownAt = sc.shutdownFromEnd === undefined ? -1 : Math.max(0, sc.commands.length - sc.shutdownFromEnd);
  sc.commands.forEach((c, i) => {
    if (i === shutdownAt) w.shutdown();
    step(w, c);
  });
  if (shutdownAt === sc.commands.length) w.shutdown();
  w.drain();
  return w;
}
