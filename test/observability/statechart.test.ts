/**
 * The statechart JSON the UI draws is generated from the machine definition: every state
 * node of the process machine appears in it, and a state added to a machine appears by itself.
 */
import { describe, expect, it } from 'vitest';
import { createActor, createMachine, type AnyStateMachine } from 'xstate';
import { processMachine } from '../../machines/process.machine.ts';
import { sleepyProcessMachine } from '../../docs/examples/sleep-mode.ts';
import { machineChart, stateValuePath, type ChartNode } from '../../src/observability/statechart.ts';

interface NodeLike {
  path: string[];
  type: string;
  tags: string[];
  states: Record<string, NodeLike>;
  transitions: Map<string, unknown[]>;
  always?: unknown[];
}

/** Every state node of a machine's definition, walked independently of the converter. */
function definitionNodes(machine: AnyStateMachine): NodeLike[] {
  const out: NodeLike[] = [];
  const walk = (n: NodeLike) => {
    out.push(n);
    for (const c of Object.values(n.states)) walk(c);
  };
  walk(machine.root as unknown as NodeLike);
  return out;
}

function chartNodes(root: ChartNode): Map<string, ChartNode> {
  const out = new Map<string, ChartNode>();
  const walk = (n: ChartNode) => {
    out.set(n.path, n);
    for (const c of n.states) walk(c);
  };
  walk(root);
  return out;
}

describe('machineChart', () => {
  it('has every state node of processMachine, with its type, tags and transitions', () => {
    const chart = machineChart(processMachine);
    expect(chart.id).toBe('process');
    const nodes = chartNodes(chart.root);
    const defs = definitionNodes(processMachine);
    expect(nodes.size).toBe(defs.length);
    for (const def of defs) {
      const node = nodes.get(def.path.join('.'));
      expect(node, def.path.join('.')).toBeDefined();
      expect(node!.type).toBe(def.type);
      expect(node!.tags).toEqual(def.tags);
      const count = [...def.transitions.values()].reduce((n, ts) => n + ts.length, 0) + (def.always?.length ?? 0);
      expect(node!.transitions).toHaveLength(count);
    }
    // Every target is a state of the chart.
    for (const node of nodes.values()) for (const t of node.transitions) for (const target of t.targets) expect(nodes.has(target)).toBe(true);
    // JSON-safe: what the endpoint sends is what was built.
    expect(JSON.parse(JSON.stringify(chart))).toEqual(chart);
  });

  it('labels delayed, actor and eventless transitions, with initial states and guards', () => {
    const nodes = chartNodes(machineChart(processMachine).root);
    expect(nodes.get('')!.initial).toBe('stopped');
    expect(nodes.get('running')!.initial).toBe('starting');
    expect(nodes.get('running')!.tags).toEqual([]);
    expect(nodes.get('running.starting')!.tags).toEqual(['resident']);
    expect(nodes.get('running.ready')!.tags).toEqual(['resident', 'serving']);
    expect(nodes.get('running.stopping')!.tags).toEqual(['resident']);
    expect(nodes.get('running.ready.idle')!.transitions).toEqual(
      expect.arrayContaining([
        { event: 'ACQUIRE', label: 'ACQUIRE', targets: ['running.ready.busy'], guard: null },
        expect.objectContaining({ label: 'after ttl', targets: ['running.stopping'], guard: 'hasTtl' }),
        { event: '', label: 'always', targets: ['running.ready.busy'], guard: 'busy' },
      ]),
    );
    // The health deadline belongs to probing: it counts from the spawn, not from a port wait.
    expect(nodes.get('running.starting.probing')!.transitions.map((t) => t.label)).toEqual([
      'done health',
      'error health',
      'after healthCheckTimeout',
    ]);
  });

  it('a machine with an extra state yields it', () => {
    const plain = chartNodes(machineChart(processMachine).root);
    const sleepy = chartNodes(machineChart(sleepyProcessMachine).root);
    expect(plain.has('running.sleeping')).toBe(false);
    expect(sleepy.get('running.sleeping')).toMatchObject({ key: 'sleeping', type: 'compound', initial: 'offloading' });
    expect(sleepy.get('running.sleeping.offloading')).toMatchObject({ type: 'atomic', tags: ['resident'] });
    expect(sleepy.get('running.sleeping.asleep')).toMatchObject({ type: 'atomic', tags: ['asleep'] });
    expect(sleepy.get('running.waking')!.transitions).toEqual(
      expect.arrayContaining([expect.objectContaining({ label: 'done wake', targets: ['running.ready'] })]),
    );
    expect(sleepy.get('running.ready.idle')!.transitions).toEqual(
      expect.arrayContaining([expect.objectContaining({ label: 'after sleepAfter', targets: ['running.sleeping'] })]),
    );
    expect(sleepy.size).toBe(plain.size + 4);
  });

  it('draws parallel and final states of any machine', () => {
    const m = createMachine({
      id: 'm',
      type: 'parallel',
      states: {
        a: { initial: 'x', states: { x: { on: { GO: 'y' } }, y: { type: 'final' } } },
        b: { initial: 'p', states: { p: {} } },
      },
    });
    const nodes = chartNodes(machineChart(m).root);
    expect(nodes.get('')!.type).toBe('parallel');
    expect(nodes.get('')!.initial).toBeNull();
    expect(nodes.get('a.y')!.type).toBe('final');
    expect(nodes.get('a.x')!.transitions).toEqual([{ event: 'GO', label: 'GO', targets: ['a.y'], guard: null }]);
  });
});

describe('stateValuePath', () => {
  it('is the dot path of the active leaf, comma-separated for parallel regions', () => {
    expect(stateValuePath('stopped')).toBe('stopped');
    expect(stateValuePath({ running: { ready: 'busy' } })).toBe('running.ready.busy');
    expect(stateValuePath({ a: 'x', b: { c: 'd' } })).toBe('a.x,b.c.d');
    const actor = createActor(
      createMachine({ type: 'parallel', states: { a: { initial: 'x', states: { x: {} } }, b: { initial: 'p', states: { p: {} } } } }),
    ).start();
    expect(stateValuePath(actor.getSnapshot().value)).toBe('a.x,b.p');
    actor.stop();
  });
});
