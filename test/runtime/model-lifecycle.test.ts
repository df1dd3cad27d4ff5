/** ModelLifecycle: starts and their outcomes, stops and their reasons, from snapshots and notes alone. */
import { describe, expect, it } from 'vitest';
import { ModelLifecycle, type LifecycleEvent } from '../../src/runtime/model-lifecycle.ts';
import type { ProcessSnapshot } from '../../src/runtime/process-changes.ts';

type State = 'stopped' | 'starting' | 'ready' | 'stopping' | 'backoff' | 'shutdown' | 'sleeping';

function snap(state: State, starts: number, crashes = 0): ProcessSnapshot {
  const value = state === 'starting' ? { running: { starting: 'probing' } } : ['ready', 'stopping', 'sleeping'].includes(state) ? { running: state === 'ready' ? { ready: 'idle' } : state } : state;
  return {
    value,
    context: { starts, crashes, pid: null, inFlight: 0, lastError: null, backoffMs: 0 } as unknown as ProcessSnapshot['context'],
    hasTag: () => false,
    can: () => true,
  };
}

function harness() {
  let now = 0;
  const lc = new ModelLifecycle(() => now);
  const events: LifecycleEvent[] = [];
  lc.subscribe((e) => events.push(e));
  return { lc, events, advance: (ms: number) => (now += ms) };
}

describe('ModelLifecycle', () => {
  it('a reload\'s replacement, first seen already starting, is a new start after the old one\'s reload stop', () => {
    const { lc, events } = harness();
    lc.observe('a', snap('starting', 1));
    lc.observe('a', snap('ready', 1));
    lc.stopping('a', 'reload');
    lc.observe('a', snap('stopped', 1));
    // The new actor counts from 0 again; the scheduler started it in the step that spawned it.
    lc.observe('a', snap('starting', 1), true);
    lc.observe('a', snap('ready', 1));
    expect(events.map((e) => (e.type === 'stop' ? `stop ${e.reason}` : e.type))).toEqual(['start', 'started', 'stop reload', 'start', 'started']);
  });

  it('a start that turns ready is ok, with its load time; its stop has the reason noted last', () => {
    const { lc, events, advance } = harness();
    lc.observe('a', snap('starting', 1));
    advance(1500);
    lc.observe('a', snap('ready', 1));
    lc.stopping('a', 'swap');
    lc.observe('a', snap('stopping', 1));
    lc.observe('a', snap('stopped', 1));
    expect(events).toEqual([
      { type: 'start', model: 'a' },
      { type: 'started', model: 'a', outcome: 'ok', seconds: 1.5 },
      { type: 'stop', model: 'a', reason: 'swap' },
    ]);
  });

  it('a start that crashed is failed and no stop; one stopped while starting is aborted', () => {
    const { lc, events } = harness();
    lc.observe('a', snap('starting', 1));
    lc.observe('a', snap('stopped', 1, 1));
    lc.observe('a', snap('starting', 2, 1));
    lc.stopping('a', 'unload');
    lc.observe('a', snap('stopping', 2, 1));
    lc.observe('a', snap('stopped', 2, 1));
    expect(events.filter((e) => e.type !== 'start')).toEqual([
      { type: 'started', model: 'a', outcome: 'failed', seconds: 0 },
      { type: 'started', model: 'a', outcome: 'aborted', seconds: 0 },
    ]);
  });

  it('a health-check timeout (starting -> stopping, counted) is failed', () => {
    const { lc, events } = harness();
    lc.observe('a', snap('starting', 1));
    lc.observe('a', snap('stopping', 1, 1));
    lc.observe('a', snap('backoff', 1, 1));
    expect(events.map((e) => (e.type === 'started' ? e.outcome : e.type))).toEqual(['start', 'failed']);
  });

  it('a stop with no note is unknown; a note is used once; a new start forgets an old note', () => {
    const { lc, events } = harness();
    lc.stopping('a', 'ttl'); // stale: the model was not loaded
    lc.observe('a', snap('starting', 1));
    lc.observe('a', snap('ready', 1));
    lc.observe('a', snap('stopped', 1));
    expect(events.at(-1)).toEqual({ type: 'stop', model: 'a', reason: 'unknown' });
  });

  it('after shuttingDown every stop is that, whatever was noted', () => {
    const { lc, events } = harness();
    for (const m of ['a', 'b']) {
      lc.observe(m, snap('starting', 1));
      lc.observe(m, snap('ready', 1));
    }
    lc.stopping('a', 'ttl');
    lc.shuttingDown('reload');
    lc.observe('a', snap('stopping', 1));
    lc.observe('a', snap('shutdown', 1));
    lc.observe('b', snap('shutdown', 1));
    expect(events.filter((e) => e.type === 'stop')).toEqual([
      { type: 'stop', model: 'a', reason: 'reload' },
      { type: 'stop', model: 'b', reason: 'reload' },
    ]);
  });

  it('a model put to sleep has not stopped; its later exit is the stop', () => {
    const { lc, events } = harness();
    lc.observe('a', snap('starting', 1));
    lc.observe('a', snap('ready', 1));
    lc.stopping('a', 'swap');
    lc.observe('a', snap('sleeping', 1));
    expect(events.filter((e) => e.type === 'stop')).toEqual([]);
    lc.stopping('a', 'unload');
    lc.observe('a', snap('stopped', 1));
    expect(events.at(-1)).toEqual({ type: 'stop', model: 'a', reason: 'unload' });
  });

  it('follows a respawned process actor (its counts start again at 0)', () => {
    const { lc, events } = harness();
    lc.observe('a', snap('starting', 3));
    lc.observe('a', snap('ready', 3));
    lc.observe('a', snap('stopped', 0)); // the replacement
    lc.observe('a', snap('starting', 1));
    expect(events.map((e) => e.type)).toEqual(['start', 'started', 'stop', 'start']);
  });

  it('repeated snapshots of one state report nothing twice', () => {
    const { lc, events } = harness();
    for (let i = 0; i < 3; i++) lc.observe('a', snap('starting', 1));
    for (let i = 0; i < 3; i++) lc.observe('a', snap('ready', 1));
    expect(events).toHaveLength(2);
  });
});
