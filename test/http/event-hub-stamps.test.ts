/**
 * `/api/events` `state` messages are at most one per STATE_INTERVAL_MS, and their `at` stamps
 * show that spacing: a stamp is the instant the coalescer fired, not the moment the snapshot
 * was built. A CI run on a loaded machine built one snapshot ~3 ms after its interval began and
 * stamped two messages 97 ms apart; this test builds the first one slowly on purpose.
 */
import { describe, expect, it } from 'vitest';
import { EventHub, STATE_INTERVAL_MS } from '../../src/http/event-hub.ts';
import type { AppDeps } from '../../src/http/deps.ts';
import type { SseClient } from '../../src/http/sse-client.ts';

/** Blocks for `ms` of real time: the cost of a slow snapshot, which no timer can stand in for. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

function fakeDeps(buildCost: () => number) {
  const pokes: Array<() => void> = [];
  let version = 0;
  const runtime = {
    actor: { subscribe: (o: { next: () => void }) => (pokes.push(o.next), { unsubscribe: () => {} }) },
    processChanges: { models: () => [], subscribe: () => () => {} },
    process: () => undefined,
    state: (at?: number) => {
      busy(buildCost());
      // Each snapshot differs, so each is sent.
      return { at: new Date(at ?? performance.timeOrigin + performance.now()).toISOString(), processes: [], swaps: [], waiting: [], admission: { version: version++ } };
    },
  };
  const off = () => () => {};
  const state = { config: { models: {}, peers: {} }, runtime, profile: { name: null, subscribe: off } };
  const deps = {
    current: () => state,
    watchState: off,
    logs: { proxy: { subscribe: off, history: () => '' }, hub: { subscribeUpstream: off, upstreamParts: () => [] } },
    inflight: { subscribe: off, snapshot: () => [] },
    activity: { onRecord: off },
    peers: { subscribe: off, snapshot: () => ({}) },
  } as unknown as AppDeps;
  return { deps, poke: () => pokes.forEach((p) => p()) };
}

function fakeClient() {
  const stamps: number[] = [];
  let wake: (() => void) | null = null;
  const record = (type: string, data: string) => {
    if (type !== 'state') return;
    stamps.push(Date.parse((JSON.parse(data) as { at: string }).at));
    wake?.();
  };
  const client = {
    lastState: null as string | null,
    send: record,
    write: (frame: string) => {
      const type = /^event: (\S+)/m.exec(frame)?.[1] ?? '';
      const data = /^data: (.*)$/m.exec(frame)?.[1] ?? '';
      record(type, data);
    },
  };
  const next = (count: number) =>
    new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`only ${stamps.length} state messages`)), 10_000);
      wake = () => {
        if (stamps.length < count) return;
        clearTimeout(deadline);
        resolve();
      };
      wake();
    });
  return { client: client as unknown as SseClient, stamps, next };
}

describe('EventHub state stamps', () => {
  it('stamps each state message with the instant its interval began, however slow the snapshot', async () => {
    let built = 0;
    // The initial snapshot and the second are quick; the first live one takes 20 ms.
    const { deps, poke } = fakeDeps(() => (built++ === 1 ? 20 : 0));
    const hub = new EventHub(deps);
    const { client, stamps, next } = fakeClient();
    hub.add(client);
    try {
      await next(1);
      poke();
      await next(2);
      poke(); // within the interval: fires when it ends
      await next(3);
      // Without the coalescer's instant, the slow build moves the first live stamp 20 ms later
      // and the next one lands ~80 ms after it.
      expect(stamps[2]! - stamps[1]!).toBeGreaterThanOrEqual(STATE_INTERVAL_MS - 1);
    } finally {
      hub.remove(client);
    }
  });
});
